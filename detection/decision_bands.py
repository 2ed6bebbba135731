"""The answer of the decision API: allow, review or block, by the rule set's score bands."""

from __future__ import annotations

from typing import Literal

from detection.rules_config import DecisionBands

Action = Literal["allow", "review", "block"]


def action_for(score: int, bands: DecisionBands) -> Action:
    if score >= bands.block:
        return "block"
    if score >= bands.review:
        return "review"
    return "allow"

"""Load the rules file and apply FRAUDWATCH_RULE_<RULE>_<PARAM> overrides from the environment."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from detection.rules_config import RulesConfig

DEFAULT_RULES_FILE = Path(__file__).with_name("rules.toml")
ENV_PREFIX = "FRAUDWATCH_RULE_"


class RulesFileError(ValueError):
    """The rules file or an override is invalid; the message says which value and why."""


def load_rules(path: Path | None = None, environ: Mapping[str, str] | None = None) -> RulesConfig:
    path = path or DEFAULT_RULES_FILE
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RulesFileError(f"cannot read rules file {path}: {exc}") from exc
    apply_overrides(document, os.environ if environ is None else environ)
    try:
        return RulesConfig.model_validate(document)
    except ValueError as exc:
        raise RulesFileError(f"invalid rules in {path} (or FRAUDWATCH_RULE_* overrides): {exc}") from exc


def apply_overrides(document: dict[str, Any], environ: Mapping[str, str]) -> None:
    """FRAUDWATCH_RULE_HIGH_AMOUNT_THRESHOLD_EUR=5000 sets rules.high_amount.threshold_eur (as TOML value)."""
    rules: dict[str, dict[str, Any]] = document.get("rules", {})
    # Longest names first, so a rule whose name extends another's is matched whole.
    names = sorted(rules, key=len, reverse=True)
    for variable, text in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        suffix = variable[len(ENV_PREFIX) :].lower()
        rule = next((name for name in names if suffix.startswith(name + "_")), None)
        if rule is None:
            raise RulesFileError(f"{variable}: no rule named by it (rules: {', '.join(sorted(rules))})")
        rules[rule][suffix[len(rule) + 1 :]] = _toml_value(variable, text)


def _toml_value(variable: str, text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text.strip().lower() if text.strip().lower() in ('true', 'false') else text}")["v"]
    except tomllib.TOMLDecodeError:
        return text

"""How a model (champion or shadow) does on the transactions analysts and chargebacks judged.

Workers count, per model version, its alerts' confusion counts and a histogram of its
probabilities split by outcome; the dashboard sums the counters of every worker and reads
precision, recall (detection.quality) and average precision from them. Average precision from
a histogram treats each bin's scores as tied, the usual way to stream it: with 50 bins it is
within a bin's width of the exact figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from detection.metrics import Family, Outcome, quality_of
from detection.quality import Quality, ratio

SCORE_BINS = 50
#: Counter family: model.<version>.<outcome> and model.<version>.bin.<NN>.<fraud|legit>.
FAMILY = Family.MODEL
#: The "version" of decisions made by the rules alone (no champion model loaded).
RULES_ONLY = "rules"


def score_bin(probability: float) -> int:
    return min(SCORE_BINS - 1, max(0, int(probability * SCORE_BINS)))


def judged_counters(version: str, probability: float, alerted: bool, is_fraud: bool) -> list[str]:
    """The counters one judged decision adds 1 to, for the model ``version``."""
    label = "fraud" if is_fraud else "legit"
    return [
        f"{FAMILY}.{version}.{Outcome.of(alerted, is_fraud)}",
        f"{FAMILY}.{version}.bin.{score_bin(probability):02d}.{label}",
    ]


@dataclass(frozen=True, slots=True)
class ModelQuality:
    version: str
    quality: Quality
    average_precision: float
    judged: int


def binned_average_precision(frauds: Mapping[int, float], legit: Mapping[int, float]) -> float:
    """AP over score bins, highest first: sum of precision at each bin times the recall it adds."""
    total_frauds = sum(frauds.values())
    if not total_frauds:
        return 0.0
    caught = alerts = 0.0
    ap = 0.0
    for index in sorted(set(frauds) | set(legit), reverse=True):
        new_frauds = frauds.get(index, 0.0)
        caught += new_frauds
        alerts += new_frauds + legit.get(index, 0.0)
        ap += ratio(caught, alerts) * new_frauds / total_frauds
    return ap


def model_qualities(family: Mapping[str, float]) -> dict[str, ModelQuality]:
    """Per version, from the ``model.`` counter family with the prefix removed."""
    outcomes: dict[str, dict[str, float]] = {}
    bins: dict[str, tuple[dict[int, float], dict[int, float]]] = {}
    for name, value in family.items():
        if ".bin." in name:
            version, rest = name.rsplit(".bin.", 1)
            index, label = rest.split(".", 1)
            frauds, legit = bins.setdefault(version, ({}, {}))
            (frauds if label == "fraud" else legit)[int(index)] = value
        else:
            version, outcome = name.rsplit(".", 1)
            outcomes.setdefault(version, {})[outcome] = value
    result = {}
    for version in outcomes.keys() | bins.keys():
        counts = outcomes.get(version, {})
        frauds, legit = bins.get(version, ({}, {}))
        result[version] = ModelQuality(
            version=version,
            quality=quality_of(counts),
            average_precision=binned_average_precision(frauds, legit),
            judged=int(sum(counts.values())),
        )
    return result

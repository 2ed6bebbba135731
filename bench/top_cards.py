"""Which fraud cards one system's daily top 100 holds and another's does not, and what frauds they are.

Card Precision@100 (detection.ranking) ranks cards by their highest score each test day. Two systems
a few hundredths apart differ by a handful of cards a week; this says which: per test day, the fraud
cards in one system's top k and not the other's, counted by the fraud's pattern and, for a compromised
terminal, by where the terminal was in its compromise against the label delay (its frauds not known yet
when scored, first known within two days, known longer), and whether the other system had already
caught the card on an earlier day (then it is no loss: a card counts once).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt

from detection.ranking import card_precision_at_k
from producers.handbook import SCENARIO_PATTERNS, HandbookData

TERMINAL = SCENARIO_PATTERNS.index("compromised_terminal")
#: Days after a terminal's frauds start being known that count as "just known".
JUST_KNOWN_DAYS = 2


def terminal_first_fraud_day(data: HandbookData) -> dict[int, int]:
    """Each compromised terminal's first fraudulent day (the whole simulation)."""
    rows = data.scenario_number == TERMINAL
    first: dict[int, int] = {}
    for terminal, day in zip(data.terminal[rows].tolist(), data.day[rows].tolist(), strict=True):
        first.setdefault(terminal, day)
    return first


def fraud_kind(pattern: int, terminal_age_days: int, delay_days: float) -> str:
    """A fraud's pattern, and for a compromised terminal where it was in its compromise when scored."""
    name = str(SCENARIO_PATTERNS[pattern])
    if pattern != TERMINAL:
        return name
    if terminal_age_days < delay_days:
        return f"{name}: its frauds not known yet"
    if terminal_age_days < delay_days + JUST_KNOWN_DAYS:
        return f"{name}: first known within {JUST_KNOWN_DAYS} days"
    return f"{name}: known longer"


def top_card_differences(
    data: HandbookData,
    test: npt.NDArray[np.bool_],
    delay_days: float,
    scores_a: npt.NDArray[np.float64],
    scores_b: npt.NDArray[np.float64],
    k: int = 100,
) -> Counter[tuple[str, str]]:
    """(side, kind) -> fraud cards over the test days; side "a only", "b only", or "a only, b caught earlier" and
    "b only, a caught earlier" (scores are aligned with the test rows)."""
    day, card, labels = data.day[test], data.customer[test], data.is_fraud[test]
    rankings = [card_precision_at_k(day, card, scores, labels, k).ranked_per_day for scores in (scores_a, scores_b)]
    first_fraud = terminal_first_fraud_day(data)
    patterns, terminals = data.scenario_number[test], data.terminal[test]
    counts: Counter[tuple[str, str]] = Counter()
    for (today, cards_a, fraud_a), (_, cards_b, fraud_b) in zip(*rankings, strict=True):
        top = [set(cards[:k][fraud[:k]].tolist()) for cards, fraud in ((cards_a, fraud_a), (cards_b, fraud_b))]
        ranked = [set(cards_a.tolist()), set(cards_b.tolist())]
        for side, mine, other in ((0, 0, 1), (1, 1, 0)):
            for found in top[mine] - top[other]:
                rows = np.flatnonzero((day == today) & (card == found) & labels)
                row = int(rows[0])
                age = today - first_fraud.get(int(terminals[row]), today)
                label = "ab"[side] + " only" + ("" if found in ranked[other] else f", {'ab'[other]} caught earlier")
                counts[(label, fraud_kind(int(patterns[row]), age, delay_days))] += 1
    return counts


def print_differences(name_a: str, name_b: str, counts: Counter[tuple[str, str]]) -> None:
    """A table of ``top_card_differences``: a = ``name_a``, b = ``name_b``."""
    sides = sorted({side for side, _ in counts})
    kinds = sorted({kind for _, kind in counts})
    print(f"\nFraud cards in one daily top 100 and not the other (a = {name_a}, b = {name_b})\n")
    print("| fraud | " + " | ".join(sides) + " |")
    print("|---|" + "---:|" * len(sides))
    for kind in kinds:
        print(f"| {kind} | " + " | ".join(str(counts[(side, kind)]) for side in sides) + " |")

"""bench.top_cards: which fraud cards one daily top k holds and another's does not, on simulated data."""

from __future__ import annotations

import numpy as np

from bench.handbook_features import Protocol, train_test_split
from bench.top_cards import JUST_KNOWN_DAYS, fraud_kind, top_card_differences
from detection.ranking import card_precision_at_k
from producers.handbook import HandbookScenario, simulate

TINY = HandbookScenario(customers=120, terminals=240, days=40)
PROTOCOL = Protocol(train_start_day=12, train_days=7, delay_days=7, test_days=7)


def test_a_fraud_card_one_ranking_demotes_is_counted_on_its_side_once() -> None:
    data = simulate(TINY, 21)
    test = train_test_split(data, PROTOCOL).test
    day, card, labels = data.day[test], data.customer[test], data.is_fraud[test]
    perfect = labels.astype(np.float64)
    assert not top_card_differences(data, test, 7, perfect, perfect, k=5)
    # A day whose fraud cards all fit in the top 5: demoting one of them lets in a genuine card instead.
    ranked = card_precision_at_k(day, card, perfect, labels, 5).ranked_per_day
    today, cards = next((d, c) for d, c, f in ranked if 0 < f.sum() < 5 and len(c) > 5)
    demoted_card = int(cards[0])
    demoted = perfect.copy()
    demoted[(day == today) & (card == demoted_card)] = -1.0
    differences = top_card_differences(data, test, 7, perfect, demoted, k=5)
    assert sum(n for (side, _), n in differences.items() if side == "a only") == 1
    assert {side for side, _ in differences} <= {"a only", "b only, a caught earlier"}


def test_a_terminals_fraud_is_placed_against_the_label_delay() -> None:
    assert fraud_kind(3, 0, 7) == "compromised_card"
    assert fraud_kind(2, 6, 7) == "compromised_terminal: its frauds not known yet"
    assert (
        fraud_kind(2, 7 + JUST_KNOWN_DAYS - 1, 7) == f"compromised_terminal: first known within {JUST_KNOWN_DAYS} days"
    )
    assert fraud_kind(2, 7 + JUST_KNOWN_DAYS, 7) == "compromised_terminal: known longer"

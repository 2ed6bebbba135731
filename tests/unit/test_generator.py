from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from detection.models import Transaction
from detection.validation import Rejection, ValidationLimits, validate_transaction
from producers.generator import CORRUPTIONS, FRAUD_PATTERNS, TransactionGenerator, corrupt, feedback_for
from producers.world import World

START = datetime(2026, 1, 1, tzinfo=UTC)


def sample(seed: int, n: int = 3000, fraud_rate: float = 0.2) -> list[Transaction]:
    world = World(seed, customers=300, merchants=60, now=START)
    return list(itertools.islice(TransactionGenerator(world, seed, START, rate=10, fraud_rate=fraud_rate), n))


def test_same_seed_same_data_and_different_seed_different_data() -> None:
    assert sample(7, 500) == sample(7, 500)
    assert sample(7, 500) != sample(8, 500)


def test_transactions_are_in_event_time_order_with_unique_ids() -> None:
    transactions = sample(1)
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(transactions))
    assert len({t.transaction_id for t in transactions}) == len(transactions)


def test_every_fraud_pattern_is_injected_and_labelled() -> None:
    transactions = sample(3, 5000)
    patterns = {t.fraud_pattern for t in transactions if t.is_fraud}
    assert patterns == set(FRAUD_PATTERNS)
    assert all(t.fraud_pattern is None for t in transactions if not t.is_fraud)
    assert 0.05 < sum(bool(t.is_fraud) for t in transactions) / len(transactions) < 0.8


def test_reference_data_covers_customers() -> None:
    world = World(5, customers=500, merchants=50, now=START)
    ids = {c.customer_id for c in world.reference.customers}
    assert len(ids) == 500
    assert {s.customer_id for s in world.reference.credit_scores} == ids
    assert {b.customer_id for b in world.reference.blacklist} <= ids
    assert world.reference.blacklist and world.reference.fraud_reports


def test_feedback_arrives_after_the_transaction_and_matches_its_label() -> None:
    rng = random.Random(1)
    for transaction in sample(2, 2000):
        outcome = feedback_for(transaction, rng)
        if outcome is not None:
            assert outcome.known_at > transaction.timestamp
            assert outcome.is_fraud == transaction.is_fraud
            assert outcome.transaction_id == transaction.transaction_id


def test_every_corruption_is_rejected_by_the_validator() -> None:
    limits = ValidationLimits(16_384, 1e6, timedelta(minutes=5), frozenset({"EUR", "GBP", "USD", "CHF", "SEK", "PLN"}))
    transaction = sample(4, 1)[0]
    now = transaction.timestamp
    for kind in CORRUPTIONS:
        assert isinstance(validate_transaction(corrupt(transaction, kind), limits, now), Rejection), kind

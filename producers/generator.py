"""A seeded stream of synthetic transactions in event-time order, with labelled fraud patterns."""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from detection.models import Feedback, Transaction
from producers.world import CHANNELS, FAR_CITIES, CustomerProfile, Merchant, World

#: Relative frequency of each injected pattern among fraud episodes.
FRAUD_PATTERNS: dict[str, float] = {
    "card_testing": 0.2,
    "account_takeover": 0.2,
    "amount_spike": 0.2,
    "compromised_terminal": 0.15,
    "blacklisted_customer": 0.1,
    "velocity_burst": 0.15,
}


class TransactionGenerator:
    """Transactions in event-time order: legitimate episodes, and fraud episodes at ``fraud_rate``.

    ``rate`` is episodes per second of event time; a fraud episode may hold several transactions.
    """

    def __init__(self, world: World, seed: int, start: datetime, rate: float, fraud_rate: float = 0.02) -> None:
        self.world = world
        self.rng = random.Random(seed + 1)
        self.clock = start
        self.rate = rate
        self.fraud_rate = fraud_rate
        self._pending: list[tuple[datetime, int, Transaction]] = []
        self._sequence = itertools.count()
        self._tx_ids = itertools.count()
        # Blacklisted customers' accounts are blocked for normal use: their transactions are the pattern.
        self._weights = list(
            itertools.accumulate(
                0.0 if p.customer.customer_id in world.blacklisted_ids else p.tx_per_day for p in world.profiles
            )
        )
        self._blacklisted = [p for p in world.profiles if p.customer.customer_id in world.blacklisted_ids]
        self._patterns = list(FRAUD_PATTERNS)
        self._pattern_weights = list(FRAUD_PATTERNS.values())

    def __iter__(self) -> Iterator[Transaction]:
        return self

    def __next__(self) -> Transaction:
        # Schedule new episodes until the earliest pending transaction is not after the clock.
        while not self._pending or self._pending[0][0] > self.clock:
            self._schedule_episode(self.clock)
            self.clock += timedelta(seconds=self.rng.expovariate(self.rate))
        return heapq.heappop(self._pending)[2]

    # --- episodes ---------------------------------------------------------------------------
    def _schedule_episode(self, at: datetime) -> None:
        if self.rng.random() < self.fraud_rate:
            pattern = self.rng.choices(self._patterns, self._pattern_weights)[0]
            getattr(self, f"_{pattern}")(at)
        else:
            self._legitimate(at)

    def _push(self, at: datetime, transaction: Transaction) -> None:
        heapq.heappush(self._pending, (at, next(self._sequence), transaction))

    def _customer(self) -> CustomerProfile:
        return self.world.profiles[self.rng.choices(range(len(self.world.profiles)), cum_weights=self._weights)[0]]

    def _habitual_amount(self, profile: CustomerProfile) -> float:
        return round(
            max(1.0, self.rng.lognormvariate(math.log(profile.customer.typical_spend), profile.spend_sigma)), 2
        )

    def _transaction(
        self,
        at: datetime,
        profile: CustomerProfile,
        merchant: Merchant,
        amount: float,
        pattern: str | None,
        *,
        device_id: str | None = None,
        channel: str | None = None,
        place: tuple[str, str, float, float, str] | None = None,
        terminal_id: str | None = None,
    ) -> Transaction:
        if place is None and merchant.online:
            # Online: the location is the customer's device (IP geolocation), not the merchant's.
            home = profile.customer
            place = (
                home.home_country,
                home.home_city or "",
                home.home_latitude or 0.0,
                home.home_longitude or 0.0,
                profile.currency,
            )
        elif place is None:
            place = (merchant.country, merchant.city, merchant.latitude, merchant.longitude, profile.currency)
        country, city, lat, lon, currency = place
        return Transaction(
            transaction_id=f"T{next(self._tx_ids):010d}",
            timestamp=at,
            customer_id=profile.customer.customer_id,
            amount=round(amount, 2),
            currency=currency,
            merchant_id=merchant.merchant_id,
            merchant_category=merchant.category,
            terminal_id=terminal_id or self.rng.choice(merchant.terminal_ids),
            channel=channel or ("online" if merchant.online else self.rng.choice(("pos", "pos", "pos", "atm"))),
            device_id=device_id or profile.device_id,
            country=country,
            city=city,
            latitude=round(lat + self.rng.uniform(-0.01, 0.01), 5),
            longitude=round(lon + self.rng.uniform(-0.01, 0.01), 5),
            is_fraud=pattern is not None,
            fraud_pattern=pattern,
        )

    def _legitimate(self, at: datetime) -> None:
        profile = self._customer()
        merchant = self.rng.choice(profile.merchants)
        self._push(at, self._transaction(at, profile, merchant, self._habitual_amount(profile), None))

    def _card_testing(self, at: datetime) -> None:
        profile = self._customer()
        merchant = self.rng.choice(self.world.fraud_online_merchants)
        device = f"D{self.rng.getrandbits(40):010x}"
        for _ in range(self.rng.randint(4, 8)):
            self._push(
                at,
                self._transaction(
                    at,
                    profile,
                    merchant,
                    self.rng.uniform(0.5, 2.5),
                    "card_testing",
                    device_id=device,
                    channel="online",
                ),
            )
            at += timedelta(seconds=self.rng.uniform(3, 30))
        self._push(
            at,
            self._transaction(
                at, profile, merchant, self.rng.uniform(400, 2500), "card_testing", device_id=device, channel="online"
            ),
        )

    def _account_takeover(self, at: datetime) -> None:
        profile = self._customer()
        place = self.rng.choice(FAR_CITIES)
        merchant = self.rng.choice(self.world.fraud_merchants)
        device = f"D{self.rng.getrandbits(40):010x}"
        for _ in range(self.rng.randint(1, 3)):
            amount = profile.customer.typical_spend * self.rng.uniform(4, 12)
            self._push(
                at,
                self._transaction(
                    at,
                    profile,
                    merchant,
                    amount,
                    "account_takeover",
                    device_id=device,
                    channel=self.rng.choice(("online", "mobile")),
                    place=place,
                ),
            )
            at += timedelta(seconds=self.rng.uniform(30, 300))

    def _amount_spike(self, at: datetime) -> None:
        profile = self._customer()
        merchant = self.rng.choice(profile.merchants)
        amount = profile.customer.typical_spend * self.rng.uniform(10, 30)
        self._push(at, self._transaction(at, profile, merchant, amount, "amount_spike"))

    def _compromised_terminal(self, at: datetime) -> None:
        profile = self._customer()
        merchant, terminal = self.rng.choice(self.world.compromised_terminals)
        amount = profile.customer.typical_spend * self.rng.uniform(2, 6)
        self._push(at, self._transaction(at, profile, merchant, amount, "compromised_terminal", terminal_id=terminal))

    def _blacklisted_customer(self, at: datetime) -> None:
        if not self._blacklisted:
            return self._amount_spike(at)
        profile = self.rng.choice(self._blacklisted)
        merchant = self.rng.choice(profile.merchants)
        self._push(at, self._transaction(at, profile, merchant, self._habitual_amount(profile), "blacklisted_customer"))
        return None

    def _velocity_burst(self, at: datetime) -> None:
        profile = self._customer()
        for _ in range(self.rng.randint(6, 12)):
            merchant = self.rng.choice(self.world.fraud_merchants)
            amount = self._habitual_amount(profile) * self.rng.uniform(1, 3)
            self._push(
                at,
                self._transaction(at, profile, merchant, amount, "velocity_burst", channel=self.rng.choice(CHANNELS)),
            )
            at += timedelta(seconds=self.rng.uniform(2, 20))


def feedback_for(transaction: Transaction, rng: random.Random, confirm_share: float = 0.7) -> Feedback | None:
    """The outcome an analyst or a chargeback later reports for a labelled transaction, if any."""
    if transaction.is_fraud and rng.random() < confirm_share:
        delay = timedelta(minutes=rng.uniform(5, 180))
        source = "chargeback" if rng.random() < 0.5 else "analyst"
    elif not transaction.is_fraud and rng.random() < 0.001:
        delay, source = timedelta(minutes=rng.uniform(5, 60)), "customer"
    else:
        return None
    return Feedback(
        transaction_id=transaction.transaction_id,
        is_fraud=bool(transaction.is_fraud),
        known_at=transaction.timestamp + delay,
        source=source,
        customer_id=transaction.customer_id,
        merchant_id=transaction.merchant_id,
        terminal_id=transaction.terminal_id,
    )


#: Ways a record can be broken, for data-quality monitoring (the validator must dead-letter each).
CORRUPTIONS = ("not_json", "missing_field", "negative_amount", "unknown_currency", "future_timestamp", "bad_type")


def corrupt(transaction: Transaction, kind: str) -> bytes:
    """A deliberately invalid raw message derived from a valid transaction."""
    record = json.loads(transaction.model_dump_json(exclude_none=True))
    if kind == "not_json":
        return b"{" + transaction.transaction_id.encode() + b" this is not json"
    if kind == "missing_field":
        del record["customer_id"]
    elif kind == "negative_amount":
        record["amount"] = -abs(record["amount"])
    elif kind == "unknown_currency":
        record["currency"] = "XYZ"
    elif kind == "future_timestamp":
        record["timestamp"] = (transaction.timestamp + timedelta(days=2)).isoformat()
    elif kind == "bad_type":
        record["amount"] = "a lot"
    return json.dumps(record).encode()

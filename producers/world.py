"""A synthetic world of customers, merchants and reference data, made with Faker from a seed.

Legitimate behaviour is per customer (home city, habitual merchants, device, typical spend);
fraud is injected as labelled patterns. Labels travel in ``is_fraud`` / ``fraud_pattern`` only.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta

from faker import Faker

from detection.models import BlacklistEntry, Contract, CreditScore, Customer, FraudReport

#: (country, city, latitude, longitude, currency): where customers live and shop.
CITIES: tuple[tuple[str, str, float, float, str], ...] = (
    ("DE", "Berlin", 52.52, 13.405, "EUR"),
    ("DE", "Munich", 48.137, 11.575, "EUR"),
    ("FR", "Paris", 48.857, 2.352, "EUR"),
    ("FR", "Lyon", 45.764, 4.836, "EUR"),
    ("ES", "Madrid", 40.417, -3.704, "EUR"),
    ("IT", "Milan", 45.464, 9.19, "EUR"),
    ("NL", "Amsterdam", 52.368, 4.904, "EUR"),
    ("GB", "London", 51.507, -0.128, "GBP"),
    ("GB", "Manchester", 53.481, -2.243, "GBP"),
    ("US", "New York", 40.713, -74.006, "USD"),
    ("US", "Chicago", 41.878, -87.63, "USD"),
    ("CH", "Zurich", 47.377, 8.541, "CHF"),
    ("SE", "Stockholm", 59.329, 18.069, "SEK"),
    ("PL", "Warsaw", 52.23, 21.012, "PLN"),
)
#: Far-away places used by account takeovers.
FAR_CITIES: tuple[tuple[str, str, float, float, str], ...] = (
    ("BR", "Sao Paulo", -23.55, -46.633, "BRL"),
    ("IN", "Mumbai", 19.076, 72.878, "INR"),
    ("SG", "Singapore", 1.352, 103.82, "SGD"),
    ("AU", "Sydney", -33.869, 151.209, "AUD"),
    ("NG", "Lagos", 6.524, 3.379, "USD"),
)
CATEGORIES = ("grocery", "restaurant", "fuel", "retail", "travel", "electronics", "pharmacy", "entertainment")
CHANNELS = ("pos", "online", "mobile", "atm")


@dataclass(frozen=True, slots=True)
class Merchant:
    merchant_id: str
    category: str
    country: str
    city: str
    latitude: float
    longitude: float
    terminal_ids: tuple[str, ...]
    online: bool


@dataclass(slots=True)
class CustomerProfile:
    customer: Customer
    currency: str
    merchants: list[Merchant] = field(default_factory=list)
    device_id: str = ""
    tx_per_day: float = 3.0
    spend_sigma: float = 0.5


@dataclass(frozen=True, slots=True)
class ReferenceData:
    """Synthetic records of each reference source; each field is named as its source (detection.sources)."""

    customers: list[Customer]
    blacklist: list[BlacklistEntry]
    credit_scores: list[CreditScore]
    fraud_reports: list[FraudReport]

    def by_source(self) -> dict[str, list[Contract]]:
        """Source name -> records, as detection.sources.ReferenceRecords."""
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}


class World:
    """Customers, merchants and reference data; deterministic for a given seed."""

    def __init__(self, seed: int, customers: int, merchants: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        # Uniform picks: Faker's frequency-weighted names cost ~1.4 ms a customer, 14 s of every
        # generator start for the default 10 000 (names only need to look real, not follow census weights).
        self.faker = Faker(use_weighting=False)
        self.faker.seed_instance(seed)
        self.now = now
        self.merchants = [self._merchant(i) for i in range(merchants)]
        self.online_merchants = [m for m in self.merchants if m.online]
        self.merchants_by_city: dict[str, list[Merchant]] = {}
        for merchant in self.merchants:
            self.merchants_by_city.setdefault(merchant.city, []).append(merchant)
        self.profiles = [self._profile(i) for i in range(customers)]
        self.compromised_terminals = self._pick_compromised_terminals()
        # Fraudsters cash out at a few merchants (electronics, travel, gift cards): 5% of them.
        self.fraud_merchants = self.rng.sample(self.merchants, max(2, len(self.merchants) // 20))
        self.fraud_online_merchants = [m for m in self.fraud_merchants if m.online] or self.online_merchants[:2]
        self.reference = self._reference_data()
        self.blacklisted_ids = {entry.customer_id for entry in self.reference.blacklist}

    def daily_rate(self) -> float:
        """Episodes per second of event time when every customer keeps their own daily habit."""
        return sum(p.tx_per_day for p in self.profiles) / 86_400

    def _merchant(self, index: int) -> Merchant:
        country, city, lat, lon, _ = self.rng.choice(CITIES)
        online = self.rng.random() < 0.25
        merchant_id = f"M{index:05d}"
        terminals = tuple(f"{merchant_id}-T{t}" for t in range(1 if online else self.rng.randint(1, 4)))
        return Merchant(
            merchant_id,
            self.rng.choice(CATEGORIES),
            country,
            city,
            lat + self.rng.uniform(-0.05, 0.05),
            lon + self.rng.uniform(-0.05, 0.05),
            terminals,
            online,
        )

    def _profile(self, index: int) -> CustomerProfile:
        country, city, lat, lon, currency = self.rng.choice(CITIES)
        opened = self.now.date() - timedelta(days=self.rng.randint(5, 3650))
        customer = Customer(
            customer_id=f"C{index:06d}",
            name=self.faker.name(),
            email=self.faker.email(),
            account_number=self.faker.iban(),
            home_country=country,
            home_city=city,
            home_latitude=lat,
            home_longitude=lon,
            account_opened=opened if isinstance(opened, date) else opened.date(),
            typical_spend=round(math.exp(self.rng.gauss(3.5, 0.7)), 2),
        )
        local = self.merchants_by_city.get(city) or self.merchants
        habitual = self.rng.sample(local, min(len(local), self.rng.randint(3, 8)))
        habitual += self.rng.sample(self.online_merchants, min(len(self.online_merchants), 2))
        return CustomerProfile(
            customer,
            currency,
            habitual,
            device_id=f"D{self.rng.getrandbits(40):010x}",
            tx_per_day=self.rng.uniform(1, 8),
            spend_sigma=self.rng.uniform(0.3, 0.7),
        )

    def _pick_compromised_terminals(self) -> list[tuple[Merchant, str]]:
        physical = [m for m in self.merchants if not m.online]
        chosen = self.rng.sample(physical, max(1, len(physical) // 50))
        return [(m, m.terminal_ids[0]) for m in chosen]

    def _reference_data(self) -> ReferenceData:
        customers = [p.customer for p in self.profiles]
        blacklist = [
            BlacklistEntry(
                customer_id=c.customer_id,
                reason=self.rng.choice(["mule account", "identity fraud", "chargeback abuse"]),
                listed_at=self.now - timedelta(days=self.rng.randint(1, 400)),
            )
            for c in customers
            if self.rng.random() < 0.01
        ]
        credit_scores = [
            CreditScore(
                customer_id=c.customer_id,
                score=int(min(850, max(300, self.rng.gauss(680, 80)))),
                as_of=self.now - timedelta(days=self.rng.randint(0, 60)),
                bureau="SyntheticBureau",
            )
            for c in customers
        ]
        fraud_reports = [
            FraudReport(
                report_id=f"R{i:06d}",
                customer_id=c.customer_id,
                reported_at=self.now - timedelta(days=self.rng.randint(0, 120)),
                category=self.rng.choice(["phishing victim", "card skimmed", "suspicious activity"]),
                source="consortium",
            )
            for i, c in enumerate(customers)
            if self.rng.random() < 0.02
        ]
        return ReferenceData(customers, blacklist, credit_scores, fraud_reports)

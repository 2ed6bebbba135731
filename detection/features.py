"""Features of one transaction in the light of its customer's state and reference data.

``Features.vector()`` is the numeric form a model scores, aligned with ``FEATURE_NAMES``; the
decision carries it as scored, so training later sees exactly what the model saw (no leakage).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

from detection.activity import NO_FRAUD_HOURS, EntityActivity, risk_feature_names
from detection.geo import haversine_km
from detection.label_delay import prior_hours
from detection.models import Transaction
from detection.reference import NO_REPORTS, CustomerReference, MerchantRisk
from detection.rules_config import RulesConfig
from detection.state import CustomerState

MINUTE_S, HOUR_S, DAY_S = 60.0, 3600.0, 86_400.0
#: Speeds above this are all equally impossible; capping keeps one GPS glitch from dominating a model.
MAX_TRAVEL_KMH = 5000.0
#: Terminal/merchant risk values when the entity is unknown or has no activity yet.
NO_ACTIVITY = (0.0,) * 6 + (NO_FRAUD_HOURS, NO_FRAUD_HOURS)
#: Epoch day 0 (1970-01-01) was a Thursday: (day + 3) % 7 is 0 on Mondays.
WEEKDAY_OFFSET = 3

#: The model's inputs, in the order of ``Features.vector()``.
FEATURE_NAMES: tuple[str, ...] = (
    "amount_eur",
    "log_amount_ratio_30d",
    "amount_z",
    "typical_spend_ratio",
    "count_1m",
    "count_1h",
    "count_24h",
    "count_7d",
    "count_30d",
    "mean_amount_24h",
    "mean_amount_7d",
    "mean_amount_30d",
    "small_before",
    "history",
    "hour_of_day",
    "weekend",
    "night",
    "new_country",
    "distance_from_home_km",
    "travel_kmh",
    "new_device",
    "blacklisted",
    "credit_score",
    "customer_frauds",
    "merchant_frauds",
    "terminal_frauds",
    *risk_feature_names("terminal"),
    *risk_feature_names("merchant"),
    "anomaly",
    "rules_score",
    # After the rules' columns only so that session 12's offline stand-in (which appended it) and this
    # code fit the same matrices.
    "customer_hours_since_newest_fraud",
)
#: What the values under those names mean. Bumped whenever a feature is computed differently under the
#: same name, so training never mixes rows of two meanings and a model is scored only with the meaning it
#: was fitted on (detection.model.load_model refuses another). 1: terminal/merchant windows ended at a UTC
#: midnight, the delay rounded up to whole days (sessions 3-5); 2: they end at the hour, the learned delay
#: in whole hours before it (session 6); 3: adds the terminal's and merchant's fraud ages (session 7). A new
#: name alone needs no new version: a model finds its inputs by name, so a champion fitted before
#: ``customer_hours_since_newest_fraud`` (session 12) still scores after the upgrade, and training keeps
#: vectors of another list of names apart by the feature set's id (``feature_set_id``).
FEATURE_VERSION = 3


def feature_set_id(names: Sequence[str], version: int = FEATURE_VERSION) -> str:
    """The feature version and a short fingerprint of the names, in order: vectors of two ids are not comparable."""
    return f"v{version}-" + hashlib.sha256(",".join(names).encode()).hexdigest()[:12]


#: The feature set this code scores, recorded with every decision (``DecisionRecord.feature_set``).
FEATURE_SET = feature_set_id(FEATURE_NAMES)


@dataclass(slots=True)
class Features:
    ts: float
    amount_eur: float
    count_1m: int  # including this transaction
    count_1h: int
    count_24h: int
    amount_24h_eur: float
    small_before: int  # small amounts in the card-testing window before this one
    history: int  # transactions seen before this one
    amount_z: float  # log-amount z-score against the customer's own habit (0 without history)
    typical_spend_ratio: float | None  # amount / profile's typical spend
    new_country: bool
    country: str | None
    distance_from_home_km: float | None
    travel_km: float | None  # from the previous located transaction
    travel_kmh: float | None
    new_device: bool
    blacklisted: bool
    credit_score: int | None
    recent_reports: int
    merchant_frauds: int
    terminal_frauds: int
    duplicate: bool  # this transaction id is already in the state (a replay)
    count_7d: int = 1  # this UTC day and the 6 before, including this transaction
    count_30d: int = 1
    amount_7d_eur: float = 0.0
    amount_30d_eur: float = 0.0
    hour_of_day: float = 0.0  # UTC, fractional
    weekend: bool = False
    # [tx count, fraud share] per window, ending at the delay; hours since the newest and the oldest fraud kept
    terminal_risk: tuple[float, ...] = NO_ACTIVITY
    merchant_risk: tuple[float, ...] = NO_ACTIVITY
    label_delay_hours: int = 0  # where those windows ended (the delay learned by then); logged, not scored
    # hours since the newest of the reports ``recent_reports`` counts; with none, the lookback's hours
    # (extract_features sets it; this default only serves Features built by hand, as in tests)
    hours_since_newest_report: float = 90 * 24.0
    # Filled by the detector after the rules ran, before a model scores the vector.
    anomaly: float = 0.0
    rules_score: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """Every field by name, as logged with a decision; shallow (the fields are scalars and tuples of
        floats): 4.6 µs against 91 µs for ``dataclasses.asdict``'s deep copy, which took 3.5 % of a
        loaded worker's time in the audit record of every decision."""
        return {name: getattr(self, name) for name in FEATURE_FIELDS}

    def vector(self) -> list[float]:
        """The numeric features as a model sees them, aligned with ``FEATURE_NAMES``."""
        amount = self.amount_eur
        previous_30d = self.amount_30d_eur - amount
        previous_count = self.count_30d - 1
        ratio = math.log(amount * previous_count / previous_30d) if previous_count and previous_30d > 0 else 0.0
        hour = self.hour_of_day
        return [
            amount,
            ratio,
            self.amount_z,
            self.typical_spend_ratio or 0.0,
            float(self.count_1m),
            float(self.count_1h),
            float(self.count_24h),
            float(self.count_7d),
            float(self.count_30d),
            self.amount_24h_eur / self.count_24h,
            self.amount_7d_eur / max(self.count_7d, 1),
            self.amount_30d_eur / max(self.count_30d, 1),
            float(self.small_before),
            float(self.history),
            hour,
            float(self.weekend),
            float(hour < 6.0),
            float(self.new_country),
            -1.0 if self.distance_from_home_km is None else self.distance_from_home_km,
            0.0 if self.travel_kmh is None else min(self.travel_kmh, MAX_TRAVEL_KMH),
            float(self.new_device),
            float(self.blacklisted),
            float(self.credit_score or 0),
            float(self.recent_reports),
            float(self.merchant_frauds),
            float(self.terminal_frauds),
            *self.terminal_risk,
            *self.merchant_risk,
            self.anomaly,
            self.rules_score,
            self.hours_since_newest_report,
        ]


#: Field names of Features in declaration order (Features.as_dict).
FEATURE_FIELDS: tuple[str, ...] = tuple(field.name for field in fields(Features))


class FeatureParams(NamedTuple):
    """The rules-file values features depend on, looked up once instead of per transaction."""

    fx_to_eur: dict[str, float]
    small_amount_eur: float
    card_window_s: float
    min_sigma: float
    report_lookback_days: int
    merchant_lookback_days: int
    label_delay_hours: int

    @classmethod
    def of(cls, config: RulesConfig) -> FeatureParams:
        rules = config.rules
        return cls(
            config.fx_to_eur,
            rules.card_testing.small_amount_eur,
            rules.card_testing.window_minutes * MINUTE_S,
            config.anomaly.min_sigma,
            rules.high_risk_customer.report_lookback_days,
            rules.risky_merchant.lookback_days,
            prior_hours(config.learning),
        )


def amount_in_eur(transaction: Transaction, fx_to_eur: dict[str, float]) -> float:
    return transaction.amount * fx_to_eur.get(transaction.currency, 1.0)


def extract_features(
    transaction: Transaction,
    state: CustomerState,
    reference: CustomerReference | None,
    merchant: MerchantRisk | None,
    terminal: MerchantRisk | None,
    params: FeatureParams,
    terminal_activity: EntityActivity | None = None,
    merchant_activity: EntityActivity | None = None,
    label_delay_hours: int | None = None,
) -> Features:
    """``label_delay_hours``: where terminal/merchant windows end now (hours before this one, learned from
    feedback); None: the rules file's prior."""
    ts = transaction.timestamp.timestamp()
    amount = amount_in_eur(transaction, params.fx_to_eur)
    small_amount = params.small_amount_eur
    small_since = ts - params.card_window_s
    transaction_id = transaction.transaction_id
    count_1m = count_1h = count_24h = 1
    amount_24h = amount
    small_before = 0
    duplicate = False
    previous_located: tuple[float, float, float] | None = None  # (time, latitude, longitude)
    # One backwards pass over the recent list (event-time ordered) gives every window; each Seen unpacked
    # once (its fields by name cost a lookup each, on every transaction of the customer's day).
    for item_ts, item_id, item_amount, _, _, _, item_lat, item_lon, _ in reversed(state.recent):
        if item_id == transaction_id:
            duplicate = True
            continue
        age = ts - item_ts
        if age < 0:  # a later transaction already seen (out-of-order arrival)
            continue
        if age > DAY_S:
            break
        count_24h += 1
        amount_24h += item_amount
        if age <= HOUR_S:
            count_1h += 1
            if age <= MINUTE_S:
                count_1m += 1
        if item_ts >= small_since and item_amount < small_amount:
            small_before += 1
        if previous_located is None and item_lat is not None and item_lon is not None:
            previous_located = (item_ts, item_lat, item_lon)

    history = state.transactions_seen - (1 if duplicate else 0)
    sigma = max(state.log_amount_sigma, params.min_sigma)
    amount_z = (math.log(max(amount, 0.01)) - state.log_amount_mean) / sigma if history > 0 else 0.0

    profile = reference.profile if reference else None
    distance_from_home = travel_km = travel_kmh = None
    lat, lon = transaction.latitude, transaction.longitude
    if lat is not None and lon is not None:
        if profile and profile.home_latitude is not None and profile.home_longitude is not None:
            distance_from_home = haversine_km(profile.home_latitude, profile.home_longitude, lat, lon)
        if previous_located is not None:
            previous_ts, previous_lat, previous_lon = previous_located
            travel_km = haversine_km(previous_lat, previous_lon, lat, lon)
            hours = max(ts - previous_ts, 1.0) / HOUR_S  # a second's floor: same-instant pairs stay finite
            travel_kmh = travel_km / hours

    day = int(ts // DAY_S)
    count_7d = count_30d = 1
    amount_7d = amount_30d = amount
    for bucket_day, bucket_count, bucket_amount in reversed(state.daily):  # days before today's are whole
        age_days = day - bucket_day
        if age_days >= 30:
            break
        if age_days < 0:
            continue
        count_30d += int(bucket_count)
        amount_30d += bucket_amount
        if age_days < 7:
            count_7d += int(bucket_count)
            amount_7d += bucket_amount
    if duplicate:  # a replay is already in its day's bucket
        count_7d, count_30d = count_7d - 1, count_30d - 1
        amount_7d, amount_30d = amount_7d - amount, amount_30d - amount

    delay = params.label_delay_hours if label_delay_hours is None else label_delay_hours
    lookback = params.report_lookback_days
    reports = reference.reports_within(ts, lookback) if reference else NO_REPORTS
    newest_report = reports.hours_since_newest
    country = transaction.country
    home_country = profile.home_country if profile else None
    return Features(
        ts=ts,
        amount_eur=amount,
        count_1m=count_1m,
        count_1h=count_1h,
        count_24h=count_24h,
        amount_24h_eur=amount_24h,
        small_before=small_before,
        history=history,
        amount_z=amount_z,
        typical_spend_ratio=amount / profile.typical_spend if profile else None,
        new_country=country is not None and country != home_country and country not in state.countries,
        country=country,
        distance_from_home_km=distance_from_home,
        travel_km=travel_km,
        travel_kmh=travel_kmh,
        new_device=transaction.device_id is not None
        and bool(state.devices)
        and transaction.device_id not in state.devices,
        blacklisted=reference.is_blacklisted(ts) if reference else False,
        credit_score=reference.credit_score.score if reference and reference.credit_score else None,
        recent_reports=reports.number,
        merchant_frauds=merchant.frauds_within(ts, params.merchant_lookback_days) if merchant else 0,
        terminal_frauds=terminal.frauds_within(ts, params.merchant_lookback_days) if terminal else 0,
        duplicate=duplicate,
        count_7d=count_7d,
        count_30d=count_30d,
        amount_7d_eur=amount_7d,
        amount_30d_eur=amount_30d,
        hour_of_day=(ts % DAY_S) / HOUR_S,
        weekend=(day + WEEKDAY_OFFSET) % 7 >= 5,
        terminal_risk=tuple(terminal_activity.risk_features(ts, delay)) if terminal_activity else NO_ACTIVITY,
        merchant_risk=tuple(merchant_activity.risk_features(ts, delay)) if merchant_activity else NO_ACTIVITY,
        label_delay_hours=delay,
        hours_since_newest_report=lookback * DAY_S / HOUR_S if newest_report is None else newest_report,
    )

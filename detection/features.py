"""Features of one transaction in the light of its customer's state and reference data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from detection.geo import haversine_km
from detection.models import Transaction
from detection.reference import CustomerReference, MerchantRisk
from detection.rules_config import RulesConfig
from detection.state import CustomerState

MINUTE_S, HOUR_S, DAY_S = 60.0, 3600.0, 86_400.0


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


class FeatureParams(NamedTuple):
    """The rules-file values features depend on, looked up once instead of per transaction."""

    fx_to_eur: dict[str, float]
    small_amount_eur: float
    card_window_s: float
    min_sigma: float
    report_lookback_days: int
    merchant_lookback_days: int

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
) -> Features:
    ts = transaction.timestamp.timestamp()
    amount = amount_in_eur(transaction, params.fx_to_eur)
    small_amount = params.small_amount_eur
    small_since = ts - params.card_window_s
    transaction_id = transaction.transaction_id
    count_1m = count_1h = count_24h = 1
    amount_24h = amount
    small_before = 0
    duplicate = False
    previous_located = None
    # One backwards pass over the recent list (event-time ordered) gives every window.
    for item in reversed(state.recent):
        if item.transaction_id == transaction_id:
            duplicate = True
            continue
        age = ts - item.ts
        if age < 0:  # a later transaction already seen (out-of-order arrival)
            continue
        if age > DAY_S:
            break
        count_24h += 1
        amount_24h += item.amount_eur
        if age <= HOUR_S:
            count_1h += 1
            if age <= MINUTE_S:
                count_1m += 1
        if item.ts >= small_since and item.amount_eur < small_amount:
            small_before += 1
        if previous_located is None and item.latitude is not None and item.longitude is not None:
            previous_located = item

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
            previous_lat, previous_lon = previous_located.latitude, previous_located.longitude
            assert previous_lat is not None and previous_lon is not None  # chosen for having both
            travel_km = haversine_km(previous_lat, previous_lon, lat, lon)
            hours = max(ts - previous_located.ts, 1.0) / HOUR_S  # a second's floor: same-instant pairs stay finite
            travel_kmh = travel_km / hours

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
        recent_reports=reference.reports_within(ts, params.report_lookback_days) if reference else 0,
        merchant_frauds=merchant.frauds_within(ts, params.merchant_lookback_days) if merchant else 0,
        terminal_frauds=terminal.frauds_within(ts, params.merchant_lookback_days) if terminal else 0,
        duplicate=duplicate,
    )

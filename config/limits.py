"""The validator's business limits, built from settings in one place for the live agent and the backtest."""

from __future__ import annotations

from datetime import timedelta

from config.settings import Settings
from detection.models import ValidationLimits


def validation_limits(settings: Settings, *, replay: bool = False) -> ValidationLimits:
    """The limits of ``agents/validate.py``. ``replay`` (the backtest) drops the wall-clock age limit:
    a backtest replays history, where a year-old transaction is the point, not a broken clock."""
    return ValidationLimits(
        max_message_bytes=settings.max_message_bytes,
        max_amount=settings.max_amount,
        max_future_skew=timedelta(seconds=settings.max_future_skew_s),
        currencies=frozenset(settings.currencies),
        max_past_age=timedelta.max if replay else timedelta(seconds=settings.max_past_age_s),
    )

"""Scheduled retraining on the leader: every ``FRAUDWATCH_RETRAIN_INTERVAL_S`` (default daily; 0 = off).

The new model is published and put in shadow beside the champion: it is scored on live traffic
and judged by feedback, never alerting, until someone promotes it (`fraudwatch models promote`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from agents.app import app, broker_url
from agents.metrics import worker_metrics
from agents.model_store import TrainingRequest, default_version, publish_trained, train_from_topics
from config import get_settings
from detection.training import NotEnoughLabelsError, TrainingParams

logger = logging.getLogger(__name__)
settings = get_settings()
SCHEDULER = "scheduler"


async def retrain_shadow() -> str | None:
    """Train on the decisions log up to now and publish the model in shadow; its version, or None."""
    now = datetime.now(UTC)
    request = TrainingRequest(now, settings.retrain_window_days, default_version(now), TrainingParams())
    url = broker_url(settings)
    try:
        artifact = await train_from_topics(settings, url, request)
    except NotEnoughLabelsError as exc:
        worker_metrics.incr("models.retrain_skipped")
        logger.info("scheduled retraining skipped: %s", exc)
        return None
    await publish_trained(settings, url, artifact, "shadow", SCHEDULER, "scheduled retraining")
    worker_metrics.incr("models.retrained")
    logger.info("scheduled retraining published %s in shadow (%s)", artifact.version, artifact.metrics)
    return artifact.version


if settings.retrain_interval_s > 0:

    @app.timer(interval=settings.retrain_interval_s, on_leader=True)
    async def scheduled_retraining() -> None:
        try:
            await retrain_shadow()
        except Exception:  # a failed run must not stop the timer: the next one tries again
            worker_metrics.incr("models.retrain_failed")
            logger.exception("scheduled retraining failed")

"""Scheduled retraining on the leader: every ``FRAUDWATCH_RETRAIN_INTERVAL_S`` (default daily; 0 = off).

The leader runs ``fraudwatch train`` as a child process, so fitting never holds this worker's
event loop (measured: training inside the worker stalled its consumers for a minute on a busy
machine). The new model is published and put in shadow beside the champion: scored on live
traffic and judged by feedback, never alerting, until someone promotes it
(`fraudwatch models promote`).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from agents.app import app
from agents.metrics import worker_metrics
from config import get_settings
from detection.metrics import Family, ModelCount, counter

logger = logging.getLogger(__name__)
settings = get_settings()
SCHEDULER = "scheduler"
#: `fraudwatch train` exits with this when too few labels are known yet (not a failure).
NOT_ENOUGH_LABELS_EXIT = 3


async def retrain_shadow() -> bool:
    """Train on the decisions log up to now in a child process and publish in shadow; True if published."""
    command = [sys.executable, "-m", "runtime.cli", "train", "--shadow", "--actor", SCHEDULER]
    command += ["--days", str(settings.retrain_window_days), "--reason", "scheduled retraining"]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    if process.returncode == 0:
        worker_metrics.incr(counter(Family.MODELS, ModelCount.RETRAINED))
        logger.info("scheduled retraining: %s", out.decode(errors="replace").strip().splitlines()[-1:])
        return True
    if process.returncode == NOT_ENOUGH_LABELS_EXIT:
        worker_metrics.incr(counter(Family.MODELS, ModelCount.RETRAIN_SKIPPED))
        logger.info("scheduled retraining skipped: %s", err.decode(errors="replace").strip()[-300:])
        return False
    worker_metrics.incr(counter(Family.MODELS, ModelCount.RETRAIN_FAILED))
    logger.error("scheduled retraining failed (exit %s): %s", process.returncode, err.decode(errors="replace")[-2000:])
    return False


if settings.retrain_interval_s > 0:

    @app.timer(interval=settings.retrain_interval_s, on_leader=True)
    async def scheduled_retraining() -> None:
        await retrain_shadow()

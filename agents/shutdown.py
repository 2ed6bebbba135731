"""The worker's shutdown grace period: after it, the process exits whatever is still running.

Faust's stop waits for whatever it waits for (streams to drain, alerts held for a digest to be
acknowledged: observed > 90 s). An orchestrator kills a worker that overstays its stop grace
anyway; exiting on our own terms first logs why. Nothing is lost either way: an offset is committed
only after its record's effects are flushed, so what did not finish is processed again on restart.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

logger = logging.getLogger(__name__)

#: Exit status when the grace period ran out (a stop that did not finish cleanly).
EXIT_GRACE_EXCEEDED = 3


def start_shutdown_watchdog(grace_s: float) -> threading.Timer:
    """Exit the process ``grace_s`` seconds from now unless it has exited by then (a daemon timer)."""
    timer = threading.Timer(grace_s, _exit_now, args=(grace_s,))
    timer.daemon = True
    timer.start()
    return timer


def _exit_now(grace_s: float) -> None:
    logger.critical(
        "stopping took longer than FRAUDWATCH_SHUTDOWN_GRACE_S=%s s: exiting now; records not finished "
        "were not committed and are processed again on restart",
        grace_s,
    )
    sys.stderr.flush()
    os._exit(EXIT_GRACE_EXCEEDED)

"""The ceiling: a Faust app with one agent that only counts, on the worker's own broker settings.

Started by bench/worker_throughput.py as ``python -m bench.worker_empty_agent worker -l warn``
with BENCH_TOPIC, BENCH_EXPECTED (records to wait for) and BENCH_RESULT (a JSON file it writes:
the wall-clock times of the first record and of the end of each slice of the records taken, and the
process's CPU seconds between the first record and the last).
Same transport, fetch wait, prefetch backoff and logging fix as ``fraudwatch worker``, so the
comparison is with the best Faust does here, not with Faust's defaults.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import faust

from agents.app import FraudwatchApp, broker_options, tune_consumer
from bench.common import slice_marks
from config import get_settings

settings = get_settings()
TOPIC = os.environ.get("BENCH_TOPIC", settings.topic_raw_transactions)
EXPECTED = int(os.environ.get("BENCH_EXPECTED", "10000"))
RESULT = Path(os.environ.get("BENCH_RESULT", "empty-agent.json"))

app = FraudwatchApp(
    f"{settings.app_id}-bench-empty-agent",
    store="memory://",
    datadir=str(settings.data_dir / "empty-agent"),
    web_enabled=False,
    # `faust worker` binds its web server even with web_enabled=False: on the port of this run (the
    # bench's scratch settings), not Faust's 6066, where another run's empty agent may sit and this one
    # would wait forever after failing to bind.
    web_port=settings.web_port,
    web_bind=settings.web_host,
    **broker_options(settings),
)
tune_consumer(app, settings)
source = app.topic(TOPIC, key_type=bytes, value_type=bytes)


@app.agent(source)
async def count(stream: faust.StreamT[bytes]) -> None:
    marks = set(slice_marks(EXPECTED))
    taken = 0
    times: list[float] = []
    cpu_at_first = 0.0
    async for _value in stream:
        if taken == 0:
            times.append(time.time())
            cpu_at_first = time.process_time()
        taken += 1
        if taken in marks:
            times.append(time.time())
            if taken == EXPECTED:
                _write_result(taken, times, time.process_time() - cpu_at_first)


def _write_result(taken: int, times: list[float], cpu_s: float) -> None:
    """Once, at the end (blocking is fine). ``cpu_s``: this process's CPU seconds (every thread) over the records."""
    RESULT.write_text(json.dumps({"taken": taken, "times": times, "cpu_s": cpu_s}))


if __name__ == "__main__":
    app.main()

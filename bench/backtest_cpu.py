"""One learning backtest over existing files, with the CPU time its shards used per transaction.

    .venv/bin/python -m bench.backtest_cpu DATA_DIR [--workers N] [--decisions OUT.jsonl] [--rules-only]

``DATA_DIR`` holds ``transactions.jsonl``, ``feedback.jsonl`` and any reference files by source name
(``fraudwatch generate --output-dir``, own generator or a Handbook profile). Prints one JSON line:
tx/s and seconds (wall), the shards' CPU µs per transaction (one worker: the main thread's, which
runs the shard and the learner, not the fit threads; N workers: the shard processes'), the whole
run's CPU seconds, F1, alerts, and the load average. On a shared machine wall time swings with the
load; the CPU figure is the steadier one. For an A/B, run it from each checkout
(``cd CHECKOUT && python -m bench.backtest_cpu ...``), alternating, and compare ``--decisions`` files
byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from detection.sources import REFERENCE_SOURCES
from runtime.backtest import run_backtest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--decisions", type=Path, default=None)
    parser.add_argument("--rules-only", action="store_true")
    args = parser.parse_args()
    data: Path = args.data
    reference = {
        source.name: data / f"{source.name}.jsonl"
        for source in REFERENCE_SOURCES
        if (data / f"{source.name}.jsonl").exists()
    }
    thread_started = time.thread_time()
    report = run_backtest(
        data / "transactions.jsonl",
        feedback=data / "feedback.jsonl",
        reference=reference,
        workers=args.workers,
        show_progress=False,
        learn=not args.rules_only,
        decisions=args.decisions,
    )
    main_thread = time.thread_time() - thread_started
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    shards = main_thread if args.workers == 1 else children.ru_utime + children.ru_stime
    transactions = int(report["transactions"])
    print(
        json.dumps(
            {
                "checkout": Path.cwd().name,
                "workers": args.workers,
                "tx_s": report["throughput_tx_per_s"],
                "seconds": report["seconds"],
                "shard_cpu_us_per_tx": round(1e6 * shards / transactions, 1),
                "run_cpu_s": round(own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime, 2),
                "fit_seconds_summed": report.get("retrain_seconds"),
                "f1": report.get("f1"),
                "alerts": report.get("alerts"),
                "load": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()

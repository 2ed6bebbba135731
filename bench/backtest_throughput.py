"""Backtest throughput and quality on the generator's labelled output.

    .venv/bin/python -m bench.backtest_throughput [--count 200000] [--customers 5000] [--no-stages]

Prints transactions/s for 1 and N worker processes (parse + detect + evaluate) and the
headline quality figures; the full report is written to bench/out/backtest-report.json. The
one-worker learning run is sampled (bench.backtest_stages): where its wall time went, by stage and
thread (the daily fits run in a thread beside the shard), and each fit's seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.backtest_stages import StageSampler
from detection.sources import REFERENCE_SOURCES
from producers.generate import write_files
from runtime.backtest import run_backtest, write_report

OUT = Path(__file__).with_name("out")


def write_generated(data: Path, count: int, customers: int, merchants: int) -> dict[str, Path]:
    """The generator's labelled files (seed 42, 1 % fraud) in ``data``; the reference files by source."""
    write_files(
        data,
        count=count,
        rate=None,
        seed=42,
        customers=customers,
        merchants=merchants,
        fraud_rate=0.01,
        start=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return {source.name: data / f"{source.name}.jsonl" for source in REFERENCE_SOURCES}


def backtest_generated(data: Path, reference: dict[str, Path], workers: int = 1, **options: Any) -> dict[str, Any]:
    """``run_backtest`` of the files ``write_generated`` wrote in ``data``, without a progress line."""
    return run_backtest(
        data / "transactions.jsonl",
        feedback=data / "feedback.jsonl",
        reference=reference,
        workers=workers,
        show_progress=False,
        **options,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--merchants", type=int, default=500)
    parser.add_argument("--no-stages", action="store_true", help="Do not sample the one-worker run's stages.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch)
        reference = write_generated(data, args.count, args.customers, args.merchants)
        cores = os.cpu_count() or 1

        def backtest(workers: int, learn: bool) -> dict[str, Any]:
            return backtest_generated(data, reference, workers, learn=learn)

        # Side by side in one run: the rules alone, then learning (daily retraining, model on).
        rules_only = backtest(cores, learn=False)
        rate, seconds = rules_only["throughput_tx_per_s"], rules_only["seconds"]
        print(f"rules only   workers={cores}  {rate:>8,} tx/s  ({seconds} s)")
        for workers in sorted({1, cores}):
            sampling = StageSampler() if workers == 1 and not args.no_stages else None
            with sampling or nullcontext():
                report = backtest(workers, learn=True)
            print(
                f"with model   workers={workers}  {report['throughput_tx_per_s']:>8,} tx/s  ({report['seconds']} s, "
                f"{report['models_trained']} daily fits beside it, {report['retrain_seconds']} s of fitting)"
            )
            if sampling is not None:
                fits = ", ".join(f"{seconds:.2f}" for seconds in report["fit_seconds"])
                print(f"  where the one-worker run's time went (sampled; fits took {fits} s):")
                print("\n".join("  " + line for line in sampling.table()))
        print(f"model scoring, µs per transaction: {json.dumps(report['model_scoring_us_per_tx'])}")
        write_report(report, OUT / "backtest-report.json")
    keys = ("transactions", "frauds", "alerts", "precision", "recall", "f1", "alerts_per_1000", "card_precision_at_100")
    print("rules only:", json.dumps({k: rules_only[k] for k in keys}))
    print("with model:", json.dumps({k: report[k] for k in keys}))
    print("per rule:")
    for code, figures in report["per_rule"].items():
        print(
            f"  {code:<20} alerts={figures['alerts']:>6}  precision={figures['precision']:.3f}  "
            f"recall={figures['recall']:.3f}"
        )


if __name__ == "__main__":
    main()

"""`fraudwatch backtest`: read files, run the detection core over them, write the report.

Transactions are sharded by customer across processes, as Kafka partitions shard them across
workers: a customer's transactions stay together and in event-time order, reference data and
feedback go to every shard, so the result equals a single-process run (a test checks that).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import re
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from config.rules import load_rules
from detection.backtest import Backtest
from detection.engine import Detector
from detection.evaluation import Evaluation
from detection.models import Contract, Feedback, Transaction
from detection.rules_config import RulesConfig
from detection.sources import SOURCES_BY_NAME, ReferenceRecords
from producers.progress import Progress
from producers.replay import raw_records

Model = TypeVar("Model", bound=BaseModel)
CUSTOMER_ID = re.compile(rb'"customer_id"\s*:\s*"((?:[^"\\]|\\.)*)"')
#: Shards report progress in steps of this many transactions.
PROGRESS_STEP = 2000


class BacktestInputError(ValueError):
    """A record in an input file does not match its contract; says which file and line."""


def read_records(path: Path, model: type[Model]) -> Iterator[Model]:
    for line_number, raw in enumerate(raw_records(path), start=1):
        try:
            yield model.model_validate_json(raw)
        except ValidationError as exc:
            raise BacktestInputError(f"{path}:{line_number}: not a valid {model.__name__}: {exc}") from exc


@dataclass
class ShardJob:
    """What every shard needs; inherited by forked processes, never pickled."""

    config: RulesConfig
    reference: ReferenceRecords
    feedback: list[Feedback]
    source: Path
    shards: list[list[tuple[int, bytes]]] = field(default_factory=list)  # (line number, raw record)


_job: ShardJob | None = None
_progress_counter: Any = None


def _run_shard(index: int) -> Evaluation:
    assert _job is not None
    # The run allocates millions of small objects and frees none of them in cycles: the cyclic
    # collector only costs time here (measured: about a quarter of the run).
    gc.freeze()
    gc.disable()
    transactions = []
    for line_number, raw in _job.shards[index]:
        try:
            transactions.append(Transaction.model_validate_json(raw))
        except ValidationError as exc:
            raise BacktestInputError(f"{_job.source}:{line_number}: not a valid Transaction: {exc}") from exc
    transactions.sort(key=lambda t: t.timestamp)  # stable: ties keep file order
    backtest = Backtest(Detector(_job.config))
    backtest.load_reference(_job.reference)
    evaluation = Evaluation()
    done = 0

    def on_decision(transaction: Transaction, decision: Any) -> None:
        nonlocal done
        evaluation.add(transaction, decision)
        done += 1
        if done % PROGRESS_STEP == 0 and _progress_counter is not None:
            with _progress_counter.get_lock():
                _progress_counter.value += PROGRESS_STEP

    try:
        backtest.run(transactions, _job.feedback, on_decision)
    finally:
        gc.enable()
    return evaluation


def shard_by_customer(path: Path, shards: int) -> list[list[tuple[int, bytes]]]:
    """Lines of ``path`` split by a stable hash of their customer id (unreadable lines go to shard 0)."""
    result: list[list[tuple[int, bytes]]] = [[] for _ in range(shards)]
    for line_number, raw in enumerate(raw_records(path), start=1):
        match = CUSTOMER_ID.search(raw)
        result[zlib.crc32(match.group(1)) % shards if match else 0].append((line_number, raw))
    return result


def read_reference(files: Mapping[str, Path | None]) -> dict[str, list[Contract]]:
    """Records of each reference source (detection.sources) from its file, by source name."""
    unknown = set(files) - set(SOURCES_BY_NAME)
    if unknown:
        raise BacktestInputError(f"unknown reference sources {sorted(unknown)}; known: {sorted(SOURCES_BY_NAME)}")
    return {name: list(read_records(path, SOURCES_BY_NAME[name].model)) for name, path in files.items() if path}


def run_backtest(
    transactions_path: Path,
    *,
    feedback: Path | None = None,
    rules: Path | None = None,
    workers: int | None = None,
    show_progress: bool = True,
    reference: Mapping[str, Path | None] | None = None,
    **reference_files: Path | None,
) -> dict[str, Any]:
    """A file per reference source, by the source's name: ``reference={"customers": ...}`` or
    ``customers=...``."""
    global _job, _progress_counter
    config = load_rules(rules)
    records = read_reference({**(reference or {}), **reference_files})
    outcomes = list(read_records(feedback, Feedback)) if feedback else []
    processes = max(1, workers or os.cpu_count() or 1)

    started = time.perf_counter()
    _job = ShardJob(config, records, outcomes, transactions_path, shard_by_customer(transactions_path, processes))
    total = sum(len(shard) for shard in _job.shards)
    context = multiprocessing.get_context("fork")  # shards inherit the parsed inputs instead of pickling them
    _progress_counter = context.Value("q", 0)
    progress: Progress | None = None
    finished = threading.Event()

    def show() -> None:
        # Only once the shards are forked: a thread holding a lock (stderr's, the bar's) at fork time
        # leaves it held in the children for good.
        nonlocal progress
        if show_progress:
            progress = Progress("backtest", total)
            threading.Thread(target=_draw_progress, args=(progress, finished), daemon=True).start()

    try:
        if processes == 1:
            show()
            evaluations = [_run_shard(0)]
        else:
            with context.Pool(processes) as pool:
                show()
                evaluations = pool.map(_run_shard, range(processes))
    finally:
        finished.set()
        _job = None
    evaluation = evaluations[0]
    for other in evaluations[1:]:
        evaluation.merge(other)
    elapsed = time.perf_counter() - started
    if progress is not None:
        progress.count = total
        progress.close()

    report = evaluation.report()
    report["rules_version"] = config.rules_version
    report["feedback_records"] = len(outcomes)
    report["workers"] = processes
    report["seconds"] = round(elapsed, 3)
    report["throughput_tx_per_s"] = round(total / elapsed) if elapsed else None
    return report


def _draw_progress(progress: Progress, finished: threading.Event) -> None:
    while not finished.wait(0.25):
        progress.count = _progress_counter.value
        progress.advance(0)


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")

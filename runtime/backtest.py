"""`fraudwatch backtest`: read files, run the detection core over them, write the report.

Transactions are sharded by customer across processes, as Kafka partitions shard them across
workers: a customer's transactions stay together and in event-time order, reference data and
feedback go to every shard, so the result equals a single-process run (a test checks that).

A record that fails its contract is counted in the report by reason and skipped, as the live
path dead-letters it. A shard that fails (an exception, or its process dies) ends the whole run
at once with :class:`ShardFailedError`: the other shards are stopped, nothing waits forever.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import re
import signal
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from config import get_settings
from config.limits import validation_limits
from config.rules import load_rules
from detection.backtest import Backtest
from detection.engine import Decision, Detector
from detection.evaluation import Evaluation
from detection.learning import LearningLog
from detection.models import Contract, Feedback, Transaction
from detection.rules_config import RulesConfig
from detection.sources import SOURCES_BY_NAME, ReferenceRecords
from detection.validation import Rejection, ValidationLimits
from producers.progress import Progress
from producers.replay import raw_records
from runtime.backtest_inputs import Rejections, parse_transaction, read_records
from runtime.backtest_learning import LearningShardError, run_learning_shards
from runtime.decisions_file import decision_line, merge_parts, open_part, remove_parts

CUSTOMER_ID = re.compile(rb'"customer_id"\s*:\s*"((?:[^"\\]|\\.)*)"')
#: Shards report progress in steps of this many transactions.
PROGRESS_STEP = 2000


class BacktestInputError(ValueError):
    """The command was given inputs it cannot use (e.g. an unknown reference source)."""


class ShardFailedError(RuntimeError):
    """A shard of the backtest failed; the message is one line that says which and why."""


@dataclass
class ShardJob:
    """What every shard needs; inherited by forked processes, never pickled."""

    config: RulesConfig
    reference: ReferenceRecords
    feedback: list[Feedback]
    source: Path
    limits: ValidationLimits
    period: tuple[float | None, float | None] = (None, None)
    decisions: Path | None = None
    shards: list[list[tuple[int, bytes]]] = field(default_factory=list)  # (line number, raw record)


@dataclass
class ShardResult:
    evaluation: Evaluation
    rejections: Rejections


_job: ShardJob | None = None
_progress_counter: Any = None


def _run_shard(index: int) -> ShardResult:
    assert _job is not None
    backtest, transactions, on_decision, finish = _prepare_shard(index)
    try:
        backtest.run(transactions, _job.feedback, on_decision)
    finally:
        gc.enable()
    return finish()


def _learning_shard(index: int) -> tuple[Backtest, Callable[[], ShardResult]]:
    """A shard ready to ``advance`` under the learner (runtime.backtest_learning)."""
    assert _job is not None
    backtest, transactions, on_decision, finish = _prepare_shard(index)
    backtest.begin(transactions, _job.feedback, on_decision)
    return backtest, finish


def _prepare_shard(
    index: int,
) -> tuple[Backtest, list[Transaction], Callable[[Transaction, Decision], None], Callable[[], ShardResult]]:
    """The shard's parsed transactions, its backtest, what to do with each decision, and how to finish."""
    assert _job is not None
    # The run allocates millions of small objects and frees none of them in cycles: the cyclic
    # collector only costs time here (measured: about a quarter of the run).
    gc.freeze()
    gc.disable()
    rejections = Rejections()
    transactions = []
    for line_number, raw in _job.shards[index]:
        parsed = parse_transaction(raw, _job.limits)
        if isinstance(parsed, Rejection):
            rejections.add("transactions", _job.source, line_number, parsed)
        else:
            transactions.append(parsed)
    transactions.sort(key=lambda t: t.timestamp)  # stable: ties keep file order
    backtest = Backtest(Detector(_job.config))
    backtest.load_reference(_job.reference)
    evaluation = Evaluation(period_start=_job.period[0], period_end=_job.period[1])
    decisions = open_part(_job.decisions, index) if _job.decisions is not None else None
    version = _job.config.rules_version
    done = 0

    def on_decision(transaction: Transaction, decision: Decision) -> None:
        nonlocal done
        evaluation.add(transaction, decision)
        if decisions is not None and evaluation.covers(decision.features.ts):
            decisions.write(decision_line(transaction, decision, version))
        done += 1
        if done % PROGRESS_STEP == 0 and _progress_counter is not None:
            with _progress_counter.get_lock():
                _progress_counter.value += PROGRESS_STEP

    def finish() -> ShardResult:
        gc.enable()
        if decisions is not None:
            decisions.close()
        return ShardResult(evaluation, rejections)

    return backtest, transactions, on_decision, finish


def _shard_process(index: int, results: Connection) -> None:
    """A forked shard: sends its result, or one line saying why it failed."""
    _default_signals()
    try:
        outcome: ShardResult | str = _run_shard(index)
    except BaseException as exc:
        outcome = _one_line(exc)
    results.send(outcome)
    results.close()


def _default_signals() -> None:
    # The fork copies the parent's signal handling, and under the command's event loop SIGTERM only
    # wakes a loop this process never runs: restore the default so the parent can stop the shard.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_learning_shards(processes: int, learner: LearningLog, started: Callable[[], None]) -> list[ShardResult]:
    assert _job is not None
    context = multiprocessing.get_context("fork")
    try:
        results: list[ShardResult] = run_learning_shards(
            _learning_shard, processes, learner, _job.feedback, context, _default_signals, _one_line, started
        )
    except LearningShardError as exc:
        raise ShardFailedError(str(exc)) from exc
    except Exception as exc:  # the one in-process shard, or the learner's own step
        who = "shard 1 of 1" if processes == 1 else "learner"
        raise ShardFailedError(f"backtest {who} failed: {_one_line(exc)}") from exc
    return results


def _run_shards(processes: int, started: Callable[[], None]) -> list[ShardResult]:
    """Run every shard; ``started`` is called once the shard processes are forked."""
    if processes == 1:
        started()
        try:
            return [_run_shard(0)]
        except Exception as exc:
            raise ShardFailedError(f"backtest shard 1 of 1 failed: {_one_line(exc)}") from exc
    context = multiprocessing.get_context("fork")  # shards inherit the parsed inputs instead of pickling them
    workers, pending = [], {}
    for index in range(processes):
        reader, writer = context.Pipe(duplex=False)
        worker = context.Process(target=_shard_process, args=(index, writer), daemon=True)
        worker.start()
        writer.close()
        workers.append(worker)
        pending[reader] = index
    started()
    results: dict[int, ShardResult] = {}
    try:
        while pending:
            by_sentinel = {workers[index].sentinel: reader for reader, index in pending.items()}
            ready = wait([*pending, *by_sentinel])
            # A result arrives before its process ends; an ended process without one has failed.
            finished = {item if isinstance(item, Connection) else by_sentinel[item] for item in ready}  # type: ignore[index]
            for reader in finished:
                index = pending.pop(reader)
                outcome = _receive(reader)
                if not isinstance(outcome, ShardResult):
                    workers[index].join(1)
                    why = outcome or f"its process ended without a result (exit code {workers[index].exitcode})"
                    raise ShardFailedError(f"backtest shard {index + 1} of {processes} failed: {why}")
                results[index] = outcome
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join(5)
            if worker.is_alive():
                worker.kill()
                worker.join()
    return [results[index] for index in range(processes)]


def _receive(reader: Connection) -> ShardResult | str | None:
    """What the shard sent; None if its process ended (even part-way through sending) without it."""
    try:
        return reader.recv() if reader.poll() else None  # type: ignore[no-any-return]
    except (EOFError, OSError):
        return None


def _one_line(exc: BaseException) -> str:
    """The exception and where it was raised, in one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {message}{where}"


def shard_by_customer(path: Path, shards: int) -> list[list[tuple[int, bytes]]]:
    """Lines of ``path`` split by a stable hash of their customer id (unreadable lines go to shard 0)."""
    result: list[list[tuple[int, bytes]]] = [[] for _ in range(shards)]
    for line_number, raw in enumerate(raw_records(path), start=1):
        match = CUSTOMER_ID.search(raw)
        result[zlib.crc32(match.group(1)) % shards if match else 0].append((line_number, raw))
    return result


def read_reference(files: Mapping[str, Path | None], rejections: Rejections) -> dict[str, list[Contract]]:
    """Records of each reference source (detection.sources) from its file, by source name."""
    unknown = set(files) - set(SOURCES_BY_NAME)
    if unknown:
        raise BacktestInputError(f"unknown reference sources {sorted(unknown)}; known: {sorted(SOURCES_BY_NAME)}")
    return {
        name: list(read_records(path, SOURCES_BY_NAME[name].model, name, rejections))
        for name, path in files.items()
        if path
    }


def run_backtest(
    transactions_path: Path,
    *,
    feedback: Path | None = None,
    rules: Path | None = None,
    workers: int | None = None,
    show_progress: bool = True,
    test_start: datetime | None = None,
    test_end: datetime | None = None,
    decisions: Path | None = None,
    learn: bool = True,
    learner: LearningLog | None = None,
    reference: Mapping[str, Path | None] | None = None,
    **reference_files: Path | None,
) -> dict[str, Any]:
    """Run the detector over the file; the report covers [test_start, test_end) (default: all).

    A file per reference source, by the source's name: ``reference={"customers": ...}`` or
    ``customers=...``. Transactions before ``test_start`` still build state and feedback still
    takes effect; only the figures (and the ``decisions`` file) are restricted to the test period.
    ``learn``: retrain from the feedback in event time as the live loop does (False: the rules alone).
    ``learner``: the learner to use instead of one with the rules file's settings (e.g. other
    training settings); its decisions log, outcomes and models are the caller's to read afterwards.
    """
    global _job, _progress_counter
    config = load_rules(rules)
    rejections = Rejections()
    records = read_reference({**(reference or {}), **reference_files}, rejections)
    outcomes = list(read_records(feedback, Feedback, "feedback", rejections)) if feedback else []
    processes = max(1, workers or os.cpu_count() or 1)
    period = (test_start.timestamp() if test_start else None, test_end.timestamp() if test_end else None)

    started = time.perf_counter()
    _job = ShardJob(
        config,
        records,
        outcomes,
        transactions_path,
        validation_limits(get_settings(), replay=True),
        period,
        decisions,
        shard_by_customer(transactions_path, processes),
    )
    total = sum(len(shard) for shard in _job.shards)
    _progress_counter = multiprocessing.get_context("fork").Value("q", 0)
    progress: Progress | None = None
    finished = threading.Event()

    def show() -> None:
        # Only once the shards are forked: a thread holding a lock (stderr's, the bar's) at fork time
        # leaves it held in the children for good.
        nonlocal progress
        if show_progress:
            progress = Progress("backtest", total)
            threading.Thread(target=_draw_progress, args=(progress, finished), daemon=True).start()

    learner = (learner or LearningLog.of(config.learning)) if learn else None
    if learner is not None and learner.clock is None:
        learner.clock = time.perf_counter  # the report says how much of the run was retraining
    try:
        results = (
            _run_learning_shards(processes, learner, show) if learner is not None else _run_shards(processes, show)
        )
    except BaseException:
        if decisions is not None:
            remove_parts(decisions, processes)
        raise
    finally:
        finished.set()
        _job = None
    evaluation = results[0].evaluation
    for other in results[1:]:
        evaluation.merge(other.evaluation)
    for result in results:
        rejections.merge(result.rejections)
    decisions_written = merge_parts(decisions, processes) if decisions is not None else None
    elapsed = time.perf_counter() - started
    if progress is not None:
        progress.count = total
        progress.close()

    report = evaluation.report()
    report["rules_version"] = config.rules_version
    if learner is not None:
        report["models_trained"] = len(learner.models)
        report["last_model"] = (
            learner.models[-1].model_dump(exclude={"payload"}, mode="json") if learner.models else None
        )
        report["model_scoring_us_per_tx"] = learner.scoring_cost(time.perf_counter)
        report["retrain_seconds"] = round(learner.retrain_seconds, 3)
        report["fit_seconds"] = [round(seconds, 3) for seconds in learner.fit_seconds]
        report["label_delay"] = learner.label_delay.summary(learner.settings)
    report["feedback_records"] = len(outcomes)
    report["workers"] = processes
    report["seconds"] = round(elapsed, 3)
    report["throughput_tx_per_s"] = round(total / elapsed) if elapsed else None
    report.update(evaluation.ranking_report(outcomes))
    report.update(rejections.report())
    if decisions is not None:
        report["decisions"] = {"path": str(decisions), "records": decisions_written}
    return report


def _draw_progress(progress: Progress, finished: threading.Event) -> None:
    while not finished.wait(0.25):
        progress.count = _progress_counter.value
        progress.advance(0)


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")

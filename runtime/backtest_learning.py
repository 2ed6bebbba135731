"""Shards of a learning backtest in worker processes, stepped by one learner.

Each worker holds a shard's customers (its ``Backtest``) and advances to the next sync point (hourly)
when told; the learner here (detection.learning) takes every shard's decisions-log rows, syncs
terminal/merchant activity, retrains on schedule, and hands every shard the step's activity news and
the new model. The same steps run in one process when there is one shard, so the result does not
depend on the number of workers (a test checks it).

Fits run in a thread of the learner's process while the shards step on (LightGBM fits outside the
GIL): a model changes no feature, only the scores from its cut-off on, which wait for it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkContext
from multiprocessing.process import BaseProcess
from typing import Any

from detection.backtest import Backtest
from detection.label_delay import LabelDelay
from detection.learning import ActivityNews, LearningLog, ModelNews, ShardDay, learn_in_steps
from detection.models import Feedback

#: (the shard's backtest, ready to ``advance``) and a function giving its result when it is done.
ShardFactory = Callable[[int], tuple[Backtest, Callable[[], Any]]]


class LearningShardError(RuntimeError):
    """A shard's worker process failed; the message names the shard and the error, in one line."""


def run_learning_shards(
    prepare: ShardFactory,
    shards: int,
    learner: LearningLog,
    feedback: list[Feedback],
    context: ForkContext,
    in_worker: Callable[[], None] = lambda: None,
    describe: Callable[[BaseException], str] = repr,
    started: Callable[[], None] = lambda: None,
) -> list[Any]:
    """Run ``shards`` prepared shards under ``learner``; their results in shard order.

    ``in_worker`` runs first in each worker process (e.g. signal set-up); ``describe`` puts a
    worker's exception in one line for the error the learner raises.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="fit") as fitter:
        if shards == 1:
            started()
            backtest, result = prepare(0)
            learn_in_steps(learner, feedback, lambda until: [backtest.advance(until)], backtest.update, fitter.submit)
            return [result()]
        return _in_workers(prepare, shards, learner, feedback, context, in_worker, describe, started, fitter)


def _in_workers(
    prepare: ShardFactory,
    shards: int,
    learner: LearningLog,
    feedback: list[Feedback],
    context: ForkContext,
    in_worker: Callable[[], None],
    describe: Callable[[BaseException], str],
    started: Callable[[], None],
    fitter: ThreadPoolExecutor,
) -> list[Any]:
    pipes = [context.Pipe() for _ in range(shards)]
    workers = [
        context.Process(target=_serve, args=(prepare, index, child, in_worker, describe), daemon=True)
        for index, (_, child) in enumerate(pipes)
    ]
    for worker in workers:
        worker.start()
    started()
    connections = [parent for parent, _ in pipes]
    delay_sent: int | None = None
    try:

        def advance_all(until: float) -> list[ShardDay]:
            for connection in connections:
                connection.send(("advance", until))
            return [_receive(connections[index], workers[index], index, shards) for index in range(shards)]

        def update_all(news: ActivityNews, model: ModelNews | None, delay: LabelDelay) -> None:
            nonlocal delay_sent
            changed = delay if delay.observed != delay_sent else None  # a few thousand floats: only when it moved
            delay_sent = delay.observed
            for connection in connections:
                connection.send(("update", news, model, changed))

        learn_in_steps(learner, feedback, advance_all, update_all, fitter.submit)
        for connection in connections:
            connection.send(("finish",))
        return [_receive(connections[index], workers[index], index, shards) for index in range(shards)]
    finally:  # after the results (or a failure) nothing more is needed from any worker
        for worker in workers:
            worker.join(timeout=1)
            if worker.is_alive():
                worker.terminate()
                worker.join(5)


def _receive(connection: Connection, worker: BaseProcess, index: int, shards: int) -> Any:
    # Wait for the answer or the worker's end: the other workers hold copies of this pipe's far end
    # (forked after it was made), so a dead worker would not read as end-of-file here.
    wait([connection, worker.sentinel])
    try:
        if not connection.poll():
            raise EOFError
        kind, value = connection.recv()
    except (EOFError, OSError) as exc:
        worker.join(1)
        why = f"its process ended without a result (exit code {worker.exitcode})"
        raise LearningShardError(f"backtest shard {index + 1} of {shards} failed: {why}") from exc
    if kind == "error":
        raise LearningShardError(f"backtest shard {index + 1} of {shards} failed: {value}")
    return value


def _serve(
    prepare: ShardFactory,
    index: int,
    connection: Connection,
    in_worker: Callable[[], None],
    describe: Callable[[BaseException], str],
) -> None:
    """A worker: prepare the shard, then answer the learner's steps until told to finish."""
    in_worker()
    try:
        backtest, result = prepare(index)
        delay = LabelDelay()
        while True:
            message = connection.recv()
            if message[0] == "advance":
                connection.send(("ok", backtest.advance(message[1])))
            elif message[0] == "update":
                delay = message[3] or delay  # sent only when it changed
                backtest.update(message[1], message[2], delay)
            else:
                connection.send(("ok", result()))
                return
    except Exception as exc:  # reported to the learner, which ends the run with one clear line
        connection.send(("error", describe(exc)))

"""Shards of a learning backtest in worker processes, stepped day by day by one learner.

Each worker holds a shard's customers (its ``Backtest``) and advances to the next UTC midnight
when told; the learner here (detection.learning) takes every shard's decisions-log rows, syncs
terminal/merchant activity, retrains on schedule, and hands every shard the changes and the new
model. The same steps run in one process when there is one shard, so the result does not depend
on the number of workers (a test checks it).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext
from typing import Any

from detection.activity import EntityActivity
from detection.backtest import Backtest
from detection.learning import LearningLog, ShardDay, learn_in_steps
from detection.model import ModelArtifact
from detection.models import Feedback

#: (the shard's backtest, ready to ``advance``) and a function giving its result when it is done.
ShardFactory = Callable[[int], tuple[Backtest, Callable[[], Any]]]


class ShardFailedError(RuntimeError):
    """A shard's worker process failed; the message names the shard and the error."""


def run_learning_shards(
    prepare: ShardFactory,
    shards: int,
    learner: LearningLog,
    feedback: list[Feedback],
    context: ForkContext,
) -> list[Any]:
    """Run ``shards`` prepared shards under ``learner``; their results in shard order."""
    if shards == 1:
        backtest, result = prepare(0)
        learn_in_steps(learner, feedback, lambda until: [backtest.advance(until)], backtest.update)
        return [result()]
    pipes = [context.Pipe() for _ in range(shards)]
    workers = [
        context.Process(target=_serve, args=(prepare, index, child), daemon=True)
        for index, (_, child) in enumerate(pipes)
    ]
    for worker in workers:
        worker.start()
    connections = [parent for parent, _ in pipes]
    try:

        def advance_all(until: float) -> list[ShardDay]:
            for connection in connections:
                connection.send(("advance", until))
            return [_receive(connection, index) for index, connection in enumerate(connections)]

        def update_all(changed: dict[str, EntityActivity], artifact: ModelArtifact | None) -> None:
            for connection in connections:
                connection.send(("update", changed, artifact))

        learn_in_steps(learner, feedback, advance_all, update_all)
        for connection in connections:
            connection.send(("finish",))
        return [_receive(connection, index) for index, connection in enumerate(connections)]
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()


def _receive(connection: Connection, index: int) -> Any:
    try:
        kind, value = connection.recv()
    except EOFError as exc:
        raise ShardFailedError(f"backtest shard {index} exited without an answer") from exc
    if kind == "error":
        raise ShardFailedError(f"backtest shard {index} failed: {value}")
    return value


def _serve(prepare: ShardFactory, index: int, connection: Connection) -> None:
    """A worker: prepare the shard, then answer the learner's steps until told to finish."""
    try:
        backtest, result = prepare(index)
        while True:
            message = connection.recv()
            if message[0] == "advance":
                connection.send(("ok", backtest.advance(message[1])))
            elif message[0] == "update":
                backtest.update(message[1], message[2])
            else:
                connection.send(("ok", result()))
                return
    except Exception as exc:  # reported to the learner, which ends the run with one clear line
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        connection.send(("error", detail))

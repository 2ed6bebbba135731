"""Where a backtest's wall time goes, by stage: a sampling profiler over the process's threads.

A thread looks at every other thread's stack every ``interval`` seconds (``sys._current_frames``) and
files the sample under the stage of the innermost frame it knows (``STAGES``): numpy inside model
scoring counts as model scoring, pydantic inside parsing as parsing. Unlike cProfile it does not
slow Python-heavy code more than C-heavy code, and it sees the fitting thread apart from the shard's.
Used by ``bench.backtest_throughput`` on its one-worker learning run.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from types import FrameType, TracebackType

#: Stages that own everything below them (LightGBM's leaf search there is not the fit), looked for first.
ENCLOSING: tuple[tuple[str, str, str], ...] = (
    ("detection/training.py", "probabilities", "training: threshold on held-out days"),
    ("detection/training.py", "_probabilities", "training: threshold on held-out days"),
    ("detection/training.py", "pick_threshold", "training: threshold on held-out days"),
)
#: (where the code is, function or "*" for any, stage): the first rule matching a frame names it; rules
#: with a function come before their file's catch-all.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("importlib", "*", "imports (first fit: lightgbm, scikit-learn)"),
    ("threading.py", "wait", "waiting"),
    ("queue.py", "get", "waiting"),
    ("concurrent/futures/thread.py", "_worker", "waiting"),  # an idle pool thread waits in C (SimpleQueue.get)
    ("connection.py", "*", "waiting (pipes to worker processes)"),
    ("lightgbm", "*", "training: fit"),
    ("detection/training.py", "*", "training: fit"),
    ("detection/learning.py", "labelled", "training: join log and labels"),
    ("detection/learning.py", "fit", "training: fit"),
    ("detection/model.py", "contributions", "model: reasons of alerts"),
    ("detection/scoring.py", "model_reason", "model: reasons of alerts"),
    ("detection/model.py", "load_model", "model: load"),
    ("detection/model.py", "*", "model: batch scoring"),
    ("detection/engine.py", "finish", "model: combine with the rules"),
    ("detection/engine.py", "finish_many", "model: combine with the rules"),
    ("detection/engine.py", "learn", "state update"),
    ("detection/state.py", "*", "state update"),
    ("detection/activity.py", "*", "features: terminal/merchant risk"),
    ("detection/features.py", "*", "features: customer, geo, time"),
    ("detection/geo.py", "*", "features: customer, geo, time"),
    ("detection/reference.py", "*", "features: customer, geo, time"),
    ("detection/rules.py", "*", "rules and their score"),
    ("detection/scoring.py", "*", "rules and their score"),
    ("detection/engine.py", "*", "detector glue"),
    ("detection/learning.py", "*", "learner: decisions log, outcomes, activity news"),
    ("detection/label_delay.py", "*", "learner: decisions log, outcomes, activity news"),
    ("detection/backtest.py", "*", "shard loop (feedback, batching)"),
    ("detection/evaluation.py", "*", "evaluation and report"),
    ("detection/ranking.py", "*", "evaluation and report"),
    ("detection/quality.py", "*", "evaluation and report"),
    ("runtime/decisions_file.py", "*", "evaluation and report"),
    ("runtime/backtest_inputs.py", "*", "read and parse"),
    ("detection/validation.py", "*", "read and parse"),
    ("producers/replay.py", "*", "read and parse"),
    ("runtime/backtest.py", "shard_by_customer", "read and parse"),
    ("runtime/backtest.py", "_prepare_shard", "read and parse"),
)


def stage_of(frame: FrameType | None) -> str:
    """The stage of an enclosing frame, else of the innermost frame a rule knows; "other" if none does."""
    frames = []
    while frame is not None:
        frames.append((frame.f_code.co_filename.replace("\\", "/"), frame.f_code.co_name))
        frame = frame.f_back
    for rules in (ENCLOSING, STAGES):
        for path, name in frames:
            for where, function, stage in rules:
                if where in path and function in ("*", name):
                    return stage
    return "other"


class StageSampler:
    """Samples the stage of every other thread, by thread name, while in its ``with`` block."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.samples: dict[str, Counter[str]] = {}
        self.seconds = 0.0
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stage-sampler", daemon=True)

    def __enter__(self) -> StageSampler:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.seconds = time.perf_counter() - self._started

    def _run(self) -> None:
        own = threading.get_ident()
        while not self._stop.wait(self.interval):
            self.rounds += 1
            names = {thread.ident: thread.name for thread in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident != own:
                    name = names.get(ident, str(ident))
                    self.samples.setdefault(name, Counter())[stage_of(frame)] += 1

    def table(self) -> list[str]:
        """Per thread: each stage's wall seconds and share of the run, largest first (markdown rows)."""
        per_round = self.seconds / max(self.rounds, 1)
        lines = ["| thread | stage | seconds | share of the run |", "|---|---|---:|---:|"]
        for name, counts in self.samples.items():
            for stage, count in counts.most_common():
                if not stage.startswith("waiting"):
                    lines.append(f"| {name} | {stage} | {count * per_round:.1f} | {count / max(self.rounds, 1):.1%} |")
        return lines

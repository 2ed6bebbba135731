"""What an idle worker costs: CPU per second of a `fraudwatch worker` with nothing to read.

A worker spends most of its life near idle (the demo's default is ~21 transactions/s), and what
it burns then is timers and wake-ups, not detection. For each checkout given (``--worker-repo``,
repeatable; default this one), in turn and ``--repeats`` times: a fresh embedded broker and one
worker on a scratch data dir; after ``--settle`` seconds of start-up, the process's CPU time
(every thread) over ``--seconds`` is read from /proc. Medians per checkout, and each checkout's
ratio to the first, are printed. CPU time, not wall time, so a busy machine moves it little.

    .venv/bin/python -m bench.worker_idle [--worker-repo PATH ...] [--repeats 3] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

from bench.common import REPO, embedded_system

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of every thread of ``pid`` (fields 14 and 15 of /proc/<pid>/task/*/stat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        fields = Path(f"/proc/{pid}/task/{task}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS_PER_S


def idle_cpu_ms_per_s(repo: Path, settle_s: float, seconds: float) -> float:
    with embedded_system() as (_broker, settings, env):
        command = [str(repo / ".venv" / "bin" / "python"), "-m", "runtime.cli", "worker", "--loglevel", "warn"]
        with (settings.data_dir / "worker.log").open("ab") as log:
            worker = subprocess.Popen(command, cwd=repo, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(settle_s)
            before, started = process_cpu_s(worker.pid), time.monotonic()
            time.sleep(seconds)
            return 1000 * (process_cpu_s(worker.pid) - before) / (time.monotonic() - started)
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-repo", type=Path, action="append", help="A checkout to run the worker from.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=30.0, help="Start-up to let pass before measuring (s).")
    args = parser.parse_args()
    repos: list[Path] = args.worker_repo or [REPO]
    runs: dict[Path, list[float]] = {repo: [] for repo in repos}
    for _ in range(args.repeats):
        for repo in repos:  # alternating, so a change in the machine's load falls on every checkout alike
            runs[repo].append(idle_cpu_ms_per_s(repo, args.settle, args.seconds))
    first = statistics.median(runs[repos[0]])
    print("| worker from | idle CPU ms per s, each run | median | vs first |")
    print("|---|---|---:|---:|")
    for repo, values in runs.items():
        median = statistics.median(values)
        each = " / ".join(f"{value:.0f}" for value in values)
        print(f"| {repo} | {each} | {median:.0f} | {median / first:.2f}x |")


if __name__ == "__main__":
    main()

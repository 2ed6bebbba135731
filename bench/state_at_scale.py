"""State at scale: how long a worker takes to be ready, and how much memory it holds, with N customers.

A worker's per-customer state (the customer-behaviour and customer-reference tables) is written
straight to the tables' changelog topics, as a worker that had served N customers would have left
it: the values are real states, built by the detection core from a month of generated traffic of
``TEMPLATES`` customers, each copied under many customer ids. Then, for each size:

- **cold**: a worker with an empty data dir starts; the time from its start until ``/ready``
  answers 200 (partitions assigned, every table restored from its changelog);
- **warm**: the same worker is stopped (SIGTERM) and started again on its local RocksDB;
- RSS when ready, and the peak (VmHWM), of the worker process;
- the restored customers are counted in the worker's RocksDB after it stops, and each one's two
  values compared byte for byte with what was written ("exact"), so a fast "ready" that restored
  nothing, or something else, cannot pass for a result.

Sizes grow on one broker (each adds customers to the changelogs). On this machine the broker
shares the two cores with the worker. With ``--worker-repo`` another checkout's worker (e.g. a
``git archive`` of main, run by this interpreter) is measured too, alternating with this one on the
same broker and data, ``--rounds`` times per size: an A/B in the same period, whatever the load does.

    .venv/bin/python -m bench.state_at_scale [--sizes 10000,100000,300000] [--templates 1000]
        [--worker-repo DIR --rounds 2] [--loglevel info]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from rocksdict import AccessType, Options, Rdict

from bench.common import REPO, embedded_system, worker_process
from config.rules import load_rules
from config.settings import Settings
from detection.backtest import Backtest
from detection.engine import Detector
from producers.generator import TransactionGenerator
from producers.kafka import kafka_producer
from producers.world import World

#: Targets from the issue, for 1 000 000 customers.
TARGET_RSS_MB = 500.0
TARGET_WARM_S = 30.0
TARGET_COLD_S = 60.0

BEHAVIOUR, REFERENCE = "customer-behaviour", "customer-reference"


@dataclass(frozen=True)
class Start:
    ready_s: float
    rss_mb: float
    peak_rss_mb: float


@dataclass(frozen=True)
class Row:
    code: str  # "this" or the other checkout's directory name
    customers: int
    cold: Start
    warm: Start
    restored: int
    exact: int  # restored customers whose behaviour and reference are byte for byte what was written
    data_dir_mb: float


def template_states(templates: int, seed: int = 11) -> list[tuple[str, bytes, bytes]]:
    """(customer id, behaviour JSON, reference JSON) of ``templates`` customers after a month of traffic."""
    start = datetime.now(UTC) - timedelta(days=30)
    world = World(seed, templates, max(20, templates // 10), start)
    backtest = Backtest(Detector(load_rules()))
    backtest.load_reference(world.reference.by_source())  # type: ignore[arg-type]
    generator = TransactionGenerator(world, seed, start, world.daily_rate(), 0.01)
    backtest.run(islice(generator, templates * 30), [], lambda transaction, decision: None)
    rows = []
    for customer_id, state in sorted(backtest.states.items()):
        reference = backtest.references.get(customer_id)
        if reference is not None:
            rows.append((customer_id, state.to_json(), reference.model_dump_json().encode()))
    return rows


def changelog(settings: Settings, table: str) -> str:
    return f"{settings.app_id}-{table}-changelog"


async def write_customers(
    broker_url: str, settings: Settings, templates: list[tuple[str, bytes, bytes]], first: int, last: int
) -> None:
    """Customers ``first``..``last - 1`` into both changelogs, keyed (and so partitioned) as the worker keys them."""
    async with kafka_producer(broker_url) as producer:
        for n in range(first, last):
            template_id, behaviour, reference = templates[n % len(templates)]
            customer_id = f"C{n:07d}"
            key = customer_id.encode()
            await producer.send(changelog(settings, BEHAVIOUR), key=key, value=behaviour)
            await producer.send(
                changelog(settings, REFERENCE), key=key, value=reference.replace(template_id.encode(), key)
            )
        await producer.flush()


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


@dataclass(frozen=True)
class Code:
    """Whose worker runs: this checkout's, or another's (``--worker-repo``)."""

    name: str
    repo: Path
    loglevel: str


THIS = Code("this", REPO, "warn")


def start_worker(
    env: dict[str, str], log: Path, code: Code = THIS, timeout_s: float = 600.0
) -> tuple[subprocess.Popen[bytes], Start]:
    url = f"http://127.0.0.1:{env['FRAUDWATCH_WEB_PORT']}/ready"
    started = time.monotonic()
    worker = worker_process(env, log, code.repo, code.loglevel)
    while time.monotonic() - started < timeout_s:
        if worker.poll() is not None:
            lines = log.read_text(errors="replace").splitlines()
            first = next((i for i, line in enumerate(lines) if "[ERROR]" in line or "[CRITICAL]" in line), 0)
            shown = "\n".join(lines[first : first + 40])
            raise RuntimeError(f"worker exited with {worker.returncode}; its log from the first error:\n{shown}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    ready_s = time.monotonic() - started
                    rss, peak = rss_mb(worker.pid)
                    return worker, Start(ready_s, rss, peak)
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    worker.kill()
    raise TimeoutError(f"worker not ready after {timeout_s:.0f} s; see {log}")


def stop(worker: subprocess.Popen[bytes]) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=120)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def expected_values(templates: list[tuple[str, bytes, bytes]], customer_key: bytes) -> tuple[bytes, bytes]:
    """(behaviour, reference) that ``write_customers`` wrote for this customer."""
    template_id, behaviour, reference = templates[int(customer_key[1:]) % len(templates)]
    return behaviour, reference.replace(template_id.encode(), customer_key)


def restored_customers(data_dir: Path, templates: list[tuple[str, bytes, bytes]]) -> tuple[int, int]:
    """(customers in the worker's customer-behaviour stores, of them with both tables' values exactly as
    written) under ``data_dir`` (worker stopped): a fast "ready" that restored nothing, or something else,
    cannot pass for a result."""
    stores: dict[str, dict[bytes, bytes]] = {BEHAVIOUR: {}, REFERENCE: {}}
    for table, values in stores.items():
        for store in sorted(data_dir.rglob(f"{table}-*.db")):
            db = Rdict(str(store), Options(raw_mode=True), access_type=AccessType.read_only())
            try:
                # Customer ids only: each store also holds Faust's offset key.
                values.update(
                    (key, value) for key, value in db.items() if isinstance(key, bytes) and key.startswith(b"C")
                )
            finally:
                db.close()
    exact = 0
    for key, behaviour in stores[BEHAVIOUR].items():
        exact += (behaviour, stores[REFERENCE].get(key)) == expected_values(templates, key)
    return len(stores[BEHAVIOUR]), exact


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def bulk_restore_line(log: Path, since: int) -> str:
    """The worker's last "bulk restore: ..." log line written after byte ``since`` of ``log`` (at info level)."""
    with log.open("rb") as text:
        text.seek(since)
        lines = [line for line in text.read().decode(errors="replace").splitlines() if "bulk restore:" in line]
    return lines[-1].partition("bulk restore:")[2].strip() if lines else ""


def measure(sizes: list[int], templates_count: int, codes: list[Code], rounds: int) -> list[Row]:
    templates = template_states(templates_count)
    rows = []
    with embedded_system() as (broker, settings, env):
        log = settings.data_dir / "worker.log"
        worker_dir = settings.data_dir / "worker"
        worker, _ = start_worker(env, log, codes[-1])  # creates the changelog topics as it registers its tables
        stop(worker)
        written = 0
        for size in sizes:
            began = time.monotonic()
            asyncio.run(write_customers(broker.url, settings, templates, written, size))
            print(f"# {size - written} customers written in {time.monotonic() - began:.1f} s", flush=True)
            written = size
            for round_ in range(rounds):
                for code in codes if round_ % 2 == 0 else codes[::-1]:  # ABBA: neither side always goes first
                    shutil.rmtree(worker_dir, ignore_errors=True)
                    since = log.stat().st_size
                    worker, cold = start_worker(env, log, code)
                    stop(worker)
                    restore = bulk_restore_line(log, since)
                    worker, warm = start_worker(env, log, code)
                    stop(worker)
                    restored, exact = restored_customers(worker_dir, templates)
                    rows.append(Row(code.name, size, cold, warm, restored, exact, size_mb(worker_dir)))
                    print_row(rows[-1], f"round {round_}, {time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.1f}")
                    if restore:
                        print(f"#   cold start's bulk restore: {restore}", flush=True)
    return rows


def print_row(row: Row, note: str = "") -> None:
    print(
        f"| {row.code} | {row.customers:,} | {row.restored:,} | {row.exact:,} | {row.cold.ready_s:.1f} | "
        f"{row.warm.ready_s:.1f} | {row.cold.rss_mb:.0f} / {row.cold.peak_rss_mb:.0f} | {row.warm.rss_mb:.0f} | "
        f"{row.data_dir_mb:.0f} | {note} |",
        flush=True,
    )


def extrapolate(rows: list[Row], customers: int) -> str:
    """A straight line through the two largest measured sizes (stated as an extrapolation)."""
    if len(rows) < 2:
        return "(needs two sizes)"
    a, b = rows[-2], rows[-1]

    def at(value_a: float, value_b: float) -> float:
        slope = (value_b - value_a) / (b.customers - a.customers)
        return value_b + slope * (customers - b.customers)

    cold = at(a.cold.ready_s, b.cold.ready_s)
    warm = at(a.warm.ready_s, b.warm.ready_s)
    rss = at(max(a.cold.peak_rss_mb, a.warm.rss_mb), max(b.cold.peak_rss_mb, b.warm.rss_mb))
    return (
        f"extrapolated to {customers:,} from {a.customers:,} and {b.customers:,}: cold {cold:.0f} s "
        f"(target ≤ {TARGET_COLD_S:.0f}), warm {warm:.0f} s (≤ {TARGET_WARM_S:.0f}), "
        f"peak RSS {rss:.0f} MB (≤ {TARGET_RSS_MB:.0f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,300000", help="customers, growing, comma-separated")
    parser.add_argument("--templates", type=int, default=1000, help="distinct customer states copied")
    parser.add_argument("--worker-repo", type=Path, help="another checkout whose worker is measured alternately")
    parser.add_argument("--rounds", type=int, default=1, help="cold and warm starts per size and worker")
    parser.add_argument("--loglevel", default="warn", help="the workers' log level (info logs the bulk restore)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    codes = [Code("this", REPO, args.loglevel)]
    if args.worker_repo is not None:
        codes.insert(0, Code(args.worker_repo.resolve().name, args.worker_repo.resolve(), args.loglevel))
    print(
        "| code | customers | restored | exact | cold ready s | warm ready s | cold RSS / peak MB | warm RSS MB "
        "| dir MB | when |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = [row for row in measure(sizes, args.templates, codes, args.rounds) if row.code == "this"]
    if rows[-1].customers < 1_000_000:
        print(extrapolate(rows, 1_000_000))
    else:
        last = rows[-1]
        print(
            f"measured at {last.customers:,}: cold {last.cold.ready_s:.0f} s (target ≤ {TARGET_COLD_S:.0f}), "
            f"warm {last.warm.ready_s:.0f} s (≤ {TARGET_WARM_S:.0f}), peak RSS "
            f"{max(last.cold.peak_rss_mb, last.warm.rss_mb):.0f} MB (≤ {TARGET_RSS_MB:.0f})"
        )


if __name__ == "__main__":
    main()

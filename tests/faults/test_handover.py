"""Two workers on one stream: a second joins mid-backlog, then one stops and the other takes over.

Every customer's state afterwards — as the customer-behaviour changelog holds it, i.e. what any
worker restores — must equal the backtest's of the same input: the same transactions counted,
none twice, none missing. Session 7 saw 7 of 40 sampled customers wrong after such a handover.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from config.rules import load_rules
from config.settings import Settings
from detection.backtest import Backtest
from detection.decisions import DecisionRecord
from detection.engine import Detector
from detection.models import Transaction
from detection.state import CustomerState, decode_state
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker, free_port
from tests.faults.test_disk import ready
from tests.integration.harness import WorkerProcess, read_topic, topic_reader, wait_for

CUSTOMERS = int(os.environ.get("FAULT_HANDOVER_CUSTOMERS", "300"))
#: Transactions per customer waiting when the first worker starts (the second joins while it works on them).
BACKLOG_EACH = int(os.environ.get("FAULT_HANDOVER_BACKLOG_EACH", "40"))
#: Larger batches than the default 500: each takes seconds here, so one is in flight across every rebalance
#: (the window in which the two workers' writes of a partition interleaved).
BATCH_MAX_EVENTS = os.environ.get("FAULT_HANDOVER_BATCH_MAX_EVENTS", "2000")


def customer_stream(rounds: range, start: datetime) -> list[Transaction]:
    """One transaction per customer per round, in event-time order (so the backtest's order is the stream's)."""
    return [
        Transaction(
            transaction_id=f"R{r}-C{c:04d}",
            timestamp=start + timedelta(seconds=r * CUSTOMERS + c),
            customer_id=f"C{c:04d}",
            amount=10.0 + (r * 7 + c) % 90,
            currency="EUR",
            country="DE",
            merchant_id=f"M{c % 13}",
            terminal_id=f"T{c % 29}",
        )
        for r in rounds
        for c in range(CUSTOMERS)
    ]


async def produce(broker: EmbeddedBroker, topic: str, transactions: list[Transaction]) -> None:
    async with kafka_producer(broker.url) as producer:
        for t in transactions:
            await producer.send(topic, t.model_dump_json().encode(), key=t.customer_id.encode())
        await producer.flush()


async def until_decided(broker: EmbeddedBroker, settings: Settings, ids: set[str], timeout_s: float) -> None:
    """Until every transaction in ``ids`` has a decision (redelivered ones may have two).

    One reader for the whole wait: reading the topic again from the start each time takes longer
    than a short timeout once it holds some thousands of decisions."""
    waiting = set(ids)
    deadline = time.monotonic() + timeout_s
    async with topic_reader(broker.url, settings.topic_decisions) as consumer:
        while waiting and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                waiting.difference_update(DecisionRecord.model_validate_json(r.value).transaction_id for r in records)
    if waiting:
        raise TimeoutError(f"{len(waiting)} of {len(ids)} transactions not decided in {timeout_s:.0f} s")


def comparable(state: CustomerState) -> tuple[object, ...]:
    """What counting depends on (scores may differ: the live worker also sees entity activity)."""
    return (
        state.transactions_seen,
        [seen.transaction_id for seen in state.recent],
        state.first_seen,
        state.last_seen,
        [(day, count) for day, count, _ in state.daily],
    )


async def test_second_worker_joining_and_one_stopping_keeps_every_customers_state_exact(
    broker: EmbeddedBroker,
    system: tuple[Settings, dict[str, str]],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    settings, env = system
    env = {**env, "FRAUDWATCH_BATCH_MAX_EVENTS": BATCH_MAX_EVENTS}
    # In the past, the last of them included (one second apart): a future timestamp is dead-lettered.
    start = datetime.now(UTC) - timedelta(seconds=(BACKLOG_EACH + 1) * CUSTOMERS + 3600)
    backlog = customer_stream(range(BACKLOG_EACH), start)
    after = customer_stream(range(BACKLOG_EACH, BACKLOG_EACH + 1), start)
    backtest = Backtest(Detector(load_rules()))
    backtest.run(backlog + after, [], lambda _t, _d: None)

    await produce(broker, settings.topic_raw_transactions, backlog)
    first = start_worker({**env, "FRAUDWATCH_DATA_DIR": env["FRAUDWATCH_DATA_DIR"] + "-first"}, "first")
    assert await read_topic(broker.url, settings.topic_decisions, 1, timeout_s=120)
    # The second joins while the first works through the backlog: a rebalance in the middle of its batches.
    second_env = {**env, "FRAUDWATCH_DATA_DIR": env["FRAUDWATCH_DATA_DIR"] + "-second"}
    second_port = free_port()
    second = start_worker({**second_env, "FRAUDWATCH_WEB_PORT": str(second_port)}, "second")
    began = time.monotonic()
    joined_s = await wait_for(lambda: ready(second_port), timeout_s=120, interval_s=0.5)
    await until_decided(broker, settings, {t.transaction_id for t in backlog}, timeout_s=240)
    print(
        f"second worker ready {joined_s:.1f} s after it started; "
        f"the backlog of {len(backlog)} decided {time.monotonic() - began:.1f} s after it started"
    )
    assert second.stop() == 0
    # The survivor takes the stopped worker's partitions over and serves their customers from the changelog.
    await produce(broker, settings.topic_raw_transactions, after)
    await until_decided(broker, settings, {t.transaction_id for t in after}, timeout_s=180)
    await asyncio.sleep(2)  # the last batch's changelog records follow its decisions by a few milliseconds

    changelog = f"{settings.app_id}-customer-behaviour-changelog"
    records = await read_topic(broker.url, changelog, 10**9, timeout_s=15)  # all of it: no count to wait for
    restored = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        if record.value is not None:
            restored[record.key.decode()] = decode_state(record.value)[0]
    wrong = {
        customer: (comparable(restored[customer])[:1], comparable(expected)[:1])
        for customer, expected in backtest.states.items()
        if customer not in restored or comparable(restored[customer]) != comparable(expected)
    }
    assert len(backtest.states) == CUSTOMERS
    assert not wrong, (
        f"{len(wrong)} of {CUSTOMERS} customers' restored state differs from the backtest "
        f"(transactions seen: restored, expected): {dict(list(wrong.items())[:10])}; "
        f"survivor's log: {first.log()[-2000:]}"
    )
    assert first.stop() == 0

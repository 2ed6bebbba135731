"""Fuzzed bad messages mixed with good ones through a real worker: no crash, nothing vanishes.

`make faults` runs the same with 100 000 messages (FRAUDWATCH_FUZZ_MESSAGES=100000).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from config.broker import bootstrap_servers
from config.settings import Settings
from detection.models import DeadLetter, Transaction
from runtime.broker import EmbeddedBroker
from tests.faults.fuzz import ONE_MIB, draw_many, mixed_messages
from tests.integration.harness import WorkerProcess, read_topic

MESSAGES = int(os.environ.get("FRAUDWATCH_FUZZ_MESSAGES", "1500"))
ONE_MIB_MESSAGES = int(os.environ.get("FRAUDWATCH_FUZZ_ONE_MIB", "5"))


async def test_fuzzed_bad_messages_mixed_with_good_ones_are_all_accounted_for(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    messages = draw_many(mixed_messages(datetime.now(UTC), settings.max_message_bytes), MESSAGES, ONE_MIB_MESSAGES)
    # Hypothesis repeats values on purpose: a transaction sent twice is validated twice.
    good = Counter(Transaction.model_validate_json(m.value or b"").transaction_id for m in messages if m.valid)
    bad = [m for m in messages if not m.valid]
    assert sum(1 for m in bad if m.value is not None and len(m.value) >= ONE_MIB) == ONE_MIB_MESSAGES
    worker = start_worker(env)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(broker.url), acks="all", max_request_size=4 * ONE_MIB, linger_ms=5
    )
    await producer.start()
    try:
        for message in messages:
            await producer.send(settings.topic_raw_transactions, message.value, key=message.key)
        await producer.flush()
    finally:
        await producer.stop()

    timeout = 180 + len(messages) / 50  # generous: six engineers' test runs share two cores
    expected = good.total()
    validated = await read_topic(broker.url, settings.topic_validated_transactions, expected, timeout_s=timeout)
    dead = await read_topic(broker.url, settings.topic_dead_letter, len(bad), timeout_s=timeout)
    assert worker.process is not None and worker.process.poll() is None, worker.log()[-3000:]
    assert "Traceback" not in worker.log(), worker.log()[-3000:]

    validated_ids = Counter(Transaction.model_validate_json(r.value).transaction_id for r in validated)
    missing = good - validated_ids
    assert not missing, f"{missing.total()} of {expected} good messages never validated: {list(missing)[:5]}"
    assert validated_ids == good
    letters = [DeadLetter.model_validate_json(r.value) for r in dead]
    assert len(letters) == len(bad)
    assert all(letter.reason and letter.errors for letter in letters)
    big = [letter for letter in letters if letter.original_size is not None and letter.original_size >= ONE_MIB]
    assert len(big) == ONE_MIB_MESSAGES and all(x.reason == "oversized" and x.original_truncated for x in big)
    reasons = Counter(letter.reason for letter in letters)
    print(f"{len(messages)} messages: {expected} validated, dead-lettered by reason {dict(reasons)}")
    assert worker.stop() == 0

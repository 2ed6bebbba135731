"""A Faust Kafka transport whose worker consumer fixes three things Faust does not expose.

- ``fetch_max_wait_ms``: Faust's aiokafka driver fixes it at 1500 ms. Kafka and Redpanda answer
  a fetch as soon as data arrives, so that is harmless there; the embedded Tansu broker holds
  every fetch open for the whole wait, which would add up to 1.5 s per hop.
- aiokafka's ``prefetch_backoff`` (100 ms): measured here as the whole p99 tail of alert
  latency (195 ms at p99 over two hops; 26 ms with 5 ms), on any broker with one node
  holding the partitions.
- End offsets (with ``probe_end_offsets``, the embedded profile): Tansu reports a partition's
  end as its last batch's base offset + 1, so table recovery stopped inside the last batch and
  lost the rest of it. The old workaround, one record per produce batch, made the broker stall on
  partitions of more than ~12 000 batches. Instead, the reported end is corrected by reading the
  last batch: the true end is its last offset + 1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

import aiokafka
from aiokafka import TopicPartition
from aiokafka.errors import ConsumerStoppedError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from agents.consumer_seeks import SeekSafeConsumer
from agents.fetch_loop import BatchDeliveryConsumer, records_evenly

logger = logging.getLogger(__name__)

DEFAULT_FETCH_MAX_WAIT_MS = 1500
#: aiokafka's default: while any partition of a broker node still holds fetched records the
#: agent has not taken yet, no fetch goes to that node for up to this long.
DEFAULT_PREFETCH_BACKOFF_MS = 100
#: Longest the end-offset probe reads before it gives up and keeps what it learnt.
PROBE_TIMEOUT_MS = 5000
#: How long one round of the probe waits for fetched records.
PROBE_ROUND_MS = 50


async def true_end_offsets(bootstrap_servers: Any, reported: Mapping[TP, int | None]) -> dict[TP, int | None]:
    """End offsets corrected for a broker that reports the last batch's base offset + 1 as the end.

    Reads each non-empty partition from its reported end - 1, the last batch's first record: a
    fetch returns whole batches, so the first answer holds the whole last batch and the true end
    is its last offset + 1. A partition stays pending until it has answered (a round can end
    before the fetch is back, on a busy host); one that cannot be read in time keeps its reported
    end (the old behaviour), with a warning.
    """
    corrected: dict[TP, int | None] = dict(reported)
    probed = {tp: TopicPartition(tp.topic, tp.partition) for tp, end in reported.items() if end}
    if not probed:
        return corrected
    # A long fetch wait: Tansu holds a fetch for the whole wait and answers a 5 ms one with nothing when
    # the offset lies deep in a large log (measured, 8 partitions of 75 000 records: 5 ms timed out
    # after 5 s with 2 of 8 ends found; 500 ms found all 8 in 0.14 s). Other brokers answer at once.
    probe = aiokafka.AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=500
    )
    await probe.start()
    try:
        probe.assign(list(probed.values()))
        for tp, kafka_tp in probed.items():
            probe.seek(kafka_tp, max(0, (reported[tp] or 1) - 1))
        pending = set(probed)
        deadline = time.monotonic() + PROBE_TIMEOUT_MS / 1000
        while pending and time.monotonic() < deadline:
            fetched = await probe.getmany(*(probed[tp] for tp in pending), timeout_ms=PROBE_ROUND_MS)
            answered = {tp for tp in pending if fetched.get(probed[tp])}
            for tp in answered:
                corrected[tp] = max(corrected[tp] or 0, fetched[probed[tp]][-1].offset + 1)
            pending -= answered
        if pending:
            logger.warning("end offset probe timed out for %s; using the broker's reported ends", sorted(pending))
    finally:
        await probe.stop()
    return corrected


class FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher, so setting it here is enough.
        consumer._fetch_max_wait_ms = getattr(self.app, "consumer_fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS)
        return consumer

    async def on_start(self) -> None:
        await super().on_start()
        fetcher = self._consumer._fetcher if self._consumer is not None else None
        if fetcher is not None:  # not a constructor argument of AIOKafkaConsumer
            backoff_ms = getattr(self.app, "consumer_prefetch_backoff_ms", DEFAULT_PREFETCH_BACKOFF_MS)
            fetcher._prefetch_backoff = backoff_ms / 1000

    async def _fetch_records(
        self,
        consumer: aiokafka.AIOKafkaConsumer,
        active_partitions: set[TP],
        timeout: float | None = None,  # noqa: ASYNC109  # Faust's signature
        max_records: int | None = None,
    ) -> Mapping[TP, list[Any]]:
        """Faust's poll, at most ``consumer_records_per_partition`` from each partition (agents.fetch_loop
        says why; Faust's ``broker_max_poll_records``, unset here, is then not applied). Recovery keeps
        Faust's poll: only changelogs are read then, and no agent waits behind them."""
        per_partition = getattr(self.app, "consumer_records_per_partition", 0)
        if not per_partition or not active_partitions or self.app.in_recovery or not self.consumer.flow_active:
            return await super()._fetch_records(consumer, active_partitions, timeout=timeout, max_records=max_records)
        fetcher = consumer._fetcher
        if consumer._closed or fetcher._closed:
            raise ConsumerStoppedError()
        with fetcher._subscriptions.fetch_context():
            return await records_evenly(fetcher, active_partitions, timeout or 0, per_partition)  # type: ignore[arg-type]

    async def _highwaters(self, partitions: Iterable[TP]) -> Mapping[TP, int]:  # type: ignore[override]
        reported = await super()._highwaters(list(partitions))
        if not getattr(self.app, "probe_end_offsets", False) or self.consumer.in_transaction:
            return reported
        bootstrap = self._ensure_consumer()._client._bootstrap_servers
        return await true_end_offsets(bootstrap, reported)  # type: ignore[return-value]


class UndeliveredRecordsError(RuntimeError):
    """A record a batch produced was not stored by the broker: offsets must not be committed past it."""


class DeliveryGuard:
    """Remembers a failed delivery of a record sent without waiting (agents.batching), so no commit follows.

    Faust flushes the producer before it commits offsets, so every record sent so far has been
    answered by then; if one failed, the commit is refused and the worker stops, and its
    records are processed again from the last commit (at least once).
    """

    def __init__(self) -> None:
        self.failure: BaseException | None = None

    def record_failure(self, exc: BaseException) -> None:
        logger.error("the broker did not store a record: %r; no offsets will be committed", exc)
        self.failure = self.failure or exc

    def check(self) -> None:
        if self.failure is not None:
            raise UndeliveredRecordsError(f"a produced record was not stored: {self.failure!r}")


delivery_guard = DeliveryGuard()


class FetchWaitConsumer(SeekSafeConsumer, BatchDeliveryConsumer, faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> FetchWaitConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        delivery_guard.check()
        return bool(await super()._commit(offsets))


class FetchWaitTransport(faust_aiokafka.Transport):
    Consumer = FetchWaitConsumer

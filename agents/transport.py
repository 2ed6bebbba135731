"""A Faust Kafka transport whose worker consumer has two latency knobs Faust does not expose.

- ``fetch_max_wait_ms``: Faust's aiokafka driver fixes it at 1500 ms. Kafka and Redpanda answer
  a fetch as soon as data arrives, so that is harmless there; the embedded Tansu broker holds
  every fetch open for the whole wait, which would add up to 1.5 s per hop.
- aiokafka's ``prefetch_backoff`` (100 ms): measured here as the whole p99 tail of alert
  latency (195 ms at p99 over two hops; 26 ms with 5 ms), on any broker with one node
  holding the partitions.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

DEFAULT_FETCH_MAX_WAIT_MS = 1500
#: aiokafka's default: while any partition of a broker node still holds fetched records the
#: agent has not taken yet, no fetch goes to that node for up to this long.
DEFAULT_PREFETCH_BACKOFF_MS = 100


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


class FetchWaitConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> FetchWaitConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class FetchWaitTransport(faust_aiokafka.Transport):
    Consumer = FetchWaitConsumer

"""A Faust Kafka transport whose worker consumer honours a configurable fetch wait.

Faust's aiokafka driver fixes ``fetch_max_wait_ms`` at 1500 ms. Kafka and Redpanda answer a
fetch as soon as data arrives, so that is harmless there; the embedded Tansu broker holds
every fetch open for the whole wait, which would add up to 1.5 s per hop.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka

DEFAULT_FETCH_MAX_WAIT_MS = 1500


class FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher, so setting it here is enough.
        consumer._fetch_max_wait_ms = getattr(self.app, "consumer_fetch_max_wait_ms", DEFAULT_FETCH_MAX_WAIT_MS)
        return consumer


class FetchWaitConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> FetchWaitConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)


class FetchWaitTransport(faust_aiokafka.Transport):
    Consumer = FetchWaitConsumer

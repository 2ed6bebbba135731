"""A Faust consumer whose fetch loop hands a fetched batch to the agents without a task per record.

Faust's fetch loop (``Consumer._drain_messages``) delivers every record through
``wait_first(callback(message), suspend_flow.wait())``: four tasks and an ``asyncio.wait`` per
record, so each record costs a turn of the event loop. In a backlog one ``getmany`` returns
thousands of records; handed over one turn at a time, the agent finds one to seven events
waiting whenever it looks, and each batch pays a whole batch's state writes and sends
(bench/RESULTS.md, session 8: 47.8 s to hand over 10 000 records).

Here a record is delivered by awaiting the conductor's callback directly whenever that cannot
wait: flow running, the producer's buffer below its limit, and room in every queue the record
goes to. The callback then only decodes and puts the event in the queues, with no suspension
point, so up to ``YIELD_EVERY`` records reach the queues before the agents run, and they take
them as one batch. Otherwise (a rebalance suspending the flow, a full queue) the record goes
Faust's way, abandoned if the flow is suspended meanwhile. Everything else is Faust's loop as it
is: read offsets, gaps, ``broker_commit_every``.

A poll takes at most so many records from each partition (``records_evenly``). The loop hands all of
a poll's records over before it polls again, and Faust's poll takes everything aiokafka holds: under
a backlog, a whole fetch of each busy partition (1 MiB each, ~17 700 transactions from four), seconds
of the agents' work. Records of a quiet partition fetched meanwhile (the terminal/merchant deltas'
one-partition topic) waited in aiokafka's buffer all that time, and aiokafka does not fetch a
partition again while records of it wait, so they reached their agent in bursts (bench/RESULTS.md,
session 12).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.consumer.fetcher import Fetcher, FetchResult
from faust.transport.conductor import Conductor
from faust.transport.consumer import CONSUMER_FETCHING, Consumer
from faust.types import TP, Message
from mode import Service, ServiceT

#: Records handed to the queues between two turns of the event loop: the largest batch an agent
#: finds waiting. Faust yields every 100 records as well; more only delays other tasks.
YIELD_EVERY = 100


async def records_evenly(
    fetcher: Fetcher, partitions: set[TopicPartition], wait_s: float, per_partition: int
) -> dict[TopicPartition, list[ConsumerRecord]]:
    """The records aiokafka has fetched for ``partitions``, at most ``per_partition`` from each.

    aiokafka's own bound (``max_records``) is on the whole poll, filled partition by partition in the
    order they were fetched, so a busy partition fetched first still holds back a quiet one. Here each
    partition still holding records after a round is asked again, without waiting: a partition the
    bound left records in keeps them for the next poll. Waits up to ``wait_s`` for the first record,
    as aiokafka does; a partition whose fetch failed is left to the next poll, which raises its error.
    """
    records: dict[TopicPartition, list[ConsumerRecord]] = await fetcher.fetched_records(
        partitions, timeout=wait_s, max_records=per_partition
    )
    while records:
        waiting = {
            tp
            for tp, buffered in fetcher._records.items()  # what aiokafka holds, by partition
            if tp in partitions and tp not in records and type(buffered) is FetchResult and buffered.has_more()
        }
        more = await fetcher.fetched_records(waiting, timeout=0, max_records=per_partition) if waiting else {}
        if not more:
            break
        records.update(more)
    return records


class BatchDeliveryConsumer(Consumer):
    """Consumer mixin: the fetch loop of the module docstring."""

    def _delivers_at_once(self, tp: TP) -> bool:
        """Whether the conductor's callback for a record of ``tp`` completes without suspending."""
        app = self.app
        if not self.flow_active or not app.flow_control.is_active():
            return False
        producer_buffer = app.producer.buffer
        if producer_buffer.size > producer_buffer.max_messages:
            return False
        channels = cast(Conductor, app.topics)._tp_index.get(tp, ())  # the channels the conductor delivers tp to
        return not any(channel.queue.full() for channel in channels)

    async def _deliver(self, tp: TP, message: Message) -> None:
        if self._delivers_at_once(tp):
            await self.callback(message)
        else:
            await self.wait_first(self.callback(message), self.suspend_flow.wait())

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                fetched: AsyncIterator[tuple[TP, Message]] = self.getmany(timeout=1.0)
                await self.sleep(0)  # getmany can return at once, again and again
                if not self.should_stop:
                    async for tp, message in fetched:
                        offset = message.offset
                        last_read = read_offset.get(tp)
                        if last_read is None or offset >= last_read:  # below it: read before a seek back
                            if last_read and offset - last_read > 1 and acks_enabled_for(message.topic):
                                await self._add_gap(tp, last_read + 1, offset)
                            await self._deliver(tp, message)
                            read_offset[tp] = offset
                        # Waits only after the record is delivered: a seek landing in one is then seen by
                        # getmany before the next record (agents.consumer_seeks). Landing between the
                        # offset check and the delivery, it would make the record look like a jump from
                        # the offset sought, and the offsets between a gap committed as done.
                        await self._commit_if_due()
                        since_yield += 1
                        if since_yield >= YIELD_EVERY:
                            await asyncio.sleep(0)
                            since_yield = 0
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _commit_if_due(self) -> None:
        commit_every: Any = self._commit_every
        if commit_every is not None and self._n_acked >= commit_every:
            self._n_acked = 0
            await self.commit()

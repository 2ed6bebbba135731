"""The one at-least-once agent every sink runs in: alerts topic (and the sink's retry topic) -> sink.

- An alert's offset is acknowledged only once every target accepted it (or refused it for good and
  it was dead-lettered): the stream runs without automatic acks.
- Temporary failures are retried with exponential backoff and full jitter (tenacity) for as long as
  it takes; only this agent waits, the rest of the worker goes on.
- A de-duplication table remembers '<alert_id>|<target>' and is flushed to its changelog before the
  ack, so a restart or replay does not deliver twice. Each alert handled sweeps a slice of its
  partition for markers past their retention (agents.retention).
- Alerts the sink defers go into a per-target digest; their events stay unacknowledged until it is
  delivered.
- When the worker stops or rebalances, Faust waits for every started event to be acknowledged
  (wait_empty) and its timers stop, so neither a retry loop nor a held digest may keep an event:
  both put their alerts back on the retry topic (same key, same partition) and acknowledge them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

import faust
from faust.types import AppT, TableT
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_never, wait_random_exponential

from agents.dead_letter import dead_letter_for, error_of
from agents.fatal import storage_failure
from agents.metrics import worker_metrics
from agents.retention import TableSweeper
from agents.sinks.protocol import PermanentDeliveryError, Sink, TemporaryDeliveryError
from detection.alert import Alert
from detection.metrics import SinkEvent, sink_counter
from detection.models import FieldError
from detection.validation import field_errors

logger = logging.getLogger(__name__)
#: How often a waiting retry, and the stop watcher, look whether the worker is stopping or rebalancing.
LET_GO_POLL_S = 0.1


class DeliveryAbandonedError(Exception):
    """The worker is stopping or rebalancing while a target is unreachable."""


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float
    max_s: float


@dataclass
class Digest:
    """Alerts held for one target's next digest, with the events to acknowledge after it."""

    started: float
    alerts: list[Alert] = field(default_factory=list)
    events: list[faust.EventT[bytes]] = field(default_factory=list)


def delivered_key(alert_id: str, target: str) -> bytes:
    return f"{alert_id}|{target}".encode()


class SinkAgent:
    """Runs one sink at least once. ``register`` adds its agent and digest timer to the app."""

    def __init__(
        self,
        app: AppT,
        sink: Sink,
        *,
        channel: faust.TopicT,
        retry_topic: faust.TopicT,
        dead_letter_topic: faust.TopicT,
        delivered: TableT[bytes, bytes],
        expired_markers: TableSweeper | None = None,
        backoff: Backoff,
        digest_interval_s: float,
        agent_name: str | None = None,
    ) -> None:
        self.app, self.sink = app, sink
        self.channel, self.retry_topic, self.dead_letter_topic = channel, retry_topic, dead_letter_topic
        self.delivered = delivered
        self.expired_markers = expired_markers
        self.backoff = backoff
        self.digest_interval_s = digest_interval_s
        self.stage = f"notify.{sink.name}"
        #: The agent's short name, as FRAUDWATCH_RUN_AGENTS / SKIP_AGENTS name it (agents/roles.py).
        self.agent_name = agent_name or sink.name
        self.digests: dict[str, Digest] = {}
        self.digest_lock = asyncio.Lock()
        #: Delivered-markers of digested alerts, by partition: a table write lands in the partition of
        #: the event being processed, so they are written when the next event of that partition comes by.
        self.pending_marks: defaultdict[int, list[bytes]] = defaultdict(list)
        #: Events waiting for digests, with how many digests each still waits for.
        self.waiting_digests: dict[int, int] = {}
        self.stream: faust.StreamT[bytes] | None = None

    def register(self) -> None:
        name = f"agents.notify.{self.agent_name}"
        self.app.agent(self.channel, name=name)(self.run)
        self.app.timer(interval=max(0.5, self.digest_interval_s / 4), name=f"{name}.digests")(self.send_due_digests)

    def count(self, event: SinkEvent, detail: str | None = None) -> None:
        worker_metrics.incr(sink_counter(self.sink.name, event, detail))

    # --- the agent ----------------------------------------------------------------------------------
    async def run(self, stream: faust.StreamT[bytes]) -> None:
        self.stream = manual = stream.noack()  # type: ignore[attr-defined]  # StreamT lacks it; Stream has it
        watcher = asyncio.ensure_future(self._release_digests_when_stopping())
        try:
            async for event in manual.events():
                await self._handle(event)
                await self.flush_digests(force=False)
        finally:
            watcher.cancel()
            await self.sink.close()

    async def _handle(self, event: faust.EventT[bytes]) -> None:
        try:
            done = await self._deliver_one(event)
        except DeliveryAbandonedError:
            logger.info(
                "%s unreachable while stopping or rebalancing: alert at %s put back", self.stage, event.message.tp
            )
            await self._put_back(event)
            return
        except Exception as exc:  # never stop the agent; the alert goes aside with the reason
            fatal = storage_failure(exc)
            if fatal is not None:  # the data dir cannot take writes: stop the worker, commit nothing
                logger.critical("%s stops the worker: %s", self.stage, fatal)
                await self.app.crash(fatal)
                return
            logger.exception("%s failed unexpectedly at %s", self.stage, event.message.tp)
            await self._undeliverable(event, "internal_error", error_of(exc))
            done = True
        if done:
            await self.app.producer.flush()  # delivered-markers and dead letters are durable before the ack
            await self._ack(event)

    async def _deliver_one(self, event: faust.EventT[bytes]) -> bool:
        """Deliver one alert; True when its event can be acknowledged now."""
        partition = event.message.partition
        marks = self.pending_marks.pop(partition, [])
        for key in marks:
            self.delivered[key] = str(time.time()).encode()
        if self.expired_markers is not None:  # the sink's clock: the newest delivery handled on the partition
            self.expired_markers.observe(partition, time.time())
            self.expired_markers.sweep(partition, written=len(marks) + 1)
        try:
            alert = Alert.model_validate_json(event.value)
        except ValidationError as exc:
            await self._undeliverable(event, "schema", field_errors(exc))
            return True
        targets = [t for t in self.sink.targets(alert) if self.delivered.get(delivered_key(alert.alert_id, t)) is None]
        if not targets:
            return True
        now = time.time()
        direct, deferred = self.sink.route(alert, targets, now)
        if direct:
            refused = await self._until_accepted(lambda: self.sink.deliver(alert, direct))
            if refused is not None:
                await self._undeliverable(event, self.sink.refused_reason, [refusal(refused)])
            else:
                self.count(SinkEvent.SENT)
                for target in direct:
                    self.delivered[delivered_key(alert.alert_id, target)] = str(now).encode()
        for target in deferred:
            digest = self.digests.setdefault(target, Digest(started=now))
            digest.alerts.append(alert)
            digest.events.append(event)
            self.waiting_digests[id(event)] = self.waiting_digests.get(id(event), 0) + 1
            self.count(SinkEvent.DEFERRED)
        return not deferred

    # --- retries ------------------------------------------------------------------------------------
    def _must_let_go(self) -> bool:
        return bool(self.app.should_stop or self.app.rebalancing)

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            if self._must_let_go():
                raise DeliveryAbandonedError
            await asyncio.sleep(min(remaining, LET_GO_POLL_S))
        if self._must_let_go():
            raise DeliveryAbandonedError

    def _before_retry(self, state: object) -> None:
        self.count(SinkEvent.RETRIES)
        outcome = getattr(state, "outcome", None)
        wait = getattr(getattr(state, "next_action", None), "sleep", 0.0)
        error = outcome.exception() if outcome is not None else None
        logger.warning("%s temporarily failed (%s); retrying in %.1fs", self.stage, error, wait)

    async def _until_accepted(self, attempt: Callable[[], Awaitable[None]]) -> str | None:
        """Run ``attempt`` until accepted (None) or refused for good (the reason). Retries temporary failures
        for as long as it takes, unless the worker stops or rebalances meanwhile (DeliveryAbandonedError)."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TemporaryDeliveryError),
            wait=wait_random_exponential(multiplier=self.backoff.initial_s, max=self.backoff.max_s),
            stop=stop_never,
            sleep=self._sleep_unless_stopping,
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            async for attempt_state in retrying:
                with attempt_state:
                    await attempt()
        except PermanentDeliveryError as exc:
            return str(exc)
        return None

    # --- digests ------------------------------------------------------------------------------------
    async def send_due_digests(self) -> None:
        await self.flush_digests(force=False)

    async def flush_digests(self, force: bool) -> None:
        """Deliver every digest whose interval has passed; acknowledge alerts no digest still holds."""
        if not self.digests:
            return
        async with self.digest_lock:
            now = time.time()
            due = [t for t, d in self.digests.items() if force or now - d.started >= self.digest_interval_s]
            for target in due:
                digest = self.digests.pop(target)
                try:
                    refused = await self._until_accepted(partial(self.sink.deliver_digest, digest.alerts, target))
                except DeliveryAbandonedError:
                    self.digests[target] = digest
                    await self._put_back_held()
                    return
                for alert, event in zip(digest.alerts, digest.events, strict=True):
                    if refused is not None:
                        await self._undeliverable(event, self.sink.refused_reason, [refusal(refused)])
                    else:
                        self.pending_marks[event.message.partition].append(delivered_key(alert.alert_id, target))
                    await self.app.producer.flush()
                    remaining = self.waiting_digests.pop(id(event)) - 1
                    if remaining:
                        self.waiting_digests[id(event)] = remaining
                    else:
                        await self._ack(event)
                self.count(SinkEvent.DIGESTS_SENT if refused is None else SinkEvent.DIGESTS_REFUSED)

    async def _release_digests_when_stopping(self) -> None:
        """Faust's timers end when the worker stops, so a held digest would never be sent and its events
        never acknowledged: Faust's wait_empty would wait for them forever. Put them back instead."""
        while True:
            await asyncio.sleep(LET_GO_POLL_S)
            if self.digests and self._must_let_go():
                async with self.digest_lock:
                    await self._put_back_held()

    async def _put_back_held(self) -> None:
        """Put back every event a digest holds (each once, though several digests may hold it)."""
        held = {id(e): e for d in self.digests.values() for e in d.events}
        self.digests.clear()
        self.waiting_digests.clear()
        for event in held.values():
            await self._put_back(event)
        if held:
            logger.info("%s: %d alert(s) held for digests put back on the retry topic", self.stage, len(held))

    # --- effects ------------------------------------------------------------------------------------
    async def _ack(self, event: faust.EventT[bytes]) -> None:
        assert self.stream is not None
        await self.stream.ack(event)

    async def _put_back(self, event: faust.EventT[bytes]) -> None:
        """Requeue an alert on the retry topic (same key, so same partition) and acknowledge it: nothing is
        lost, and Faust, which waits for every started event before it stops or rebalances, can go on."""
        await self.retry_topic.send(key=event.message.key, value=event.value)
        await self.app.producer.flush()
        await self._ack(event)
        self.count(SinkEvent.REQUEUED)

    async def _undeliverable(self, event: faust.EventT[bytes], reason: str, errors: list[FieldError]) -> None:
        self.count(SinkEvent.UNDELIVERABLE, reason)
        letter = dead_letter_for(event, reason, errors, self.stage)
        await self.dead_letter_topic.send(key=event.message.key, value=letter.model_dump_json().encode())


def refusal(reason: str) -> FieldError:
    return FieldError(loc="sink", msg=reason, type="permanent")

"""Every worker follows the models topic and hot-swaps the champion and shadow models it scores with.

Not a Faust agent: an agent on the one-partition models topic would run on one worker only, and
every worker needs every record. So each worker reads the whole (compacted, small) topic with its
own group-less consumer, folds it (detection.model_registry) and, when the champion or the shadow
changes, builds the new detector and swaps it in with one assignment: the detect agent picks up
the new model at its next transaction, with no restart and no half-updated state. At start,
detection waits (``FRAUDWATCH_MODELS_WAIT_S`` at most) until the topic was read to its end, so a
restarted worker scores its first transaction with the latest champion.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.app import app, broker_url
from agents.metrics import worker_metrics
from config import get_settings
from config.broker import bootstrap_servers
from config.rules import load_rules
from detection.engine import Detector
from detection.model import FraudModel, ModelArtifact, ModelCompatibilityError, load_model
from detection.model_registry import ModelEvent, Registry, RegistryError, parse_record

logger = logging.getLogger(__name__)
settings = get_settings()


class LiveModels:
    """The detector in use (rules + champion) and the shadow model, swapped as the registry changes."""

    def __init__(self, base: Detector) -> None:
        self.base = base
        self.detector = base
        self.shadow: FraudModel | None = None
        self.registry = Registry()
        self.ready = asyncio.Event()

    @property
    def champion_version(self) -> str | None:
        return self.detector.model.version if self.detector.model is not None else None

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Fold one models-topic record; a bad one is logged and counted, never fatal."""
        if value is None:
            return
        try:
            record = parse_record(key, value)
            if isinstance(record, ModelArtifact):
                self.registry.add_artifact(record)
            else:
                self._apply_event(record)
        except (ValueError, RegistryError) as exc:
            worker_metrics.incr("models.bad_record")
            logger.error("models topic: skipped a record (%s): %s", key, exc)

    def _apply_event(self, event: ModelEvent) -> None:
        self.registry.apply(event)
        self._swap()

    def _swap(self) -> None:
        registry = self.registry
        if registry.champion != self.champion_version:
            champion = self._load(registry.champion)
            if champion is not None or registry.champion is None:
                self.detector = self.base.with_model(champion)
                logger.info("champion model is now %s", registry.champion or "none (rules only)")
        shadow_version = self.shadow.version if self.shadow else None
        if registry.shadow != shadow_version:
            self.shadow = self._load(registry.shadow)
            logger.info("shadow model is now %s", registry.shadow or "none")
        worker_metrics.models = {
            role: version
            for role, version in (("champion", self.champion_version), ("shadow", registry.shadow))
            if version is not None
        }

    def rebase(self, base: Detector) -> None:
        """New rules (a rule set switched live, agents.live_rules) under the same champion, in one assignment."""
        self.base = base
        self.detector = base.with_model(self.detector.model)

    def _load(self, version: str | None) -> FraudModel | None:
        if version is None:
            return None
        try:
            return load_model(self.registry.artifacts[version])
        except ModelCompatibilityError as exc:
            worker_metrics.incr("models.incompatible")
            logger.error("model %s cannot be loaded here, keeping the current one: %s", version, exc)
            return None

    async def wait_ready(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout_s)
        except TimeoutError:
            logger.warning("models topic not read within %.0f s: scoring with the current models", timeout_s)


live_models = LiveModels(Detector(load_rules(settings.rules_file)))


@app.task
async def follow_models() -> None:
    """Read the models topic from the beginning, forever; reconnect when the broker goes away."""
    while True:
        try:
            await _follow(broker_url(settings), settings.topic_models)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("models follower lost the broker; retrying")
            await asyncio.sleep(1.0)


async def _follow(url: str, topic: str) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(url), group_id=None, enable_auto_commit=False, fetch_max_wait_ms=200
    )
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        if end == 0:
            live_models.ready.set()
        while True:
            batch = await consumer.getmany(partition, timeout_ms=500)
            for record in batch.get(partition, []):
                live_models.apply(record.key, record.value)
            if not live_models.ready.is_set() and await consumer.position(partition) >= end:
                live_models.ready.set()
    finally:
        await consumer.stop()

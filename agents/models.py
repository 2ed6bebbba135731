"""Every worker follows the models topic and hot-swaps the champion and shadow models it scores with.

Not a Faust agent: an agent on the one-partition models topic would run on one worker only, and
every worker needs every record. So each worker reads the whole (compacted, small) topic with its
own group-less consumer (agents.broadcast), folds it (detection.model_registry) and, when the champion or the shadow
changes, builds the new detector and swaps it in with one assignment: the detect agent picks up
the new model at its next transaction, with no restart and no half-updated state. At start,
detection waits until the topic was read to its end, so a restarted worker scores its first
transaction with the latest champion.
"""

from __future__ import annotations

import logging

from aiokafka import ConsumerRecord

from agents.broadcast import follow_in_worker
from agents.metrics import worker_metrics
from config import get_settings
from config.rules import load_rules
from detection.engine import Detector
from detection.metrics import Family, ModelCount, counter
from detection.model import FraudModel, ModelArtifact, ModelCompatibilityError, load_model
from detection.model_registry import ModelEvent, Registry, parse_record

logger = logging.getLogger(__name__)
settings = get_settings()


class LiveModels:
    """The detector in use (rules + champion) and the shadow model, swapped as the registry changes."""

    def __init__(self, base: Detector) -> None:
        self.base = base
        self.detector = base
        self.shadow: FraudModel | None = None
        self.registry = Registry()
        self.applied_offset = -1

    def handle(self, record: ConsumerRecord) -> None:
        """A record as the broadcast reader hands it; one read again after a reconnect is skipped."""
        if record.offset <= self.applied_offset:
            return
        self.applied_offset = record.offset
        self.apply(record.key, record.value)

    @property
    def champion_version(self) -> str | None:
        return self.detector.model.version if self.detector.model is not None else None

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Fold one models-topic record; raises ValueError (RegistryError included) for a bad one,
        which the broadcast reader dead-letters, and nothing changes."""
        if value is None:
            return
        record = parse_record(key, value)
        if isinstance(record, ModelArtifact):
            self.registry.add_artifact(record)
        else:
            self._apply_event(record)

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
            worker_metrics.incr(counter(Family.MODELS, ModelCount.INCOMPATIBLE))
            logger.error("model %s cannot be loaded here, keeping the current one: %s", version, exc)
            return None


live_models = LiveModels(Detector(load_rules(settings.rules_file)))


#: Every worker reads the models topic whole (agents.broadcast); detection waits until it caught up.
models_reader = follow_in_worker(settings.topic_models, live_models.handle)

"""Which model is champion and which runs in shadow: a fold over the models topic, in order.

The topic (compacted, one partition) holds two kinds of record:
- key ``model:<version>``: a ``ModelArtifact``;
- key ``event:<time>:<id>``: a ``ModelEvent`` (publish, promote, rollback, shadow) saying who
  changed what, when and why. Every event has its own key, so compaction keeps the history.

Every worker folds the same records in the same order and so agrees on the champion; a worker
that restarts folds them again and comes back on the latest champion. The checks
(``promote_event``...) run in the command before it writes, so the topic holds valid events only;
an event the fold still cannot apply (a hand-written one) is skipped and reported.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from detection.model import ModelArtifact, ModelCompatibilityError, check_feature_version
from detection.models import Contract

ARTIFACT_PREFIX = "model:"
EVENT_PREFIX = "event:"
#: Versions name metric counters and keys: letters, digits, '-', '_'.
VERSION_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

Action = Literal["publish", "promote", "rollback", "shadow", "unshadow"]


class RegistryError(ValueError):
    """A registry change that cannot be made (unknown version, nothing to roll back to, ...)."""


class ModelEvent(Contract):
    """A change to the registry (value of an ``event:`` key on the models topic)."""

    action: Action
    version: str | None = Field(None, description="The model the action is about; rollback: the one restored.")
    previous: str | None = Field(None, description="The champion (or shadow) before the change.")
    at: AwareDatetime
    actor: str = Field(description="Who: user@host, or 'scheduler' for scheduled training.")
    reason: str = ""


@dataclass
class Registry:
    """The folded state of the models topic."""

    artifacts: dict[str, ModelArtifact] = field(default_factory=dict)
    champion: str | None = None
    shadow: str | None = None
    #: Champions in promotion order, the current one last: rollback pops it.
    lineage: list[str] = field(default_factory=list)
    events: list[ModelEvent] = field(default_factory=list)

    def apply(self, event: ModelEvent) -> None:
        """Apply an event; raises RegistryError (and changes nothing) if it cannot apply."""
        check_event(self, event)
        if event.action == "promote":
            assert event.version is not None
            self.lineage.append(event.version)
            self.champion = event.version
            if self.shadow == event.version:
                self.shadow = None
        elif event.action == "rollback":
            self.lineage.pop()
            self.champion = self.lineage[-1] if self.lineage else None
        elif event.action == "shadow":
            self.shadow = event.version
        elif event.action == "unshadow":
            self.shadow = None
        self.events.append(event)

    def add_artifact(self, artifact: ModelArtifact) -> None:
        self.artifacts[artifact.version] = artifact


def check_event(registry: Registry, event: ModelEvent) -> None:
    if event.action in ("promote", "shadow", "publish") and (
        event.version is None or event.version not in registry.artifacts
    ):
        raise RegistryError(f"{event.action}: no published model {event.version!r}")
    if event.action == "promote" and event.version == registry.champion:
        raise RegistryError(f"{event.version} is already the champion")
    if event.action == "rollback" and not registry.lineage:
        raise RegistryError("rollback: no champion to roll back from (detection runs on the rules alone)")


def new_event(
    registry: Registry, action: Action, version: str | None, at: datetime, actor: str, reason: str
) -> ModelEvent:
    """The event for a change, checked against the registry; rollback names the champion it restores."""
    previous = registry.shadow if action in ("shadow", "unshadow") else registry.champion
    if action == "rollback":
        version = registry.lineage[-2] if len(registry.lineage) >= 2 else None
    event = ModelEvent(action=action, version=version, previous=previous, at=at, actor=actor, reason=reason)
    check_event(registry, event)
    if action in ("promote", "shadow", "rollback") and version is not None:
        try:  # workers would refuse it: say so here, not in every worker's log
            check_feature_version(registry.artifacts[version])
        except ModelCompatibilityError as exc:
            raise RegistryError(f"{action}: {exc}") from exc
    return event


def check_version(version: str) -> str:
    if not VERSION_PATTERN.match(version):
        raise RegistryError(f"model version {version!r}: use 1-64 letters, digits, '-' or '_'")
    return version


def artifact_key(version: str) -> bytes:
    return f"{ARTIFACT_PREFIX}{version}".encode()


def event_key(event: ModelEvent) -> bytes:
    return f"{EVENT_PREFIX}{event.at.isoformat()}:{uuid.uuid4().hex[:8]}".encode()


def parse_record(key: bytes | None, value: bytes) -> ModelArtifact | ModelEvent:
    """A models-topic record by its key's prefix; raises ValueError (pydantic's included) for anything else."""
    name = (key or b"").decode(errors="replace")
    if name.startswith(ARTIFACT_PREFIX):
        return ModelArtifact.model_validate_json(value)
    if name.startswith(EVENT_PREFIX):
        return ModelEvent.model_validate_json(value)
    raise ValueError(f"models topic: unknown key {name!r} (expected 'model:<version>' or 'event:...')")

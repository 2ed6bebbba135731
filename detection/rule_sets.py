"""Rule sets changed live: the records of the rules topic and the book every worker keeps of them.

The topic (fraudwatch.rules, one partition, compacted) holds two kinds of record:

- ``rule-set:<rules_version>`` -> RuleSetPublished: a complete, validated RulesConfig. Kept by
  compaction for every version ever published, so any of them can be activated again.
- ``active`` / ``shadow`` -> RulesPointer: which version decides, and which runs beside it
  without alerting. Compaction keeps only the newest of each; a null version stops the shadow.

One partition gives one order: a worker applies records in offset order, so every worker is on
the same version after the same offset, and the offset it switched at is recorded.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, TypeAdapter

from detection.models import Contract, NonEmpty
from detection.rules_config import RulesConfig

Role = Literal["active", "shadow"]
ROLES: tuple[Role, ...] = ("active", "shadow")


class RuleSetPublished(Contract):
    kind: Literal["rule_set"] = "rule_set"
    rules_version: str = Field(description="RulesConfig.rules_version: file version + digest of the values.")
    config: RulesConfig
    published_at: AwareDatetime
    published_by: NonEmpty
    reason: str


class RulesPointer(Contract):
    kind: Literal["pointer"] = "pointer"
    role: Role
    rules_version: str | None = Field(description="The version this role runs; null stops a shadow run.")
    changed_at: AwareDatetime
    changed_by: NonEmpty
    reason: str


RulesRecord = Annotated[RuleSetPublished | RulesPointer, Field(discriminator="kind")]
RULES_RECORD: TypeAdapter[RuleSetPublished | RulesPointer] = TypeAdapter(RulesRecord)


def rule_set_key(rules_version: str) -> str:
    return f"rule-set:{rules_version}"


class UnknownRuleSetError(LookupError):
    """A pointer names a version that was never published."""


@dataclass(frozen=True, slots=True)
class Switch:
    """A role changed version at this offset of the rules topic."""

    role: Role
    rules_version: str | None
    offset: int
    changed_by: str
    reason: str


class RuleBook:
    """Published rule sets and the active/shadow pointers, applied in topic order."""

    def __init__(self, default: RulesConfig) -> None:
        self.default = default  # the rules file: active until a pointer says otherwise
        self.rule_sets: dict[str, RuleSetPublished] = {}
        self.pointers: dict[Role, RulesPointer] = {}

    def config_of(self, rules_version: str) -> RulesConfig:
        if rules_version == self.default.rules_version:
            return self.default
        published = self.rule_sets.get(rules_version)
        if published is None:
            known = ", ".join(sorted(self.rule_sets)) or "none"
            raise UnknownRuleSetError(f"rule set {rules_version} was never published (published: {known})")
        return published.config

    def version_of(self, role: Role) -> str | None:
        pointer = self.pointers.get(role)
        if pointer is None:
            return self.default.rules_version if role == "active" else None
        return pointer.rules_version

    def apply(self, record: RuleSetPublished | RulesPointer, offset: int) -> Switch | None:
        """Take one record; a Switch when it changed what a role runs."""
        if isinstance(record, RuleSetPublished):
            self.rule_sets[record.rules_version] = record
            return None
        if record.rules_version is not None:
            self.config_of(record.rules_version)  # raises for an unknown version: the pointer is ignored
        before = self.version_of(record.role)
        self.pointers[record.role] = record
        if before == record.rules_version:
            return None
        return Switch(record.role, record.rules_version, offset, record.changed_by, record.reason)


Message = tuple[bytes, bytes | None]


def _json(record: RuleSetPublished | RulesPointer) -> bytes:
    return record.model_dump_json(exclude_none=True).encode()


def pointer_message(role: Role, version: str | None, by: str, reason: str, at: datetime) -> Message:
    pointer = RulesPointer(role=role, rules_version=version, changed_at=at, changed_by=by, reason=reason)
    return role.encode(), _json(pointer)


def publish_messages(
    book: RuleBook, config: RulesConfig, role: Role, by: str, reason: str, at: datetime
) -> list[Message]:
    """The rules-topic records that make ``config`` the ``role`` set: the set itself unless already
    published (the rules file's own version is published the first time it is activated), then the pointer."""
    messages: list[Message] = []
    if config.rules_version not in book.rule_sets:
        published = RuleSetPublished(
            rules_version=config.rules_version, config=config, published_at=at, published_by=by, reason=reason
        )
        messages.append((rule_set_key(config.rules_version).encode(), _json(published)))
    messages.append(pointer_message(role, config.rules_version, by, reason, at))
    return messages


def rules_config_from_toml(text: str) -> RulesConfig:
    """A rules file's text as a validated rule set (raises ValueError saying which value and why)."""
    try:
        return RulesConfig.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not TOML: {exc}") from exc

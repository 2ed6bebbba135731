"""The models topic and the decisions log as a trainer sees them: read to the end, train, publish.

Plain aiokafka clients, no Faust: used by `fraudwatch train`, `fraudwatch models` and scheduled retraining.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from config import Settings
from config.broker import bootstrap_servers
from detection.audit import audit_message, change_record
from detection.decisions import DecisionRecord, latest_label_delay, training_set
from detection.model import ModelArtifact
from detection.model_registry import (
    Action,
    ModelEvent,
    Registry,
    artifact_key,
    check_version,
    event_key,
    new_event,
    parse_record,
)
from detection.models import Feedback
from detection.training import TrainingParams, train_model, windowed_examples

logger = logging.getLogger(__name__)
#: After the reported end offsets, read on until the broker has had nothing more for this long:
#: the embedded broker reports a partition's end as its last batch's base offset + 1.
QUIET_MS = 500


def who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


async def read_to_end(broker_url: str, topic: str) -> list[ConsumerRecord[Any, Any]]:
    """Every record of ``topic`` now on the broker, all partitions, without a consumer group."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker_url), group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        assigned = [TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())]
        if not assigned:
            raise LookupError(f"topic {topic} does not exist on the broker")
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        records: list[ConsumerRecord[Any, Any]] = []
        while True:
            batch = await consumer.getmany(*assigned, timeout_ms=QUIET_MS)
            for partition_records in batch.values():
                records.extend(partition_records)
            if not batch and all([await consumer.position(tp) >= end for tp, end in ends.items()]):
                return records
    finally:
        await consumer.stop()


async def load_registry(broker_url: str, topic: str) -> Registry:
    registry = Registry()
    for record in await read_to_end(broker_url, topic):
        if record.value is None:
            continue
        try:
            item = parse_record(record.key, record.value)
        except ValueError as exc:
            logger.warning("models topic: skipped a record: %s", exc)
            continue
        if isinstance(item, ModelArtifact):
            registry.add_artifact(item)
        else:
            registry.apply(item)
    return registry


async def publish(
    broker_url: str,
    topic: str,
    artifact: ModelArtifact | None,
    event: ModelEvent | None,
    audit_topic: str | None = None,
) -> None:
    """Write an artifact and/or an event, in that order, and wait until the broker has them; with
    ``audit_topic``, the event also goes to the audit trail (who, when, what, why: `fraudwatch audit VERSION`)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(broker_url), acks="all", max_request_size=16 * 1024 * 1024
    )
    await producer.start()
    try:
        if artifact is not None:
            await producer.send_and_wait(topic, artifact.model_dump_json().encode(), key=artifact_key(artifact.version))
        if event is not None:
            await producer.send_and_wait(topic, event.model_dump_json().encode(), key=event_key(event))
        if event is not None and audit_topic is not None:
            details = event.model_dump(mode="json")
            record = change_record(
                "model", event.version or "none", event.action, event.actor, event.at, event.reason or None, details
            )
            audit_key, audit_value = audit_message(record)
            await producer.send_and_wait(audit_topic, audit_value, key=audit_key)
    finally:
        await producer.stop()


async def change_registry(
    settings: Settings, broker_url: str, action: Action, version: str | None, actor: str, reason: str
) -> ModelEvent:
    """Promote, roll back, shadow or unshadow: checked against the registry, then recorded on the topic."""
    registry = await load_registry(broker_url, settings.topic_models)
    event = new_event(registry, action, version, datetime.now(UTC), actor, reason)
    await publish(broker_url, settings.topic_models, None, event, settings.topic_audit)
    return event


@dataclass(frozen=True)
class TrainingRequest:
    cutoff: datetime
    window_days: int
    version: str
    params: TrainingParams
    #: the window grows past ``window_days`` (up to ``max_window_days``) until it holds this many known frauds
    min_window_frauds: int = 0
    max_window_days: int = 0


def default_version(cutoff: datetime) -> str:
    return f"m{cutoff.astimezone(UTC):%Y%m%dT%H%M%S}"


def fit(records: Iterable[DecisionRecord], feedback: Iterable[Feedback], request: TrainingRequest) -> ModelArtifact:
    """Join the log with the feedback known at the cut-off and fit (CPU-bound: run it in a thread)."""
    cutoff = request.cutoff.timestamp()
    longest = (request.cutoff - timedelta(days=max(request.window_days, request.max_window_days))).timestamp()
    records = list(records)
    joined = training_set(records, feedback, since=longest, cutoff=cutoff)
    if joined.other_feature_set:
        logger.info("left out %d decisions scored with another feature set", joined.other_feature_set)
    window = (request.window_days, request.min_window_frauds, request.max_window_days)
    examples = windowed_examples(joined.decisions, joined.outcomes, cutoff, *window)
    return train_model(
        examples,
        version=check_version(request.version),
        trained_until=request.cutoff,
        params=request.params,
        label_delay_days=latest_label_delay(records, cutoff),
    )


def parse_all(records: Iterable[ConsumerRecord[Any, Any]], model: type[DecisionRecord] | type[Feedback]) -> list[Any]:
    """Parse a topic's values; a record that does not parse is logged and left out (the live path dead-letters it)."""
    parsed = []
    bad = 0
    for record in records:
        try:
            parsed.append(model.model_validate_json(record.value))
        except ValueError:
            bad += 1
    if bad:
        logger.warning("%d records of %s did not parse as %s: left out", bad, model.__name__, model.__name__)
    return parsed


async def train_from_topics(settings: Settings, broker_url: str, request: TrainingRequest) -> ModelArtifact:
    decisions_raw, feedback_raw = await asyncio.gather(
        read_to_end(broker_url, settings.topic_decisions), read_to_end(broker_url, settings.topic_feedback)
    )
    records: list[DecisionRecord] = parse_all(decisions_raw, DecisionRecord)
    feedback: list[Feedback] = parse_all(feedback_raw, Feedback)
    return await asyncio.to_thread(fit, records, feedback, request)


async def publish_trained(
    settings: Settings, broker_url: str, artifact: ModelArtifact, role: Action, actor: str, reason: str
) -> ModelEvent:
    """Publish a new artifact and make it the shadow (or the champion, with role='promote')."""
    registry = await load_registry(broker_url, settings.topic_models)
    registry.add_artifact(artifact)
    event = new_event(registry, role, artifact.version, datetime.now(UTC), actor, reason)
    await publish(broker_url, settings.topic_models, artifact, event, settings.topic_audit)
    return event

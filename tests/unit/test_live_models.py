from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka import ConsumerRecord

from agents.metrics import worker_metrics
from agents.models import LiveModels
from config.rules import load_rules
from detection.engine import Detector
from detection.model_registry import ModelEvent, RegistryError, artifact_key, event_key
from tests.unit.loop_fixtures import linear_artifact

AT = datetime(2026, 3, 2, tzinfo=UTC)


def publish(models: LiveModels, version: str, weight_on: str = "amount_eur") -> None:
    models.apply(artifact_key(version), linear_artifact(version, weight_on).model_dump_json().encode())


def event(models: LiveModels, action: str, version: str | None = None) -> None:
    record = ModelEvent(action=action, version=version, at=AT, actor="test")  # type: ignore[arg-type]
    models.apply(event_key(record), record.model_dump_json().encode())


def test_the_detector_is_swapped_whole_when_the_champion_or_shadow_changes() -> None:
    models = LiveModels(Detector(load_rules(None, {})))
    rules_only = models.detector
    publish(models, "a")
    assert models.detector is rules_only  # published, not promoted
    event(models, "promote", "a")
    in_use = models.detector
    assert in_use is not rules_only and in_use.model is not None and in_use.model.version == "a"
    assert rules_only.model is None  # the old detector is untouched: a decision in flight keeps its model
    publish(models, "b")
    event(models, "shadow", "b")
    assert models.shadow is not None and models.shadow.version == "b" and models.detector is in_use
    assert worker_metrics.models == {"champion": "a", "shadow": "b"}
    event(models, "rollback")
    assert models.detector.model is None and models.champion_version is None


def test_a_bad_record_is_refused_whole_and_an_incompatible_model_is_not_swapped_in() -> None:
    models = LiveModels(Detector(load_rules(None, {})))
    publish(models, "a")
    event(models, "promote", "a")
    with pytest.raises(ValueError):  # the broadcast reader dead-letters it
        models.apply(b"event:x", b"{not json")
    with pytest.raises(RegistryError):
        event(models, "promote", "never-published")
    assert models.champion_version == "a" and len(models.registry.events) == 1
    publish(models, "future", weight_on="a_feature_from_the_future")
    event(models, "promote", "future")
    assert models.champion_version == "a"  # cannot load it here: keep scoring with the one that works
    assert worker_metrics.counters["models.incompatible"] >= 1


def test_records_read_again_after_a_reconnect_are_skipped() -> None:
    models = LiveModels(Detector(load_rules(None, {})))
    artifact = ConsumerRecord(
        "t", 0, 0, 0, 0, artifact_key("a"), linear_artifact("a").model_dump_json().encode(), None, 0, 0, []
    )
    promote = ModelEvent(action="promote", version="a", at=AT, actor="test")
    promoted = ConsumerRecord("t", 0, 1, 0, 0, event_key(promote), promote.model_dump_json().encode(), None, 0, 0, [])
    for record in (artifact, promoted, artifact, promoted):  # the reader starts over from the beginning
        models.handle(record)
    assert models.champion_version == "a" and len(models.registry.events) == 1

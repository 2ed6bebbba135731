from __future__ import annotations

from datetime import UTC, datetime

from agents.metrics import worker_metrics
from agents.models import LiveModels
from config.rules import load_rules
from detection.engine import Detector
from detection.model_registry import ModelEvent, artifact_key, event_key
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


def test_a_bad_or_incompatible_record_is_counted_and_the_current_model_kept() -> None:
    models = LiveModels(Detector(load_rules(None, {})))
    publish(models, "a")
    event(models, "promote", "a")
    before = worker_metrics.counters["models.bad_record"]
    models.apply(b"event:x", b"{not json")
    event(models, "promote", "never-published")
    assert worker_metrics.counters["models.bad_record"] == before + 2
    publish(models, "future", weight_on="a_feature_from_the_future")
    event(models, "promote", "future")
    assert models.champion_version == "a"  # cannot load it here: keep scoring with the one that works
    assert worker_metrics.counters["models.incompatible"] >= 1

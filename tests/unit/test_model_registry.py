from __future__ import annotations

from datetime import UTC, datetime

import pytest

from detection.model_registry import (
    ModelEvent,
    Registry,
    RegistryError,
    artifact_key,
    check_version,
    event_key,
    new_event,
    parse_record,
)
from tests.unit.loop_fixtures import linear_artifact

AT = datetime(2026, 3, 2, tzinfo=UTC)


def registry_with(*versions: str) -> Registry:
    registry = Registry()
    for version in versions:
        registry.add_artifact(linear_artifact(version))
    return registry


def change(registry: Registry, action: str, version: str | None = None) -> ModelEvent:
    event = new_event(registry, action, version, AT, "ana@host", "because")  # type: ignore[arg-type]
    registry.apply(event)
    return event


def test_promotions_stack_and_rollback_restores_the_previous_champion_then_the_rules() -> None:
    registry = registry_with("a", "b")
    change(registry, "shadow", "b")
    change(registry, "promote", "a")
    assert (registry.champion, registry.shadow) == ("a", "b")
    promoted = change(registry, "promote", "b")
    assert promoted.previous == "a"
    assert (registry.champion, registry.shadow) == ("b", None)  # the promoted shadow leaves the shadow slot
    back = change(registry, "rollback")
    assert (back.version, back.previous, registry.champion) == ("a", "b", "a")
    change(registry, "rollback")
    assert registry.champion is None  # rules only
    assert [e.action for e in registry.events] == ["shadow", "promote", "promote", "rollback", "rollback"]
    assert all(e.actor == "ana@host" and e.reason == "because" for e in registry.events)


def test_a_model_of_another_feature_version_is_not_promoted_shadowed_or_rolled_back_to() -> None:
    registry = registry_with("new")
    old = linear_artifact("old")
    registry.add_artifact(old.model_copy(update={"feature_version": old.feature_version - 1}))  # type: ignore[operator]
    for action in ("promote", "shadow"):
        with pytest.raises(RegistryError, match=f"{action}: model old was fitted on feature version .*: retrain"):
            new_event(registry, action, "old", AT, "x", "")  # type: ignore[arg-type]
    registry.lineage, registry.champion = ["old", "new"], "new"  # promoted before this code
    with pytest.raises(RegistryError, match="rollback: model old was fitted on feature version"):
        new_event(registry, "rollback", None, AT, "x", "")
    assert registry.events == [] and registry.shadow is None


def test_impossible_changes_are_refused_and_change_nothing() -> None:
    registry = registry_with("a")
    with pytest.raises(RegistryError, match="no published model 'zz'"):
        new_event(registry, "promote", "zz", AT, "x", "")
    with pytest.raises(RegistryError, match="no champion to roll back"):
        new_event(registry, "rollback", None, AT, "x", "")
    change(registry, "promote", "a")
    with pytest.raises(RegistryError, match="already the champion"):
        new_event(registry, "promote", "a", AT, "x", "")
    # A hand-written event the fold cannot apply leaves the state as it was.
    with pytest.raises(RegistryError):
        registry.apply(ModelEvent(action="shadow", version="ghost", at=AT, actor="x"))
    assert (registry.champion, registry.shadow, len(registry.events)) == ("a", None, 1)


def test_records_are_told_apart_by_key_and_versions_are_checked() -> None:
    artifact = linear_artifact("v1")
    assert parse_record(artifact_key("v1"), artifact.model_dump_json().encode()) == artifact
    event = ModelEvent(action="promote", version="v1", at=AT, actor="x")
    key = event_key(event)
    assert key.startswith(b"event:") and key != event_key(event)  # every event keeps its own key
    assert parse_record(key, event.model_dump_json().encode()) == event
    with pytest.raises(ValueError, match="unknown key"):
        parse_record(b"other", b"{}")
    assert check_version("m20260302T000000") == "m20260302T000000"
    with pytest.raises(RegistryError):
        check_version("has.dots")

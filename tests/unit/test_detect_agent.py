from __future__ import annotations

import pytest

from agents.detect import detect
from agents.models import live_models
from config import get_settings
from detection.alert import Alert, alert_id_for
from detection.state import CustomerState
from tests.unit.detection_fixtures import tx
from tests.unit.faust_harness import capturing, until

settings = get_settings()


async def test_alerts_carry_reasons_and_a_replay_yields_the_same_alert_id(monkeypatch: pytest.MonkeyPatch) -> None:
    burst = [tx(i, i * 5.0, amount=25.0, customer="C-agent") for i in range(6)]
    with capturing(monkeypatch) as capture:
        async with detect.test_context() as agent:
            for transaction in burst:
                await agent.put(transaction.model_dump_json().encode(), key=b"C-agent")
            await agent.put(burst[-1].model_dump_json().encode(), key=b"C-agent")  # at-least-once replay
            await until(lambda: len(capture.sent[settings.topic_alerts]) == 3)

    alerts = [Alert.model_validate_json(r.value) for r in capture.sent[settings.topic_alerts]]
    assert [a.transaction.transaction_id for a in alerts] == ["T4", "T5", "T5"]
    assert alerts[-1].alert_id == alerts[-2].alert_id == alert_id_for("T5", live_models.detector.rules_version)
    assert all("VELOCITY" in {r.code for r in a.reasons} for a in alerts)
    assert all(r.key == b"C-agent" for r in capture.sent[settings.topic_alerts])
    state_writes = [name for name in capture.sent if name.endswith("customer-behaviour-changelog")]
    writes = capture.sent[state_writes[0]]
    # At most one write per batch (seven puts, the replay's batch writes the state again); how puts
    # fall into batches is timing.
    assert 1 <= len(writes) <= len(burst) + 1
    learned = CustomerState.from_json(writes[-1].value)
    assert [seen[1] for seen in learned.recent] == [t.transaction_id for t in burst]  # the replay not learned twice


async def test_every_decision_is_logged_with_its_features_and_a_replay_is_marked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from detection.decisions import DecisionRecord, activity_record_deltas
    from detection.features import FEATURE_SET

    burst = [tx(i, i * 5.0, amount=25.0, customer="C-log") for i in range(3)]
    with capturing(monkeypatch) as capture:
        async with detect.test_context() as agent:
            for transaction in [*burst, burst[-1]]:
                await agent.put(transaction.model_dump_json().encode(), key=b"C-log")
            await until(lambda: len(capture.sent[settings.topic_decisions]) == 4)

    records = [DecisionRecord.model_validate_json(r.value) for r in capture.sent[settings.topic_decisions]]
    assert [(r.transaction_id, r.replay) for r in records] == [
        ("T0", False),
        ("T1", False),
        ("T2", False),
        ("T2", True),
    ]
    assert all(r.feature_set == FEATURE_SET and r.feature_vector and r.model_version is None for r in records)
    assert all(key == b"C-log" for key in (r.key for r in capture.sent[settings.topic_decisions]))
    # The batch that decided also keeps the lookup table (each decision without its vector, for chargebacks)
    # and sends its terminals' and merchants' counts, the replay not counted again (agents.decisions_log).
    table = next(name for name in capture.sent if name.endswith("-decisions-changelog"))
    entries = {r.key: DecisionRecord.model_validate_json(r.value) for r in capture.sent[table]}
    assert set(entries) == {b"T0", b"T1", b"T2"} and not any(e.feature_vector for e in entries.values())
    counted: dict[str, int] = {}
    for r in capture.sent[settings.topic_entity_activity]:
        for delta in activity_record_deltas(r.value):
            counted[delta.entity] = counted.get(delta.entity, 0) + sum(delta.hours.values())
    assert counted and all(count == 3 for count in counted.values())


async def test_a_batch_of_replays_only_writes_the_state_again_so_the_changelog_catches_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker stopped after a batch's table writes but before its records went out holds state the
    changelog lacks; the redelivery after its restart must send it, or the partition's next owner restores
    the customer without those transactions."""
    burst = [tx(i, i * 5.0, amount=25.0, customer="C-replay") for i in range(3)]
    with capturing(monkeypatch) as capture:
        async with detect.test_context() as agent:
            for transaction in burst:
                await agent.put(transaction.model_dump_json().encode(), key=b"C-replay")
            await until(lambda: len(capture.sent[settings.topic_decisions]) == 3)
            changelog = next(name for name in capture.sent if name.endswith("customer-behaviour-changelog"))
            writes_before = len(capture.sent[changelog])
            await agent.put(burst[-1].model_dump_json().encode(), key=b"C-replay")  # redelivered alone
            await until(lambda: len(capture.sent[settings.topic_decisions]) == 4)

    writes = capture.sent[changelog]
    assert len(writes) == writes_before + 1
    replayed = CustomerState.from_json(writes[-1].value)
    assert [seen[1] for seen in replayed.recent] == [t.transaction_id for t in burst]  # still counted once
    assert replayed.transactions_seen == len(burst)

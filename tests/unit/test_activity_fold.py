"""The activity table's fold (one writer) and every worker's copy of it: what each keeps decoded."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import ConsumerRecord

import agents.activity
from agents.activity import APPLIED_KEY, ActivityCopy, folded, update_entity_activity
from config import get_settings
from detection.activity import HOUR_S, EntityActivity
from detection.decisions import EntityActivityBatch, EntityActivityDelta, FraudMark
from detection.models import DeadLetter
from tests.unit.faust_harness import capturing, until

settings = get_settings()
HOUR = 493_000  # a UTC hour number in 2026


@pytest.fixture(autouse=True)
def fold_each_arrived_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most tests here check the table after each record: no gathering window."""
    monkeypatch.setattr(agents.activity, "settings", settings.model_copy(update={"activity_fold_within_s": 0.0}))


def changelog_record(key: bytes, value: bytes | None, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("entity-activity-changelog", 0, offset, 0, 0, key, value, None, 0, 0, [])


def batch(*entities: str, transactions: int = 1) -> bytes:
    deltas = [EntityActivityDelta(entity=entity, hours={HOUR: transactions}) for entity in entities]
    return EntityActivityBatch(deltas=deltas).model_dump_json().encode()


def test_the_copy_decodes_a_value_when_it_is_first_looked_up_and_keeps_only_the_newest() -> None:
    copy = ActivityCopy()
    older, newer = EntityActivity(), EntityActivity()
    older.add_transaction(HOUR * HOUR_S)
    for _ in range(3):
        newer.add_transaction(HOUR * HOUR_S)
    copy.handle(changelog_record(b"terminal:T1", older.to_json(), 0))
    copy.handle(changelog_record(b"terminal:T1", newer.to_json(), 1))
    assert isinstance(copy.entities["terminal:T1"], ConsumerRecord)  # not decoded while nobody asked
    assert copy.get("terminal:T1") == newer
    assert copy.get("terminal:T1") is copy.entities["terminal:T1"]  # decoded once, then kept
    copy.handle(changelog_record(b"terminal:T1", None, 2))
    assert copy.get("terminal:T1") is None


async def test_a_bad_value_found_at_lookup_goes_to_the_dead_letters_and_reads_as_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agents.activity import activity_copy

    with capturing(monkeypatch) as capture:
        activity_copy.handle(changelog_record(b"merchant:M-bad", b"{not json", 7))
        assert activity_copy.get("merchant:M-bad") is None
        await until(lambda: len(capture.sent[settings.topic_dead_letter]) == 1)
    assert "merchant:M-bad" not in activity_copy.entities
    letter = DeadLetter.model_validate_json(capture.sent[settings.topic_dead_letter][0].value)
    assert letter.reason == "schema"
    assert letter.stage.startswith("broadcast:")


async def test_the_fold_keeps_what_it_folded_decoded_while_offsets_follow_each_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with capturing(monkeypatch) as capture:
        async with update_entity_activity.test_context() as agent:
            await agent.put(batch("terminal:T-fold", "merchant:M-fold"), key=b"batch")
            kept = folded.entities[b"terminal:T-fold"]
            await agent.put(batch("terminal:T-fold", transactions=2), key=b"batch")
            assert folded.entities[b"terminal:T-fold"] is kept  # the next offset: not read from the table again
            assert kept.window((HOUR + 1) * HOUR_S, 1, 0) == (3, 0)
            folded.takes(folded.last_offset + 5 if folded.last_offset is not None else 5)  # a gap
            assert folded.entities == {}
    changelog = next(name for name in capture.sent if name.endswith("entity-activity-changelog"))
    written = [r for r in capture.sent[changelog] if r.key == b"terminal:T-fold"]
    assert [EntityActivity.from_json(r.value).window((HOUR + 1) * HOUR_S, 1, 0) for r in written] == [(1, 0), (3, 0)]


async def test_a_record_that_fails_halfway_is_dead_lettered_and_the_copies_fold_it_as_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer and every copy fold a record the same way, even one that fails halfway: what the writer
    wrote is what a copy that folded the same records holds."""
    import detection.decisions
    from detection.decisions import apply_activity_delta as real_apply

    def apply_then_fail(activity: EntityActivity, delta: EntityActivityDelta, label_delay: object = None) -> bool:
        real_apply(activity, delta)
        if delta.entity == "terminal:T-half":
            raise ArithmeticError("failed after changing the value")
        return False

    good, failing = batch("terminal:T-half"), batch("merchant:M-half", "terminal:T-half", "terminal:T-after")
    with capturing(monkeypatch) as capture:
        async with update_entity_activity.test_context() as agent:
            agent.sent_offset = 1_000  # past the applied mark earlier tests left in the process's table
            await agent.put(good, key=b"batch")
            monkeypatch.setattr(detection.decisions, "apply_activity_delta", apply_then_fail)
            await agent.put(failing, key=b"batch")
            await until(lambda: len(capture.sent[settings.topic_dead_letter]) == 1)
            copy = ActivityCopy()
            copy.switch()
            for offset, raw in ((1_000, good), (1_001, failing)):
                with contextlib.suppress(ArithmeticError):
                    copy.fold(activity_record(raw, offset))
    changelog = next(name for name in capture.sent if name.endswith("entity-activity-changelog"))
    records = [(r.key or b"", r.value) for r in capture.sent[changelog]]
    written = {key: EntityActivity.from_json(value) for key, value in records if not key.startswith(b"\x00")}
    assert written[b"terminal:T-half"].window((HOUR + 1) * HOUR_S, 1, 0) == (2, 0)  # counted, then failed
    assert b"terminal:T-after" not in written  # never reached
    assert {key.decode(): value for key, value in written.items()} == {
        entity: copy.get(entity) for entity in ("merchant:M-half", "terminal:T-half")
    }
    assert copy.get("terminal:T-after") is None
    applied = [r.value for r in capture.sent[changelog] if r.key == APPLIED_KEY]
    assert applied[-1] == b"1001"  # every copy skips the failed record too


async def test_the_fold_keeps_at_most_its_bound_the_most_recently_folded_last(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folded, "kept", 2)
    with capturing(monkeypatch):
        async with update_entity_activity.test_context() as agent:
            agent.sent_offset = 2_000  # past the applied mark earlier tests left in the process's table
            await agent.put(batch("terminal:K-a", "terminal:K-b", "terminal:K-c"), key=b"batch")
            assert list(folded.entities) == [b"terminal:K-b", b"terminal:K-c"]
            await agent.put(batch("terminal:K-b"), key=b"batch")
            assert list(folded.entities) == [b"terminal:K-c", b"terminal:K-b"]
            await agent.put(batch("terminal:K-a"), key=b"batch")  # read from the table again: counted on
            assert list(folded.entities) == [b"terminal:K-b", b"terminal:K-a"]
            assert folded.entities[b"terminal:K-a"].window((HOUR + 1) * HOUR_S, 1, 0) == (2, 0)


def activity_record(value: bytes, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(settings.topic_entity_activity, 0, offset, 0, 0, b"batch", value, None, 0, 0, [])


def fraud_batch(entity: str, transaction_id: str, known_after_hours: int) -> bytes:
    at = datetime.fromtimestamp(HOUR * HOUR_S, UTC)
    mark = FraudMark(transaction_id=transaction_id, timestamp=at, known_at=at + timedelta(hours=known_after_hours))
    return EntityActivityBatch(deltas=[EntityActivityDelta(entity=entity, frauds=[mark])]).model_dump_json().encode()


async def test_a_copy_that_reads_the_table_and_folds_the_rest_equals_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker reads the table's changelog to its end, then folds the activity records after the table's
    applied mark itself: where it switches must not matter."""
    records = [
        batch("terminal:E-a", "merchant:E-m"),
        batch("terminal:E-a", transactions=3),
        fraud_batch("terminal:E-a", "TX-E1", known_after_hours=30),
        batch("terminal:E-b", "merchant:E-m", transactions=2),
        fraud_batch("merchant:E-m", "TX-E2", known_after_hours=50),
    ]
    activity: list[ConsumerRecord[bytes, bytes]] = []
    with capturing(monkeypatch) as capture:
        async with update_entity_activity.test_context() as agent:
            agent.sent_offset = 3_000  # past the applied mark earlier tests left in the process's table
            for raw in records:
                activity.append(activity_record(raw, agent.sent_offset))
                await agent.put(raw, key=b"batch")
    changelog_name = next(name for name in capture.sent if name.endswith("entity-activity-changelog"))
    changelog = [changelog_record(r.key or b"", r.value, n) for n, r in enumerate(capture.sent[changelog_name])]
    whole = ActivityCopy()
    for record in changelog:
        whole.handle(record)
    entities = ("terminal:E-a", "terminal:E-b", "merchant:E-m")
    assert whole.get("terminal:E-a") is not None and whole.label_delay is not None
    switched_at_a_boundary = 0
    for cut in range(len(changelog) + 1):
        copy = ActivityCopy()
        copy.begin()
        for record in changelog[:cut]:
            copy.handle(record)
        if not copy.at_boundary():
            continue  # the reader reads on until the writer's applied mark (agents.broadcast)
        switched_at_a_boundary += 1
        start = copy.switch()
        for record in activity:
            if record.offset >= start:
                copy.fold(record)
        for record in changelog[cut:]:  # the reader reads on: the writer's label delay
            copy.handle(record)
        assert [copy.get(e) for e in entities] == [whole.get(e) for e in entities], cut
        assert copy.label_delay is not None and whole.label_delay is not None
        assert copy.label_delay.to_json() == whole.label_delay.to_json()
        assert copy.current.applied == activity[-1].offset
    assert switched_at_a_boundary == len(records) + 1  # at the start and after each record's applied mark


def test_a_copy_read_again_is_used_only_once_complete() -> None:
    copy = ActivityCopy()
    first = EntityActivity()
    first.add_transaction(HOUR * HOUR_S)
    copy.handle(changelog_record(b"terminal:R-1", first.to_json(), 0))
    copy.handle(changelog_record(APPLIED_KEY, b"41", 1))
    assert copy.switch() == 42
    copy.fold(activity_record(batch("terminal:R-1"), 42))
    copy.begin()  # a broker error: read the changelog again from its beginning
    copy.handle(changelog_record(b"terminal:R-1", first.to_json(), 0))
    assert not copy.at_boundary()  # a value read after the last applied mark: inside a fold
    assert copy.get("terminal:R-1") == EntityActivity.from_json(_two_transactions())  # still the complete copy
    copy.handle(changelog_record(APPLIED_KEY, b"41", 1))
    assert copy.at_boundary() and copy.switch() == 42
    assert copy.get("terminal:R-1") == first  # the new copy, before it folds record 42 again


def test_a_bad_activity_record_is_skipped_by_the_copy_and_the_next_one_folds() -> None:
    copy = ActivityCopy()
    copy.switch()
    with pytest.raises(ValueError):
        copy.fold(activity_record(b"{not json", 0))
    copy.fold(activity_record(batch("terminal:S-1"), 1))
    found = copy.get("terminal:S-1")
    assert found is not None and found.window((HOUR + 1) * HOUR_S, 1, 0) == (1, 0)


def _two_transactions() -> bytes:
    value = EntityActivity()
    value.add_transaction(HOUR * HOUR_S, 2)
    return value.to_json()


async def test_a_record_redelivered_after_a_rebalance_is_not_folded_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    with capturing(monkeypatch) as capture:
        async with update_entity_activity.test_context() as agent:
            agent.sent_offset = 5_000  # past the applied mark earlier tests left in the process's table
            await agent.put(batch("terminal:T-again"), key=b"batch")
            await agent.put(batch("terminal:T-again"), key=b"batch")
            agent.sent_offset = 5_001  # the partition came back: its last record is read again
            await agent.put(batch("terminal:T-again"), key=b"batch")
    changelog = next(name for name in capture.sent if name.endswith("entity-activity-changelog"))
    written = [r.value for r in capture.sent[changelog] if r.key == b"terminal:T-again"]
    assert [EntityActivity.from_json(v).window((HOUR + 1) * HOUR_S, 1, 0) for v in written] == [(1, 0), (2, 0)]
    assert b"terminal:T-again" not in folded.entities  # a gap: the next fold reads the table again


async def test_records_gathered_within_the_window_write_each_entity_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agents.activity, "settings", settings.model_copy(update={"activity_fold_within_s": 0.5}))
    with capturing(monkeypatch) as capture:
        async with update_entity_activity.test_context() as agent:
            agent.sent_offset = 6_000  # past the applied mark earlier tests left in the process's table
            for transactions in (1, 2, 3):  # one at a time, as detect batches send them
                await agent.put(batch("terminal:W-1", "merchant:W-m", transactions=transactions), wait=False)
                await asyncio.sleep(0.05)
            changelog = settings.app_id + "-entity-activity-changelog"
            await until(lambda: any(r.key == APPLIED_KEY for r in capture.sent[changelog]))
    written = [r for r in capture.sent[changelog] if r.key in (b"terminal:W-1", b"merchant:W-m")]
    assert sorted(r.key or b"" for r in written) == [b"merchant:W-m", b"terminal:W-1"]  # once each, for three records
    assert {EntityActivity.from_json(r.value).window((HOUR + 1) * HOUR_S, 1, 0) for r in written} == {(6, 0)}
    assert [r.value for r in capture.sent[changelog] if r.key == APPLIED_KEY] == [b"6002"]


async def test_a_partition_back_at_the_next_offset_after_another_writer_folded_is_not_folded_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Worker A folds 7000 and the partition moves to B, which folds 7001 into the table (changelog) and dies
    before committing: the partition comes back to A at 7001, the offset after A's last. The table's applied
    mark says 7001 is in it; A must not fold it again (nor on top of B's values, for the entities it no
    longer keeps)."""
    import copy as copying

    monkeypatch.setattr(folded, "kept", 1)  # A keeps only the newest value decoded: the other is read from the table
    with capturing(monkeypatch) as capture:
        async with update_entity_activity.test_context() as agent:
            agent.sent_offset = 7_000
            await agent.put(batch("terminal:P-a", "terminal:P-b"), key=b"batch")
            a_state = copying.deepcopy((folded.entities, folded.applied, folded.last_offset))
            folded.forget()  # worker B: its own process, nothing folded, reads the table
            await agent.put(batch("terminal:P-a", "terminal:P-b"), key=b"batch")  # 7001, B's commit is lost
            folded.entities, folded.applied, folded.last_offset = a_state  # worker A again
            agent.sent_offset = 7_001  # redelivered to A: the committed offset is A's 7000
            await agent.put(batch("terminal:P-a", "terminal:P-b"), key=b"batch")
    changelog = next(name for name in capture.sent if name.endswith("entity-activity-changelog"))
    last = {r.key: r.value for r in capture.sent[changelog]}
    counts = {
        key: EntityActivity.from_json(last[key]).window((HOUR + 1) * HOUR_S, 1, 0)
        for key in (b"terminal:P-a", b"terminal:P-b")
    }
    assert counts == {b"terminal:P-a": (2, 0), b"terminal:P-b": (2, 0)}
    assert last[APPLIED_KEY] == b"7001"


async def test_a_copy_folds_a_fraud_as_the_table_when_the_rules_switch_between_their_folds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each worker switches rules when it reads the rules topic, and the writer folds a record up to
    activity_fold_within_s after a copy does: a record folded under the label-delay half-life of one rule
    set by the copy and of another by the writer must still leave the copy equal to the table (in c02c843
    every copy took the table's estimate from its changelog). A copy never reads the table again until the
    worker restarts, so a difference stays."""
    from agents.models import live_models
    from detection.engine import Detector

    first = fraud_batch("terminal:L-a", "TX-L1", known_after_hours=30)
    second = fraud_batch("terminal:L-a", "TX-L2", known_after_hours=80)
    with capturing(monkeypatch) as capture:
        async with update_entity_activity.test_context() as agent:
            agent.sent_offset = 9_000
            await agent.put(first, key=b"batch")
            changelog_name = next(name for name in capture.sent if name.endswith("entity-activity-changelog"))
            copy = ActivityCopy()
            copy.begin()
            read = len(capture.sent[changelog_name])
            for n, r in enumerate(capture.sent[changelog_name]):
                copy.handle(changelog_record(r.key or b"", r.value, n))
            assert copy.at_boundary() and copy.switch() == 9_001
            copy.fold(activity_record(second, 9_001))  # this worker has not read the rules switch yet
            config = live_models.detector.config
            learning = config.learning.model_copy(update={"label_delay_half_life_days": 1.0})
            monkeypatch.setattr(live_models, "detector", Detector(config.model_copy(update={"learning": learning})))
            await agent.put(second, key=b"batch")  # the writer's worker has
    for n, r in enumerate(capture.sent[changelog_name][read:], start=read):  # the reader reads on
        copy.handle(changelog_record(r.key or b"", r.value, n))
    delays = [r.value for r in capture.sent[changelog_name] if r.key == agents.activity.LABEL_DELAY_KEY]
    assert len(delays) == 2 and copy.label_delay is not None
    assert copy.label_delay.to_json() == delays[-1]


def test_a_copy_that_reads_a_batch_written_without_its_applied_mark_counts_it_once() -> None:
    """The writer writes a batch's entities, then its applied mark; a writer that dies in between (a crash while
    the batch's changelog records are produced) leaves values that include records the mark does not. The
    reader waits BOUNDARY_WAIT_S for the mark, then switches at the older mark and meets those records again:
    each value says the last record folded into it, so they are skipped (review finding, session 12)."""
    after_10, after_12 = EntityActivity(), EntityActivity()
    after_10.add_transaction(HOUR * HOUR_S)
    after_12.add_transaction(HOUR * HOUR_S, 3)
    after_10.folded_offset, after_12.folded_offset = 10, 12  # as the writer writes them
    copy = ActivityCopy()
    copy.begin()
    copy.handle(changelog_record(b"terminal:C-1", after_10.to_json(), 0))
    copy.handle(changelog_record(APPLIED_KEY, b"10", 1))
    copy.handle(changelog_record(b"terminal:C-1", after_12.to_json(), 2))  # records 11 and 12, then the writer died
    assert not copy.at_boundary()  # the reader waits BOUNDARY_WAIT_S, then switches anyway
    start = copy.switch()
    for offset in (11, 12):
        if offset >= start:
            copy.fold(activity_record(batch("terminal:C-1"), offset))
    assert copy.get("terminal:C-1") == after_12


def test_a_record_that_names_an_entity_twice_adds_both_and_a_held_record_adds_nothing() -> None:
    from detection.decisions import fold_activity_record
    from detection.rules_config import Learning

    values: dict[str, EntityActivity] = {}
    deltas = [
        EntityActivityDelta(entity="terminal:D-1", hours={HOUR: 1}),
        EntityActivityDelta(entity="merchant:D-m", hours={HOUR: 1}),
        EntityActivityDelta(entity="terminal:D-1", hours={HOUR: 2}),
    ]
    for offset in (4, 4, 3, 5):  # 4 again and 3: a replay below what the values hold
        fold_activity_record(deltas, offset, lambda e: values.setdefault(e, EntityActivity()), lambda: None, Learning())
    assert values["terminal:D-1"].window((HOUR + 1) * HOUR_S, 1, 0) == (6, 0)
    assert values["merchant:D-m"].window((HOUR + 1) * HOUR_S, 1, 0) == (2, 0)
    assert values["terminal:D-1"].folded_offset == 5
    assert EntityActivity.from_json(values["terminal:D-1"].to_json()).folded_offset == 5


async def test_a_copy_that_rejected_a_bad_value_folds_the_next_record_naming_it_as_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A table value nobody can decode (a foreign or older writer's): the writer fails every record naming that
    entity at its ``get`` (dead-lettered, the entities after it in the record not counted). A copy that looked
    the entity up to score first rejected the value (dead letter, ``None``) and then folds the same record into a
    fresh value, counting the entities after it: it differs from the table, and from a copy that did not look
    it up first, until the worker restarts and reads the table again (review2, session 12)."""
    from agents.tables import entity_activity

    raw = batch("terminal:BAD-1", "terminal:AFTER-1")
    with capturing(monkeypatch) as capture:
        async with update_entity_activity.test_context() as agent:
            agent.sent_offset = 11_000  # past the applied mark earlier tests left in the process's table
            entity_activity.data[b"terminal:BAD-1"] = b"{not json"  # in the writer's store, as restored
            await agent.put(raw, key=b"batch")
            await until(lambda: len(capture.sent[settings.topic_dead_letter]) >= 1)
            looked_up, not_looked_up = ActivityCopy(), ActivityCopy()
            for copy in (looked_up, not_looked_up):
                copy.begin()
                copy.handle(changelog_record(b"terminal:BAD-1", b"{not json", 0))
                copy.handle(changelog_record(APPLIED_KEY, b"10999", 1))
                copy.switch()
            assert looked_up.get("terminal:BAD-1") is None  # scoring looked it up: rejected, dead-lettered
            for copy in (looked_up, not_looked_up):
                with contextlib.suppress(ValueError):
                    copy.fold(activity_record(raw, 11_000))
    changelog = next(name for name in capture.sent if name.endswith("entity-activity-changelog"))
    assert b"terminal:AFTER-1" not in {r.key for r in capture.sent[changelog]}  # the table never counted it
    assert not_looked_up.get("terminal:AFTER-1") is None  # as the table
    assert looked_up.get("terminal:AFTER-1") is None  # as the table (counted from a fresh value before the fix)

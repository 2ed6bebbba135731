"""Terminal and merchant activity: deltas -> the activity table (one writer), and every worker's copy.

``update_entity_activity`` runs where the one-partition activity topic is assigned and folds its
records into the table, a batch at a time. Every worker reads the table's compacted changelog into
memory (``activity_copy``, which the detect agent reads) up to the table's applied mark, then folds the
activity topic's records after it itself, as the writer does: a restart reads one value per entity and
the records since, and no worker decodes an entity's whole value again for each delta.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import faust
from aiokafka import ConsumerRecord

from agents import topics
from agents.app import app
from agents.batching import in_partition_of, process_in_batches
from agents.broadcast import follow_in_worker
from agents.dead_letter import handle_guarded
from agents.metrics import worker_metrics
from agents.models import live_models
from agents.tables import entity_activity
from config import get_settings
from detection.activity import EntityActivity
from detection.decisions import EntityActivityBatch, EntityActivityDelta, activity_record_deltas, fold_activity_record
from detection.label_delay import LabelDelay

logger = logging.getLogger(__name__)
settings = get_settings()
STAGE = "activity"
APPLIED_KEY = b"\x00applied-offset"
#: The label delay learned from the frauds counted (detection.label_delay), one value for all entities.
LABEL_DELAY_KEY = b"\x00label-delay"
#: The key of a record carrying several entities' deltas.
BATCH_KEY = b"batch"


async def send_activity(deltas: list[EntityActivityDelta]) -> None:
    """Send ``deltas`` as one record (awaited: the feedback agent's effects go out one by one)."""
    if deltas:
        key, value = activity_message(deltas)
        await topics.entity_activity.send(key=key, value=value)


def activity_message(deltas: list[EntityActivityDelta]) -> tuple[bytes, bytes]:
    """Key and value of one activity-topic record carrying ``deltas`` (the topic has one partition:
    the key only says what the record is about)."""
    key = deltas[0].entity.encode() if len(deltas) == 1 else BATCH_KEY
    return key, EntityActivityBatch(deltas=deltas).model_dump_json().encode()


class ActivityFold:
    """The one writer's fold of the activity topic into the table, a batch of records at a time.

    A batch's records are folded into decoded values here and each entity changed is written once when
    the batch is done, with the label delay it taught and the applied mark last, so a batch is in the
    table whole or not at all: an entity at its bound is ~400 buckets, and a backlog's batch changes the
    busy terminals and merchants in most of its records (bench/RESULTS.md, session 12).

    Between batches the values folded last stay decoded (decoding them again from the table for every
    delta was half of the fold's cost, session 11), trusted only while this worker folds the partition's
    records one after another: an offset that does not follow the last one folded (a rebalance gave the
    partition to another worker for a while, a restart) empties them, so a value another writer left is
    read from the table again. At most ``kept`` are kept, the most recently folded (a decoded value is
    ~3.6x its stored bytes at the bound); the batch's changed ones until they are written."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self.entities: dict[bytes, EntityActivity] = {}  # oldest fold first
        self.changed: dict[bytes, EntityActivity] = {}  # folded in this batch, written at its end
        self.taught: LabelDelay | None = None  # the label delay this batch taught, written at its end
        self.applied: int | None = None  # the last offset folded, or the table's applied mark
        self.last_offset: int | None = None
        self.unwritten = False  # a record was folded since the last write

    def begin(self) -> None:
        """A batch starts: if the table's applied mark is not the one this fold last wrote or read, another
        writer folded records since (the partition was away and came back, maybe at the very offset after
        this fold's last one, when that writer died before committing): nothing kept is trusted."""
        if int(entity_activity.get(APPLIED_KEY) or -1) != self.applied:
            self.entities.clear()
            self.applied = self.last_offset = None  # takes() reads the mark again

    def takes(self, offset: int) -> bool:
        """Whether the record at ``offset`` is still to be folded; if so, it is the last one folded from now.

        An offset that does not follow the last one folded (a rebalance, a restart, a failed batch) empties
        the kept values and reads the table's applied mark again: a record redelivered after a rebalance
        is already in the table."""
        if self.last_offset is None or offset != self.last_offset + 1:
            self.entities.clear()
            self.applied = int(entity_activity.get(APPLIED_KEY) or -1)
        self.last_offset = offset
        if self.applied is not None and offset <= self.applied:
            return False
        self.applied, self.unwritten = offset, True
        return True

    def get(self, entity: str) -> EntityActivity:
        key = entity.encode()
        activity = self.entities.pop(key, None) or self.changed.get(key)
        if activity is None:
            raw = entity_activity.get(key)
            activity = EntityActivity.from_json(raw) if raw is not None else EntityActivity()
        if self.kept > 0:
            if len(self.entities) >= self.kept:
                del self.entities[next(iter(self.entities))]
            self.entities[key] = activity  # the newest at the end
        self.changed[key] = activity
        return activity

    def label_delay(self) -> LabelDelay | None:
        if self.taught is not None:
            return self.taught
        raw = entity_activity.get(LABEL_DELAY_KEY)
        return LabelDelay.from_json(raw) if raw is not None else None

    def write(self) -> None:
        """Write what the batch changed: the entities, the label delay, then the applied mark."""
        for key, activity in self.changed.items():
            entity_activity[key] = activity.to_json()
        if self.taught is not None:
            entity_activity[LABEL_DELAY_KEY] = self.taught.to_json()
        if self.unwritten:
            entity_activity[APPLIED_KEY] = str(self.applied).encode()
        self.changed.clear()
        self.taught, self.unwritten = None, False

    def forget(self) -> None:
        """A batch failed before its writes: nothing of it is in the table, so nothing of it is kept."""
        self.entities.clear()
        self.changed.clear()
        self.taught, self.unwritten = None, False
        self.applied = self.last_offset = None


folded = ActivityFold(settings.activity_fold_kept)


async def apply_activity_event(event: faust.EventT[bytes]) -> None:
    """Fold one record into the batch's values (written by ``fold_batch``)."""
    if not folded.takes(event.message.offset):
        return  # redelivered after a rebalance: already in the table
    # From here the record counts as applied even if it fails: every copy skips it too (ActivityCopy.fold).
    deltas = activity_record_deltas(event.value)
    learning = live_models.detector.config.learning
    taught = fold_activity_record(deltas, event.message.offset, folded.get, folded.label_delay, learning)
    if taught is not None:
        folded.taught = taught


async def fold_batch(events: Sequence[faust.EventT[bytes]]) -> None:
    """Fold a batch's records (a bad one to dead-letter, as every copy skips it), then write the batch."""
    try:
        with in_partition_of(events[0]):
            folded.begin()
        for event in events:
            with in_partition_of(event):
                await handle_guarded(event, apply_activity_event, STAGE)
        with in_partition_of(events[-1]):
            folded.write()
    except BaseException:
        folded.forget()  # the batch runs again record by record (agents.batching), from the table
        raise


@app.agent(topics.entity_activity, name=f"{__name__}.update_entity_activity")
async def update_entity_activity(stream: faust.StreamT[bytes]) -> None:
    # Gathered for activity_fold_within_s: a detect batch sends one record, so a batch that took only what
    # had arrived held one record and wrote every entity it named, each a whole history re-encoded.
    within_s = settings.activity_fold_within_s
    await process_in_batches(stream, fold_batch, STAGE, max_events=settings.batch_max_events, within_s=within_s)


@dataclass
class CopiedActivity:
    """What one worker's copy holds: entities (a changelog record kept as read until first needed), the
    learned label delay, and the activity-topic offset they include."""

    entities: dict[str, EntityActivity | ConsumerRecord] = field(default_factory=dict)
    label_delay: LabelDelay | None = None  # None until a fraud taught it: the rules file's prior
    #: the activity-topic offset the values include (the table's applied mark, then the copy's own folds)
    applied: int = -1
    #: a table value was read after the last applied mark: the records read end inside a fold
    inside_a_fold: bool = False
    #: entities whose table value could not be decoded (dead-lettered at lookup): the writer fails every record
    #: naming them, so a fold here must too, not count them from an empty value
    rejected: set[str] = field(default_factory=set)


class ActivityCopy:
    """This worker's copy of the activity table: the table's changelog read to its end, then the activity
    topic itself from the offset after the one the table had applied, each delta folded here.

    Folding the deltas (O(1) each) instead of following the table's changelog: a busy terminal's value
    is ~400 buckets at its bound, and the changelog carries the whole value again for every delta, which
    every worker decoded again to score (bench/RESULTS.md, session 12). The table stays, written by the one
    fold, so a restart reads one value per entity and only the activity records since.

    Changelog records are kept as read and decoded at first use (a lookup or a delta to fold). A read that
    starts again after a broker error builds a new copy and uses it only once it is complete."""

    topic = settings.topic_entity_activity

    def __init__(self) -> None:
        self.current = CopiedActivity()
        self._loading: CopiedActivity | None = None
        self.folding = False  # switched: folding the activity topic, the changelog read for the label delay only

    @property
    def entities(self) -> dict[str, EntityActivity | ConsumerRecord]:
        return self.current.entities

    @property
    def label_delay(self) -> LabelDelay | None:
        return self.current.label_delay

    def begin(self) -> None:
        self._loading = CopiedActivity()
        self.folding = False

    def handle(self, record: ConsumerRecord) -> None:
        """A changelog record: a value replaces the last. Once the copy folds the activity topic itself, only
        the label delay is taken from the changelog: the writer learns it under its own live rules (their
        half-life), and a copy that learned it under its own could differ until it restarted."""
        copy = self._loading if self._loading is not None else self.current
        key, value = record.key, record.value
        if self.folding and key != LABEL_DELAY_KEY:
            return
        if key == APPLIED_KEY:
            copy.applied, copy.inside_a_fold = int(value), False
            return
        copy.inside_a_fold = True
        if key == LABEL_DELAY_KEY:
            copy.label_delay = LabelDelay.from_json(value) if value is not None else None
            return
        if key is None or key.startswith(b"\x00"):
            return
        entity = key.decode(errors="replace")
        copy.rejected.discard(entity)
        if value is None:
            copy.entities.pop(entity, None)
        else:
            copy.entities[entity] = record

    def at_boundary(self) -> bool:
        copy = self._loading if self._loading is not None else self.current
        return not copy.inside_a_fold

    def switch(self) -> int:
        if self._loading is not None:
            self.current, self._loading = self._loading, None
        self.folding = True
        return self.current.applied + 1

    def fold(self, record: ConsumerRecord) -> None:
        """An activity-topic record, folded as the table's writer folds it (detection.decisions); the label
        delay it teaches is the writer's to learn (``handle``)."""
        copy = self.current
        if record.offset <= copy.applied:
            return
        copy.applied = record.offset
        fold_activity_record(
            activity_record_deltas(record.value),
            record.offset,
            lambda entity: self._to_fold(copy, entity),
            lambda: copy.label_delay,
            live_models.detector.config.learning,
        )

    def _to_fold(self, copy: CopiedActivity, entity: str) -> EntityActivity:
        if entity in copy.rejected:
            raise ValueError(f"{entity}: its table value could not be decoded (dead-lettered), as the writer fails")
        activity = self._decoded(copy, entity, reject=False)
        if activity is None:
            activity = copy.entities[entity] = EntityActivity()
        return activity

    def get(self, entity: str) -> EntityActivity | None:
        """The entity's activity (None: none counted, or its value was bad and went to the dead letters)."""
        return self._decoded(self.current, entity, reject=True)

    @staticmethod
    def _decoded(copy: CopiedActivity, entity: str, *, reject: bool) -> EntityActivity | None:
        value = copy.entities.get(entity)
        if isinstance(value, ConsumerRecord):
            try:
                value = copy.entities[entity] = EntityActivity.from_json(value.value)
            except Exception as exc:
                if not reject:
                    raise  # the table's writer fails this record too, and dead-letters it
                del copy.entities[entity]
                copy.rejected.add(entity)
                activity_reader.reject_later(value, exc)
                return None
        return value


activity_copy = ActivityCopy()


def load_activity(entity: str) -> EntityActivity | None:
    return activity_copy.get(entity)


def learned_label_delay() -> LabelDelay | None:
    return activity_copy.label_delay


def label_delay_summary() -> dict[str, float | int | None]:
    """The delay decisions assume now under the live rules (the prior until frauds taught one)."""
    return (activity_copy.label_delay or LabelDelay()).summary(live_models.detector.config.learning)


worker_metrics.label_delay = label_delay_summary


#: Every worker reads the table's changelog whole, then folds the activity topic from there (agents.broadcast);
#: detection waits until both caught up.
activity_reader = follow_in_worker(
    entity_activity.changelog_topic.get_topic_name(), activity_copy.handle, then=activity_copy
)

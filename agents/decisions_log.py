"""The decisions log, kept where decisions are made: the decisions table and terminal/merchant counts.

Every decision goes to the decisions topic (features as scored, for training: agents.detect). The
detect batch that made them also, here:

- writes each decision, without its vector, to the customer-partitioned decisions table, which the
  feedback agent reads to find a chargeback's terminal and merchant;
- folds the batch's decisions into one delta per terminal and merchant, sent as one record on the
  one-partition activity topic (agents.activity);
- sweeps a slice of each partition it wrote for decisions older than the chargeback horizon
  (agents.retention); their tombstones go out with the batch.

An agent used to read every decision back from the decisions topic to do this: a second Faust event,
a parse and a re-encode per transaction, and work that fell behind the detect agent under a backlog
and caught up later, so a worker's rate fell as it went. Here it is one table write per decision and
one record per batch, stored with the batch's other records before its offsets commit
(agents.batching): a crash replays the batch. A transaction decided again is a replay (it is in its
customer's state), logged again (the same key) but not counted again.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents import topics
from agents.activity import activity_message
from agents.batching import Event, in_partition_of
from agents.metrics import worker_metrics
from agents.retention import TableSweeper
from agents.tables import decisions
from config import get_settings
from detection.decisions import DecisionEntry, DecisionRecord, activity_deltas
from detection.metrics import DECISIONS_LOGGED
from tables.batched import Outbound, send_with_batch
from tables.decisions import decisions_retention

settings = get_settings()
expired_decisions = TableSweeper(decisions, decisions_retention(settings), settings.table_sweep_batch)


def log_decisions(logged: Sequence[tuple[Event, DecisionEntry]]) -> None:
    """Log a detect batch's decisions; each event is the record its transaction arrived in, on the
    customer's partition (the decisions table's partition)."""
    by_partition: dict[int, list[tuple[Event, DecisionEntry]]] = {}
    for event, record in logged:
        by_partition.setdefault(event.message.partition, []).append((event, record))
    for partition, entries in by_partition.items():
        with in_partition_of(entries[-1][0]):
            for _, record in entries:
                decisions[record.transaction_id.encode()] = record.table_value
                expired_decisions.observe(partition, record.ts)
            expired_decisions.sweep(partition, written=len(entries))
    deltas = activity_deltas(record for _, record in logged)
    if deltas:
        key, value = activity_message(deltas)
        send_with_batch(Outbound(topics.entity_activity.get_topic_name(), key, value))
    worker_metrics.incr(DECISIONS_LOGGED, len(logged))


def load_decision(transaction_id: str) -> DecisionRecord | None:
    """The logged decision of a transaction in the current event's (customer's) partition, if still kept."""
    raw = decisions.get(transaction_id.encode())
    return DecisionRecord.model_validate_json(raw) if raw is not None else None

"""Allow-list and suppression entries, read whole by every worker from the lists topic."""

from __future__ import annotations

from aiokafka import ConsumerRecord

from agents.broadcast import follow_in_worker
from config import get_settings
from detection.lists import ListBook, ListEntry

settings = get_settings()
list_book = ListBook()


def apply_list_record(record: ConsumerRecord) -> None:
    key = record.key.decode() if record.key else ""
    if record.value is None:  # a tombstone removes the entry
        list_book.remove(key)
        return
    entry = ListEntry.model_validate_json(record.value)
    if entry.key != key:
        raise ValueError(f"record key {key!r} is not the entry's key {entry.key!r}")
    list_book.put(entry)


lists_reader = follow_in_worker(settings.topic_lists, apply_list_record)

from __future__ import annotations

from agents.metrics import consumer_lag


def test_consumer_lag_counts_unread_records_and_never_goes_negative() -> None:
    assert consumer_lag({}, {"a": 10}, {}) is None
    # read offset 4 -> next to read is 5; end 10 -> 5 unread. A stale end below the read position counts 0.
    assert consumer_lag({"a": 4, "b": 9}, {"a": 10, "b": 3}, {}) == 5
    # nothing read yet from "c": the committed offset is the next to read.
    assert consumer_lag({"a": 4}, {"a": 10, "c": 7}, {"c": 2}) == 10

"""Hypothesis strategies for raw transaction messages: the good, and every kind of bad a feed sends.

Each drawn message is a ``FuzzedMessage`` that says whether it must validate; the fault tests and the
100 000-message run (``make faults``) send these through a real worker and account for every one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

#: Larger than any broker's default request limit once wrapped in a naive dead-letter envelope.
ONE_MIB = 1024 * 1024
#: Distinct messages Hypothesis draws; a larger stream repeats them (see draw_many).
CORPUS_MAX = 5_000


@dataclass(frozen=True)
class FuzzedMessage:
    key: bytes | None
    value: bytes | None
    valid: bool
    kind: str


def good_record(draw: st.DrawFn, now: datetime) -> dict[str, Any]:
    return {
        "transaction_id": draw(st.uuids()).hex,
        "timestamp": (now - timedelta(seconds=draw(st.integers(0, 3600)))).isoformat(),
        "customer_id": f"C{draw(st.integers(0, 199))}",
        "amount": draw(st.floats(min_value=0.01, max_value=50_000, allow_nan=False)),
        "currency": draw(st.sampled_from(["EUR", "USD", "GBP"])),
        "country": draw(st.sampled_from(["DE", "FR", "GB", None])),
    }


def _json(record: object) -> bytes:
    return json.dumps(record).encode()


@st.composite
def good_messages(draw: st.DrawFn, now: datetime) -> FuzzedMessage:
    record = good_record(draw, now)
    return FuzzedMessage(record["customer_id"].encode(), _json(record), True, "good")


#: Values that are never right for a required field, whatever its type.
WRONG_TYPES = st.one_of(st.none(), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.none()))
EXTREME_NUMBERS = st.sampled_from([0, -1, -1e308, 1e308, 1e400, 10**40, 2**63, -(2**63), -0.0])
EXTREME_DATES = st.sampled_from(
    [
        "1900-01-01T00:00:00+00:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-12:00",
        "1970-01-01T00:00:00Z",
        "2026-02-30T10:00:00+00:00",
        "yesterday",
        "2026-11-23T10:00:00",
    ]
)


@st.composite
def bad_messages(draw: st.DrawFn, now: datetime, max_message_bytes: int) -> FuzzedMessage:
    """One bad message; ``kind`` names how it is bad (not the reason the validator must give)."""
    record = good_record(draw, now)
    key = draw(st.one_of(st.none(), st.just(record["customer_id"].encode()), st.binary(max_size=40)))
    kind = draw(
        st.sampled_from(
            [
                "bytes",
                "truncated_json",
                "nested_json",
                "not_an_object",
                "wrong_type",
                "missing_field",
                "extreme_number",
                "extreme_date",
                "currency",
                "invalid_utf8",
                "oversized",
                "null_value",
            ]
        )
    )
    value: bytes | None
    if kind == "bytes":
        value = draw(st.binary(max_size=200).filter(lambda b: not b.strip().startswith(b"{")))
    elif kind == "truncated_json":
        whole = _json(record)
        value = whole[: draw(st.integers(0, len(whole) - 1))]
    elif kind == "nested_json":
        depth = draw(st.integers(2, 5000))
        value = b'{"a":' * depth + b"1" + b"}" * depth
    elif kind == "not_an_object":
        value = _json(draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), st.text(max_size=10))))
    elif kind == "wrong_type":
        field = draw(st.sampled_from(["transaction_id", "timestamp", "customer_id", "amount", "currency"]))
        value = _json({**record, field: draw(WRONG_TYPES)})
    elif kind == "missing_field":
        field = draw(st.sampled_from(["transaction_id", "timestamp", "customer_id", "amount", "currency"]))
        value = _json({k: v for k, v in record.items() if k != field})
    elif kind == "extreme_number":
        number = draw(EXTREME_NUMBERS)
        value = json.dumps({**record, "amount": number}).replace("Infinity", "1e400").encode()
    elif kind == "extreme_date":
        value = _json({**record, "timestamp": draw(EXTREME_DATES)})
    elif kind == "currency":
        value = _json({**record, "currency": draw(st.sampled_from(["eur", "", "Eu", "EURO", "XXX", "usd"]))})
    elif kind == "invalid_utf8":
        whole = _json(record)
        cut = whole.index(b'"customer_id"') + len(b'"customer_id": "')
        value = whole[:cut] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80abc"])) + whole[cut:]
    elif kind == "oversized":
        size = draw(st.sampled_from([max_message_bytes + 1, ONE_MIB]))
        padding = size - len(_json({**record, "city": ""}))
        value = _json({**record, "city": "x" * padding})
    else:
        value = None
        key = key or b"tombstone"  # a Kafka record needs a key or a value
    return FuzzedMessage(key, value, False, kind)


def mixed_messages(now: datetime, max_message_bytes: int, bad_share: float = 0.5) -> st.SearchStrategy[FuzzedMessage]:
    good_weight = max(1, round(100 * (1 - bad_share)))
    bad_weight = max(1, round(100 * bad_share))
    return st.one_of(*([good_messages(now)] * good_weight), *([bad_messages(now, max_message_bytes)] * bad_weight))


def draw_many(strategy: st.SearchStrategy[FuzzedMessage], count: int, max_one_mib: int) -> list[FuzzedMessage]:
    """``count`` messages drawn by Hypothesis's engine (for a stream to produce), at most ``max_one_mib`` of 1 MiB.

    Driving ``@given`` once with ``max_examples=count`` is ~50x faster than ``strategy.example()`` per message.
    """
    messages: list[FuzzedMessage] = []
    big = 0

    @settings(
        max_examples=min(count, CORPUS_MAX),
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(message: FuzzedMessage) -> None:
        nonlocal big
        if message.value is not None and len(message.value) >= ONE_MIB:
            if big >= max_one_mib:
                return
            big += 1
        messages.append(message)

    corpus_size = min(count, CORPUS_MAX)
    while len(messages) < corpus_size:
        collect()
    # Past the corpus, repeat it with fresh transaction ids on the good records, so each one is
    # accounted for on its own: drawing 100 000 one by one takes ~10 minutes of Hypothesis alone.
    # The 1 MiB ones are not repeated: ``max_one_mib`` of them is the whole point, and memory.
    corpus = messages[:corpus_size]
    small = [m for m in corpus if m.value is None or len(m.value) < ONE_MIB]
    stream = list(corpus)
    round_ = 0
    while len(stream) < count:
        round_ += 1
        stream.extend(renamed(message, round_) for message in small[: count - len(stream)])
    return stream


def renamed(message: FuzzedMessage, round_: int) -> FuzzedMessage:
    """A good message again, under a new transaction id; a bad one as it is."""
    if not message.valid or message.value is None:
        return message
    record = json.loads(message.value)
    record["transaction_id"] = f"{record['transaction_id']}-{round_}"
    return FuzzedMessage(message.key, _json(record), True, message.kind)

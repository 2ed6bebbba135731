"""Decoding a fetched answer for the bulk restore (agents.bulk_restore.decode_fetched): records from the offset
asked for, control batches skipped, and under read_committed the batches of aborted transactions skipped."""

from __future__ import annotations

import struct

from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.util import calc_crc32c

from agents.bulk_restore import decode_fetched

#: Offsets of the v2 batch header's fields (Kafka's record batch format).
CRC_AT, ATTRIBUTES_AT = 17, 21
CONTROL_FLAG = 0x20


def batch(
    base_offset: int,
    records: list[tuple[bytes | None, bytes | None]],
    producer_id: int = -1,
    transactional: bool = False,
    control: bool = False,
) -> bytes:
    """One record batch as a broker stores it, starting at ``base_offset``."""
    builder = DefaultRecordBatchBuilder(
        2, 0, int(transactional), producer_id, 0 if producer_id >= 0 else -1, -1, 1 << 20
    )
    for delta, (key, value) in enumerate(records):
        builder.append(delta, timestamp=None, key=key, value=value, headers=[])
    raw = bytearray(builder.build())
    struct.pack_into(">q", raw, 0, base_offset)
    if control:
        attributes = struct.unpack_from(">h", raw, ATTRIBUTES_AT)[0] | CONTROL_FLAG
        struct.pack_into(">h", raw, ATTRIBUTES_AT, attributes)
        struct.pack_into(">I", raw, CRC_AT, calc_crc32c(bytes(raw[ATTRIBUTES_AT:])))
    return bytes(raw)


ABORT = struct.pack(">hh", 0, 0)
COMMIT = struct.pack(">hh", 0, 1)


def offsets_keys_values(
    raw: bytes, offset: int, aborted: list[tuple[int, int]] | None, committed: bool
) -> list[tuple[int, bytes | None, bytes | None]]:
    return [(r.offset, r.key, r.value) for r in decode_fetched(raw, offset, aborted, committed).records]


def test_records_from_the_offset_asked_for_and_the_offset_after_the_last_batch() -> None:
    raw = batch(10, [(b"a", b"1"), (b"b", None), (b"c", b"3")]) + batch(13, [(b"d", b"4")])
    fetched = decode_fetched(raw, 11, None, read_committed=False)
    assert [(r.offset, r.key, r.value) for r in fetched.records] == [
        (11, b"b", None),
        (12, b"c", b"3"),
        (13, b"d", b"4"),
    ]
    assert fetched.next_offset == 14


def test_an_empty_answer_keeps_the_offset() -> None:
    assert decode_fetched(None, 7, None, read_committed=False).next_offset == 7
    assert decode_fetched(b"", 7, [], read_committed=True).records == []


def test_control_batches_are_skipped_but_counted_as_read() -> None:
    raw = batch(0, [(b"a", b"1")], producer_id=5, transactional=True) + batch(
        1, [(COMMIT, b"\x00\x00\x00\x00\x00\x00")], producer_id=5, transactional=True, control=True
    )
    fetched = decode_fetched(raw, 0, [], read_committed=True)
    assert [(r.offset, r.key) for r in fetched.records] == [(0, b"a")]
    assert fetched.next_offset == 2


def test_read_committed_skips_an_aborted_transaction_until_its_marker() -> None:
    raw = (
        batch(0, [(b"a", b"kept")], producer_id=7, transactional=True)  # before the abort's first offset
        + batch(1, [(b"b", b"aborted")], producer_id=8, transactional=True)
        + batch(2, [(b"c", b"other producer")], producer_id=9, transactional=True)
        + batch(3, [(ABORT, b"\x00\x00\x00\x00\x00\x00")], producer_id=8, transactional=True, control=True)
        + batch(4, [(b"d", b"after the abort")], producer_id=8, transactional=True)
        + batch(5, [(b"e", b"plain")])
    )
    aborted = [(8, 1)]
    committed = offsets_keys_values(raw, 0, aborted, True)
    assert [key for _, key, _ in committed] == [b"a", b"c", b"d", b"e"]
    uncommitted = offsets_keys_values(raw, 0, aborted, False)
    assert [key for _, key, _ in uncommitted] == [b"a", b"b", b"c", b"d", b"e"]

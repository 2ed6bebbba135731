"""The bulk read's recovery step is not cut off by Faust's per-step timeout (agents.bulk_restore.BulkRecovery._wait).

Faust bounds every recovery step by ``broker_request_timeout``; a step that outlasts it ends recovery
for good (mode's ``wait_first`` reports "stopped" and Faust's recovery task returns), so a worker
whose cold restore took longer than 90 s was never ready. The changelog read itself is replaced here
by a sleep longer than the timeout the step is given: no broker is needed to show the timeout's plumbing.
"""

from __future__ import annotations

import asyncio

import pytest
from faust.tables.recovery import Recovery, ServiceStopped

from agents.app import app
from agents.bulk_restore import BulkRecovery

TIMEOUT_S = 0.05
READ_S = 0.3


@pytest.fixture
async def recovery(monkeypatch: pytest.MonkeyPatch) -> BulkRecovery:
    async def offsets_from_stores(*_: object) -> None:  # Faust's part: stored offsets, no broker
        return None

    monkeypatch.setattr(Recovery, "_build_offsets", offsets_from_stores)
    return BulkRecovery(app, app.tables, beacon=app.tables.beacon, loop=asyncio.get_running_loop())


async def test_a_bulk_read_longer_than_the_step_timeout_runs_to_its_end(
    recovery: BulkRecovery, monkeypatch: pytest.MonkeyPatch
) -> None:
    finished: list[str] = []

    async def slow_read(*_: object) -> None:
        await asyncio.sleep(READ_S)
        finished.append("read")

    monkeypatch.setattr(recovery, "_restore_in_bulk", slow_read)
    monkeypatch.setattr(app, "bulk_restore", object())  # options present: the bulk read runs
    await recovery._wait(recovery._build_offsets(app.consumer, set(), {}, "active"), timeout=TIMEOUT_S)
    assert finished == ["read"]


async def test_any_other_step_keeps_faust_s_timeout(recovery: BulkRecovery) -> None:
    """What the bulk read would meet without the exception: the step is cancelled and recovery ends."""
    with pytest.raises(ServiceStopped):
        await recovery._wait(asyncio.sleep(READ_S), timeout=TIMEOUT_S)

"""A worker's data dir is held by one process at a time, and a killed holder leaves no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.data_dir import DataDirLock, forget_table_state

HOLD = """
import sys, time
from pathlib import Path
from runtime.data_dir import DataDirLock, forget_table_state
DataDirLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_a_second_worker_on_the_same_data_dir_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], cwd=repo, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(SystemExit) as refused:
            DataDirLock(tmp_path).acquire()
        assert f"in use by another worker (pid {holder.pid})" in str(refused.value)
        assert "FRAUDWATCH_DATA_DIR" in str(refused.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    lock = DataDirLock(tmp_path)  # kill -9 released it: no stale lock file blocks a restart
    lock.acquire()
    assert (tmp_path / ".worker.lock").read_text() == str(os.getpid())
    lock.release()


def test_a_released_lock_can_be_taken_again(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path)
    first.acquire()
    first.release()
    second = DataDirLock(tmp_path)
    second.acquire()  # non-blocking: it would raise SystemExit if the first still held it
    second.release()


def test_a_new_embedded_broker_clears_the_tables_of_the_old_one_unless_a_worker_holds_them(tmp_path: Path) -> None:
    tables = tmp_path / "v1" / "tables" / "customer-behaviour-1.db"
    tables.mkdir(parents=True)
    (tmp_path / ".worker.lock").write_text("123")
    repo = Path(__file__).resolve().parents[2]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], cwd=repo, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert forget_table_state(tmp_path, lock_held=False) == []  # a running worker's state is left alone
        assert tables.exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert forget_table_state(tmp_path, lock_held=False) == [tmp_path / "v1"]
    assert not (tmp_path / "v1").exists() and (tmp_path / ".worker.lock").exists()
    assert forget_table_state(tmp_path / "never-used", lock_held=False) == []

"""Check the data dir before anything starts: an unwritable one is a clear message and exit 1, not a traceback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def ensure_writable(directory: Path) -> None:
    """Create ``directory`` (with parents: Faust does not) and prove a file can be written there.

    Raises SystemExit with a message that says what is wrong and what to do.
    """
    probe = directory / f".write-probe-{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"fraudwatch")
        probe.unlink()
    except OSError as exc:
        raise SystemExit(
            f"fraudwatch: the data dir {directory} is not writable ({exc.strerror or exc}): "
            "fix its permissions or free space, or set FRAUDWATCH_DATA_DIR to a writable directory"
        ) from exc


class DataDirLock:
    """An exclusive lock on a worker's data dir, held for the life of the process.

    Two workers on one machine sharing a data dir fight over every partition's RocksDB lock: Faust retries
    each open for 30 s and then crashes, and the tables of both stop converging. Kafka and Kafka Streams
    lock their state directories for the same reason; the OS releases the lock when the process dies, so a
    kill -9 leaves nothing stale behind.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / ".worker.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise SystemExit naming the process that holds it."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise SystemExit(
                f"fraudwatch: the data dir {self.path.parent} is in use by another worker (pid {holder}); "
                "give each worker on one machine its own FRAUDWATCH_DATA_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def forget_table_state(directory: Path, *, lock_held: bool) -> list[Path]:
    """Remove the tables' local state (RocksDB, under Faust's app dir) from a worker's data dir.

    For a newly started embedded broker: it keeps its log in memory, so it has none of the
    changelogs that local state was restored from. Faust refuses to start on a store ahead of its
    changelog (ConsistencyError: persisted offset > highwater), so without this a second
    ``make demo`` crashed. Left alone when another process holds the data dir's lock (a worker
    is using it). Returns what was removed.
    """
    if not directory.exists():
        return []
    lock = None if lock_held else DataDirLock(directory)
    if lock is not None:
        try:
            lock.acquire()
        except SystemExit:
            return []
    try:
        stale = [child for child in directory.iterdir() if child.is_dir()]
        for child in stale:
            shutil.rmtree(child)
        return stale
    finally:
        if lock is not None:
            lock.release()

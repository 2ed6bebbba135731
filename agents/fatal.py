"""Errors that stop the worker instead of dead-lettering the record: the fault is ours, not the record's.

A full or read-only data dir fails every state write. Dead-lettering each transaction as an
"internal_error" (what happened before) turns a disk alarm into a silent stream of good records
set aside. Stopping with a clear message and a non-zero exit leaves the offsets uncommitted, so
the records are processed again once the disk is fixed, and the orchestrator sees a failed worker.
"""

from __future__ import annotations

import errno
import logging

from config import get_settings

logger = logging.getLogger(__name__)

#: errno values of a data dir that cannot take writes.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO})
#: RocksDB reports these Status codes as exceptions whose message starts with the code's name.
ROCKSDB_STORAGE_PREFIXES = ("IO error", "Corruption", "No space")


class StorageFailureError(RuntimeError):
    """The worker's data dir cannot take writes (full, read-only, gone or corrupt)."""


def storage_failure(exc: BaseException) -> StorageFailureError | None:
    """The exception as a StorageFailureError with a message that says what to do, or None if it is not one."""
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        cause = f"{errno.errorcode.get(exc.errno or 0, exc.errno)}: {exc}"
    elif not isinstance(exc, OSError) and str(exc).startswith(ROCKSDB_STORAGE_PREFIXES):
        cause = str(exc)
    else:
        return None
    data_dir = get_settings().data_dir.resolve()
    return StorageFailureError(
        f"the data dir {data_dir} cannot take writes ({cause}); free space or fix its permissions, "
        "or point FRAUDWATCH_DATA_DIR elsewhere, then start the worker again: nothing was committed past "
        "the failed record"
    )

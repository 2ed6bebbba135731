"""Test-wide environment: set before any fraudwatch module reads its settings."""

from __future__ import annotations

import os
import tempfile

# Unit tests never connect: agents run in Faust's test_context with in-memory tables.
os.environ.setdefault("FRAUDWATCH_BROKER", "kafka://127.0.0.1:1")
os.environ.setdefault("FRAUDWATCH_STORE", "memory://")
os.environ.setdefault("FRAUDWATCH_DATA_DIR", tempfile.mkdtemp(prefix="fraudwatch-test-"))

"""The fault suite runs against the same real embedded broker and worker processes as the integration tests."""

from __future__ import annotations

import pytest

from tests.integration.conftest import broker, start_worker, system

__all__ = ["broker", "start_worker", "system"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "faults" in str(item.fspath):
            item.add_marker(pytest.mark.integration)

from __future__ import annotations

import uuid

import pytest

from detection.alert import ALERT_ID_NAMESPACE
from detection.audit import AUDIT_ID_NAMESPACE
from detection.ids import stable_id


@pytest.mark.parametrize("namespace", [AUDIT_ID_NAMESPACE, ALERT_ID_NAMESPACE])
@pytest.mark.parametrize("name", ["decision|T1|decided|rules-v1", "", "é|ü|€", "x" * 300])
def test_stable_ids_are_exactly_uuid5(namespace: uuid.UUID, name: str) -> None:
    """Ids already on topics were uuid5: a replay after the upgrade must still get the same id."""
    assert stable_id(namespace, name) == str(uuid.uuid5(namespace, name))

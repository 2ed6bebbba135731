from __future__ import annotations

import json
from pathlib import Path

from runtime.schemas import SCHEMAS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_committed_json_schemas_match_the_models() -> None:
    """docs/schemas is what other teams read: regenerate with `fraudwatch schemas` when a contract changes."""
    for name, model in SCHEMAS.items():
        committed = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert committed == model.model_json_schema(), f"{name}.schema.json is stale: run `fraudwatch schemas`"

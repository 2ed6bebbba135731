"""JSON Schema files generated from the pydantic contracts (docs/schemas/)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from detection import models
from detection.alert import Alert
from detection.decisions import DecisionRecord, EntityActivityDelta
from detection.model import ModelArtifact
from detection.model_registry import ModelEvent

SCHEMAS: dict[str, type[BaseModel]] = {
    "alert": Alert,
    "transaction": models.Transaction,
    "customer": models.Customer,
    "blacklist-entry": models.BlacklistEntry,
    "credit-score": models.CreditScore,
    "fraud-report": models.FraudReport,
    "feedback": models.Feedback,
    "merchant-risk-update": models.MerchantRiskUpdate,
    "dead-letter": models.DeadLetter,
    "metrics-snapshot": models.MetricsSnapshot,
    "decision-record": DecisionRecord,
    "entity-activity-delta": EntityActivityDelta,
    "model-artifact": ModelArtifact,
    "model-event": ModelEvent,
}


def write_schemas(output_dir: Path) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = output_dir / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
        written.append(path)
    return written

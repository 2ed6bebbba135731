"""JSON Schema files generated from the pydantic contracts (docs/schemas/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pydantic import BaseModel

from detection import models
from detection.alert import Alert
from detection.audit import AuditRecord
from detection.cases import Case, CaseCommand
from detection.decisions import DecisionRecord, EntityActivityBatch, EntityActivityDelta
from detection.lists import ListEntry
from detection.model import ModelArtifact
from detection.model_registry import ModelEvent
from detection.rule_sets import RuleSetPublished, RulesPointer
from detection.sources import REFERENCE_SOURCES


def schema_name(model: type[BaseModel]) -> str:
    """'MerchantRiskUpdate' -> 'merchant-risk-update' (the file docs/schemas/<name>.schema.json)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", model.__name__).lower()


#: Every topic's value contract: the reference sources' models come from their registry.
CONTRACTS: tuple[type[BaseModel], ...] = (
    Alert,
    models.Transaction,
    *(source.model for source in REFERENCE_SOURCES),
    models.Feedback,
    models.MerchantRiskUpdate,
    models.DeadLetter,
    models.MetricsSnapshot,
    DecisionRecord,
    EntityActivityDelta,
    EntityActivityBatch,
    ModelArtifact,
    ModelEvent,
    RuleSetPublished,
    RulesPointer,
    ListEntry,
    AuditRecord,
    Case,
    CaseCommand,
)
SCHEMAS: dict[str, type[BaseModel]] = {schema_name(model): model for model in CONTRACTS}


def write_schemas(output_dir: Path) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in SCHEMAS.items():
        path = output_dir / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
        written.append(path)
    return written

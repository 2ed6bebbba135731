"""Reading the backtest's input files as the live path reads its topics: a record that fails its
contract is counted by reason and skipped (the live validator dead-letters it), never fatal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from detection.models import Transaction
from detection.validation import Rejection, ValidationLimits, field_errors, is_not_json, validate_transaction
from producers.replay import raw_records

Model = TypeVar("Model", bound=BaseModel)
#: The report lists the first rejected lines with their reasons, up to this many.
MAX_EXAMPLES = 20
#: A replay has no "now": the live checks against future and stale timestamps do not apply to history.
_NO_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass
class Rejections:
    """Records skipped because they fail their contract, counted per input and reason."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, source: str, path: Path, line_number: int, rejection: Rejection) -> None:
        self.counts[(source, rejection.reason)] += 1
        if len(self.examples) < MAX_EXAMPLES:
            detail = "; ".join(f"{e.loc}: {e.msg}" if e.loc else e.msg for e in rejection.errors)
            self.examples.append(f"{path.name}:{line_number}: {rejection.reason}: {detail}")

    def merge(self, other: Rejections) -> None:
        self.counts.update(other.counts)
        self.examples = sorted(self.examples + other.examples, key=_line_order)[:MAX_EXAMPLES]

    def report(self) -> dict[str, Any]:
        per_source: dict[str, dict[str, int]] = {}
        for (source, reason), count in sorted(self.counts.items()):
            per_source.setdefault(source, {})[reason] = count
        return {
            "rejected": sum(self.counts.values()),
            "rejected_by_reason": per_source,
            "rejected_lines": self.examples,
        }


def parse_transaction(raw: bytes, limits: ValidationLimits) -> Transaction | Rejection:
    return validate_transaction(raw, limits, _NO_FUTURE)


def read_records(path: Path, model: type[Model], source: str, rejections: Rejections) -> Iterator[Model]:
    """The valid records of a reference or feedback file; the others are counted in ``rejections``."""
    for line_number, raw in enumerate(raw_records(path), start=1):
        try:
            yield model.model_validate_json(raw)
        except ValidationError as exc:
            errors = field_errors(exc)
            reason = "not_json" if is_not_json(raw, errors) else "schema"
            rejections.add(source, path, line_number, Rejection(reason, errors))


def _line_order(example: str) -> tuple[str, int]:
    name, line, _ = example.split(":", 2)
    return name, int(line)

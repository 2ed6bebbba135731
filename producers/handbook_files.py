"""Write a Handbook-design simulation as the project's own contracts (JSONL), for `fraudwatch backtest`.

``transactions.jsonl`` holds :class:`detection.models.Transaction` records in event-time order;
``feedback.jsonl`` one chargeback (:class:`detection.models.Feedback`) per reported fraud, ``known_at``
its label delay after the payment, in ``known_at`` order; ``scenario.json`` the parameters and counts.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from producers.handbook import SCENARIO_PATTERNS, HandbookData
from producers.progress import Progress

#: Lines are formatted in blocks of this many, so memory stays flat at any size.
_BLOCK = 50_000


def transaction_id(index: int) -> str:
    return f"HB{index:09d}"


def customer_id(index: int) -> str:
    return f"C{index:05d}"


def terminal_id(index: int) -> str:
    return f"T{index:05d}"


def write_handbook_files(
    data: HandbookData, output_dir: Path, *, seed: int, feedback_with_terminal: bool = False
) -> dict[str, int]:
    """Write the files; ``feedback_with_terminal`` adds the terminal id to each chargeback.

    Real chargebacks often name only the transaction and the card, so by default they do.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    iso = _iso_times(data.timestamps)
    known_s = data.known_s
    reported = np.isfinite(known_s)
    known_at = _iso_times(np.where(reported, data.scenario.start_timestamp + known_s, 0.0))
    progress = Progress("generate", len(data))
    frauds = 0
    pending: list[tuple[float, str]] = []  # chargebacks, one per reported fraud (a few % of the rows)
    with (
        (output_dir / "transactions.jsonl").open("w") as transactions,
        (output_dir / "feedback.jsonl").open("w") as feedback,
    ):
        for first in range(0, len(data), _BLOCK):
            lines, chargebacks = [], []
            for i in range(first, min(first + _BLOCK, len(data))):
                scenario = int(data.scenario_number[i])
                tx = transaction_id(data.first_row + i)
                customer, terminal = customer_id(data.customer[i]), terminal_id(data.terminal[i])
                pattern = f',"fraud_pattern":"{SCENARIO_PATTERNS[scenario]}"' if scenario else ""
                lines.append(
                    f'{{"transaction_id":"{tx}","timestamp":"{iso[i]}","customer_id":"{customer}",'
                    f'"amount":{data.amount[i]:.2f},"currency":"EUR","terminal_id":"{terminal}",'
                    f'"is_fraud":{"true" if scenario else "false"}{pattern}}}\n'
                )
                if reported[i]:
                    with_terminal = f',"terminal_id":"{terminal}"' if feedback_with_terminal else ""
                    chargebacks.append(
                        (
                            known_s[i],
                            f'{{"transaction_id":"{tx}","is_fraud":true,"known_at":"{known_at[i]}",'
                            f'"source":"chargeback","customer_id":"{customer}"{with_terminal}}}\n',
                        )
                    )
            transactions.writelines(lines)
            pending.extend(chargebacks)
            frauds += len(chargebacks)
            progress.advance(len(lines))
        # In known_at order (stable: with one delay for all, that is event-time order).
        feedback.writelines(line for _, line in sorted(pending, key=lambda c: c[0]))
    progress.close()
    summary = scenario_summary(data, seed)
    (output_dir / "scenario.json").write_text(json.dumps(summary, indent=2) + "\n")
    return {"transactions.jsonl": len(data), "feedback.jsonl": frauds}


def scenario_summary(data: HandbookData, seed: int) -> dict[str, Any]:
    """The parameters, the seed and what came out of them (counts per scenario)."""
    parameters = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(data.scenario).items()}
    per_pattern = np.bincount(data.scenario_number, minlength=len(SCENARIO_PATTERNS))
    return {
        "design": "Fraud Detection Handbook transaction simulator (chapter 3)",
        "seed": seed,
        "parameters": parameters,
        "transactions": len(data),
        "frauds": int(data.is_fraud.sum()),
        "frauds_reported": int(np.isfinite(data.known_s).sum()),
        "frauds_per_pattern": {SCENARIO_PATTERNS[i]: int(per_pattern[i]) for i in range(1, len(SCENARIO_PATTERNS))},
    }


def _iso_times(timestamps: npt.NDArray[np.float64]) -> list[str]:
    """ISO 8601 UTC strings with a zone, computed in one numpy pass (seconds resolution)."""
    as_datetime = timestamps.astype(np.int64).astype("datetime64[s]")
    return [f"{text}Z" for text in np.datetime_as_string(as_datetime, unit="s")]


def first_day(data: HandbookData) -> datetime:
    return datetime.fromtimestamp(data.scenario.start_timestamp, UTC)

"""Builders for the learning-loop tests: small real models (no fitting library needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from detection.features import FEATURE_NAMES, FEATURE_VERSION
from detection.model import ModelArtifact, encode_payload


def linear_artifact(
    version: str, weight_on: str = "amount_eur", weight: float = 1.0, bias: float = -5.0
) -> ModelArtifact:
    """A logistic model on one feature: probability = sigmoid(bias + weight * feature)."""
    document = {"kind": "linear", "intercept": bias, "weights": [weight], "mean": [0.0], "scale": [1.0]}
    return ModelArtifact(
        version=version,
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
        trained_until=datetime(2026, 3, 1, tzinfo=UTC),
        library="test",
        feature_names=[weight_on],
        payload=encode_payload(document),
        threshold=0.5,
        feature_version=FEATURE_VERSION,
    )


assert "amount_eur" in FEATURE_NAMES

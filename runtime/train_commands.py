"""``fraudwatch train`` and ``fraudwatch models``: fit a model from the decisions log, publish, promote, roll back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from faust.cli import AppCommand, option

from agents.app import app, broker_url
from agents.model_store import (
    TrainingRequest,
    change_registry,
    default_version,
    fit,
    load_registry,
    publish_trained,
    train_from_topics,
    who,
)
from agents.retrain import NOT_ENOUGH_LABELS_EXIT
from config import get_settings
from config.rules import load_rules
from detection.decisions import DecisionRecord
from detection.model_registry import Action, Registry, RegistryError
from detection.models import Feedback
from detection.training import NotEnoughLabelsError, training_params

settings = get_settings()


class NotEnoughLabels(click.ClickException):
    """Too few labels known yet: its own exit code, so scheduled retraining tells it from a failure."""

    exit_code = NOT_ENOUGH_LABELS_EXIT


_file = click.Path(exists=True, dir_okay=False, path_type=Path)


def _read_jsonl(path: Path, model: type[DecisionRecord] | type[Feedback]) -> list[Any]:
    items = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                items.append(model.model_validate_json(line))
            except ValueError as exc:
                raise click.ClickException(f"{path}:{number}: not a {model.__name__}: {exc}") from exc
    return items


@app.command(
    option("--cutoff", type=click.DateTime(), default=None, help="Label cut-off (UTC); default now."),
    option("--days", type=int, default=None, help="Days of decisions before the cut-off to learn from."),
    option("--version", "version_", default=None, help="Model version (default m<cut-off time>)."),
    option("--kind", type=click.Choice(["trees", "linear"]), default="trees", show_default=True),
    option("--promote/--shadow", default=False, help="Make it the champion at once (default: run it in shadow)."),
    option("--reason", default="trained with fraudwatch train", show_default=True),
    option("--actor", default=None, help="Who to record (default user@host)."),
    option("--decisions", type=_file, default=None, help="A decisions JSONL file instead of the decisions topic."),
    option("--feedback", type=_file, default=None, help="A feedback JSONL file (with --decisions)."),
    option("--no-publish", is_flag=True, default=False, help="Fit and report only."),
)
async def train(
    self: AppCommand,
    cutoff: datetime | None,
    days: int | None,
    version_: str | None,
    kind: str,
    promote: bool,
    reason: str,
    actor: str | None,
    decisions: Path | None,
    feedback: Path | None,
    no_publish: bool,
) -> None:
    """Fit a model on decisions joined with the feedback known at a cut-off, and publish it."""
    at = cutoff.replace(tzinfo=UTC) if cutoff is not None else datetime.now(UTC)
    learning = load_rules().learning
    request = TrainingRequest(
        cutoff=at,
        window_days=days or settings.retrain_window_days,
        version=version_ or default_version(at),
        params=training_params(learning, kind="linear" if kind == "linear" else "trees"),
        min_window_frauds=learning.train_min_frauds,
        max_window_days=learning.train_max_days,
    )
    url = broker_url(settings)
    try:
        if decisions is not None:
            labels = _read_jsonl(feedback, Feedback) if feedback is not None else []
            artifact = fit(_read_jsonl(decisions, DecisionRecord), labels, request)
        else:
            artifact = await train_from_topics(settings, url, request)
    except NotEnoughLabelsError as exc:
        raise NotEnoughLabels(f"not enough labels to train: {exc}") from exc
    summary: dict[str, object] = {"version": artifact.version, "library": artifact.library, **artifact.metrics}
    if not no_publish:
        try:
            role: Action = "promote" if promote else "shadow"
            event = await publish_trained(settings, url, artifact, role, actor or who(), reason)
        except RegistryError as exc:
            raise click.ClickException(str(exc)) from exc
        summary["published"] = event.action
    self.say(json.dumps(summary))


@app.command(
    click.argument("action", type=click.Choice(["list", "promote", "rollback", "shadow", "unshadow"])),
    click.argument("version", required=False),
    option("--reason", default="", help="Why (recorded with who and when)."),
)
async def models(self: AppCommand, action: str, version: str | None, reason: str) -> None:
    """List models; promote VERSION; rollback; shadow VERSION; unshadow. Each change is recorded."""
    url = broker_url(settings)
    if action == "list":
        self.say(json.dumps(registry_summary(await load_registry(url, settings.topic_models)), indent=2))
        return
    if action in ("promote", "shadow") and not version:
        raise click.ClickException(f"models {action} needs a VERSION (see `fraudwatch models list`)")
    try:
        event = await change_registry(settings, url, action, version, who(), reason)  # type: ignore[arg-type]
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from exc
    self.say(event.model_dump_json())


def registry_summary(registry: Registry) -> dict[str, object]:
    return {
        "champion": registry.champion,
        "shadow": registry.shadow,
        "models": [
            {
                "version": a.version,
                "trained_until": a.trained_until.isoformat(),
                "library": a.library,
                "threshold": a.threshold,
                "label_delay_days": a.label_delay_days,
                **a.metrics,
            }
            for a in registry.artifacts.values()
        ],
        "history": [e.model_dump(mode="json") for e in registry.events],
    }

"""compose.yaml against the Compose specification (no Docker engine here to run it).

The schema in data/compose-spec.schema.json is `compose/config/compose_spec.json` from the PyPI
wheel docker-compose 1.29.2 (Apache-2.0), copied unchanged; nothing is downloaded at test time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft201909Validator

from tests.integration.harness import REPO

SCHEMA = Path(__file__).parent / "data" / "compose-spec.schema.json"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return loaded


def test_compose_yaml_is_valid_against_the_compose_specification() -> None:
    validator = Draft201909Validator(json.loads(SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_compose_runs_the_whole_system_with_healthchecks_and_restart_policies() -> None:
    services = compose()["services"]
    assert set(services) >= {
        "redpanda",
        "console",
        "topic-init",
        "worker",
        "notifier",
        "dashboard",
        "generator",
        "mailpit",
        "prometheus",
    }
    long_running = {name for name, s in services.items() if name != "topic-init"}
    assert all(services[name].get("restart") in {"unless-stopped", "on-failure", "always"} for name in long_running)
    for name in ("redpanda", "worker", "notifier", "dashboard", "mailpit", "prometheus"):
        assert services[name]["healthcheck"]["test"], name


def test_workers_scale_out_with_a_volume_each_and_the_notifier_in_its_own_group() -> None:
    services = compose()["services"]
    worker, notifier = services["worker"], services["notifier"]
    assert "container_name" not in worker and "ports" not in worker  # both would clash with --scale worker=N
    assert worker["volumes"] == ["/data"]  # anonymous: one volume per replica
    assert worker["environment"]["FRAUDWATCH_SKIP_AGENTS"] == "notify"
    assert notifier["environment"]["FRAUDWATCH_RUN_AGENTS"] == "notify"
    assert notifier["environment"]["FRAUDWATCH_APP_ID"] != worker["environment"]["FRAUDWATCH_APP_ID"]
    assert worker["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"
    assert worker["environment"]["FRAUDWATCH_API_TOKEN"].startswith("${FRAUDWATCH_API_TOKEN:?")


def test_prometheus_scrapes_every_worker_replica() -> None:
    services = compose()["services"]
    mount = services["prometheus"]["volumes"][0].split(":")
    config = yaml.safe_load((REPO / mount[0]).read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    worker_job = jobs["fraudwatch-worker"]
    assert worker_job["metrics_path"] == "/metrics"
    assert worker_job["dns_sd_configs"][0]["names"] == ["worker"] and worker_job["dns_sd_configs"][0]["port"] == 6066

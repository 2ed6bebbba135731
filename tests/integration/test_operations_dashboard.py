"""In a real browser: an analyst works a case from open to closed as fraud, and publishes a rule set.

Needs Debian's chromium (.ci/run installs it); Playwright drives it through executable_path.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from config.settings import Settings
from detection.models import Feedback
from runtime.broker import EmbeddedBroker
from tests.integration.harness import WorkerProcess, get_json, open_dashboard, read_topic, wait_for
from tests.integration.ops_harness import rules_file
from tests.integration.test_dashboard_e2e import (  # noqa: F401  (fixtures)
    CHROMIUM,
    CHROMIUM_ARGS,
    dashboard_env,
    processes,
)
from tests.integration.test_detection import produce, transaction, warm_up

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (.ci/run installs it)")


async def test_an_analyst_closes_a_case_as_fraud_and_publishes_a_rule_set_from_the_page(
    broker: EmbeddedBroker,
    dashboard_env: tuple[Settings, dict[str, str]],  # noqa: F811
    start_worker: Callable[..., WorkerProcess],
    processes: Callable[..., subprocess.Popen[bytes]],  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    settings, env = dashboard_env
    start_worker(env)
    await warm_up(broker, settings)
    burst = [transaction(n, "C-ui", seconds=n) for n in range(1, 7)]  # VELOCITY alerts on the 5th and 6th
    await produce(broker, settings.topic_raw_transactions, burst, b"C-ui")
    processes(env, "dashboard", "dashboard")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await open_dashboard(browser, settings.dashboard_port, height=2400)
        case_cell = page.locator('.tabulator-cell[tabulator-field="case_id"]').first
        await case_cell.wait_for(timeout=90_000)
        await case_cell.click()
        await page.get_by_text("customer C-ui").first.wait_for(timeout=15_000)
        await page.get_by_role("button", name="Investigating").click()
        await page.get_by_text("-> investigating").wait_for(timeout=15_000)
        await page.get_by_role("button", name="Close as fraud").click()
        await page.get_by_text("feedback published").wait_for(timeout=15_000)

        strict = rules_file(tmp_path / "strict.toml", "2026.12.7", alert_threshold=40)
        await page.locator("textarea").fill(strict.read_text())
        await page.get_by_placeholder("required: goes to the audit trail").fill("catch more from the page")
        await page.get_by_role("button", name="Publish rules").click()
        await page.get_by_text("every worker switches at its offset").wait_for(timeout=15_000)
        await browser.close()

    feedback = [Feedback.model_validate_json(r.value) for r in await read_topic(broker.url, settings.topic_feedback, 2)]
    assert sorted(f.transaction_id for f in feedback) == ["C-ui-5", "C-ui-6"]
    assert all(f.is_fraud and f.source == "analyst" for f in feedback)

    async def switched() -> bool:
        _, rules = await get_json(settings.web_port, "/api/rules")
        return bool(rules["active"]["rules_version"].startswith("2026.12.7+"))

    await wait_for(switched, timeout_s=30)

"""End to end in a real browser: broker, worker, generator, dashboard server, headless Chromium.

Needs Debian's chromium (.ci/run installs it); Playwright drives it through executable_path.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from config.settings import Settings
from detection.models import Feedback
from runtime.broker import EmbeddedBroker, free_port
from tests.integration.harness import REPO, WorkerProcess, open_dashboard, read_topic

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (.ci/run installs it)")


@pytest.fixture
def dashboard_env(system: tuple[Settings, dict[str, str]]) -> tuple[Settings, dict[str, str]]:
    settings, env = system
    port = free_port()
    env = {
        **env,
        "FRAUDWATCH_DASHBOARD_PORT": str(port),
        "FRAUDWATCH_WORKER_API_URL": f"http://127.0.0.1:{settings.web_port}",
    }
    return settings.model_copy(update={"dashboard_port": port}), env


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "runtime.cli", *args],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=30)


async def test_the_dashboard_shows_live_data_and_records_an_analysts_verdict(
    broker: EmbeddedBroker,
    dashboard_env: tuple[Settings, dict[str, str]],
    start_worker: Callable[..., WorkerProcess],
    processes: Callable[..., subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    settings, env = dashboard_env
    start_worker(env)
    processes(env, "generator", "generate", "--rate", "30", "--fraud-rate", "0.15", "--customers", "1000")
    processes(env, "dashboard", "dashboard")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await open_dashboard(browser, settings.dashboard_port)
        await page.wait_for_selector(".tabulator-row", timeout=90_000)
        transactions = page.locator("#kpi-transactions .kpi-value")
        first = await transactions.inner_text()
        later = first
        for _ in range(60):  # the numbers change without a reload (the locator re-queries the re-rendered card)
            await page.wait_for_timeout(500)
            later = await transactions.inner_text()
            if later != first:
                break
        assert int(later.replace(",", "")) > int(first.replace(",", ""))

        await page.locator(".tabulator-row").first.click()
        # Two steps, so a failure says which: the click reached the server (the alert's header shows),
        # then the worker's read API answered with the customer's history.
        await page.get_by_text(re.compile(r"· score \d+")).wait_for(timeout=15_000)
        history = page.get_by_text(re.compile("Recent transactions|history unavailable|Loading the customer"))
        for _ in range(30):
            shown = await history.first.inner_text()
            if "Loading" not in shown:
                break
            await page.wait_for_timeout(500)
        assert "Recent transactions" in shown, f"the worker's read API gave no history: {shown!r}"
        await page.get_by_role("button", name="Confirm fraud").click()
        status = page.get_by_text("is confirmed fraud")
        await status.wait_for(timeout=15_000)
        recorded = await status.inner_text()

        assert await page.locator(".bk-Canvas, canvas").count() >= 4
        assert await page.locator(".tabulator-row").count() >= 1
        screenshot = tmp_path / "dashboard.png"
        await page.screenshot(path=str(screenshot), full_page=True)
        await browser.close()

    feedback = [Feedback.model_validate_json(r.value) for r in await read_topic(broker.url, settings.topic_feedback, 1)]
    assert len(feedback) == 1 and feedback[0].is_fraud and feedback[0].source == "analyst"
    assert f"transaction {feedback[0].transaction_id} of customer {feedback[0].customer_id}" in recorded
    assert feedback[0].alert_id

    image = Image.open(screenshot).convert("RGB")
    assert image.width >= 1400 and image.height >= 1000
    colours = image.resize((300, 300)).getcolors(maxcolors=300 * 300) or []
    assert len(colours) > 100, "the screenshot looks blank: plots and table should give many colours"


async def test_with_a_password_the_dashboard_requires_a_login(
    dashboard_env: tuple[Settings, dict[str, str]], processes: Callable[..., subprocess.Popen[bytes]]
) -> None:
    import aiohttp

    settings, env = dashboard_env
    processes(
        {**env, "FRAUDWATCH_DASHBOARD_PASSWORD": "s3cret", "FRAUDWATCH_DASHBOARD_COOKIE_SECRET": "x" * 32},
        "dashboard-auth",
        "dashboard",
    )
    url = f"http://127.0.0.1:{settings.dashboard_port}"
    # unsafe=True: keep cookies for an IP address host (the login cookie).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        for _ in range(60):
            try:
                async with session.get(f"{url}/dashboard", allow_redirects=False) as response:
                    status, location = response.status, response.headers.get("Location", "")
                break
            except aiohttp.ClientConnectorError:
                await asyncio.sleep(0.5)
        assert status == 302 and "login" in location
        async with session.post(
            f"{url}/login", data={"username": "analyst", "password": "wrong"}, allow_redirects=False
        ) as response:
            assert "error" in response.headers.get("Location", "") or response.status in (401, 403)
        async with session.post(
            f"{url}/login", data={"username": "analyst", "password": "s3cret"}, allow_redirects=False
        ) as response:
            assert response.status == 302 and "error" not in response.headers.get("Location", "")
        async with session.get(f"{url}/dashboard", allow_redirects=False) as response:
            assert response.status == 200

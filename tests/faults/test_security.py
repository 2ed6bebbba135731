"""The read API needs its token when one is set, and no full account number leaves the worker."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp

from config.settings import Settings
from detection.models import BlacklistEntry, Customer, Transaction
from producers.kafka import kafka_producer
from runtime.broker import EmbeddedBroker
from tests.integration.harness import REPO, WorkerProcess, read_topic, wait_for

TOKEN = "s3cret-token"
ACCOUNT = "DE89370400440532013000"
CUSTOMER = "C-secure"


async def http_get(port: int, path: str, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}", headers=headers) as r:
        return r.status, await r.text()


def documented_get_paths() -> list[str]:
    """Every GET path in docs/api.md, with a known customer, merchant and terminal filled in."""
    text = (REPO / "docs" / "api.md").read_text()
    paths = set(re.findall(r"`GET (/[^`\[ ]+)", text))
    filled = {
        p.replace("{customer_id}", CUSTOMER).replace("{merchant_id}", "M1").replace("{alert_id}", "none") for p in paths
    }
    return sorted(filled)


async def test_the_read_api_requires_the_token_and_never_shows_a_full_account_number(
    broker: EmbeddedBroker,
    system: tuple[Settings, dict[str, str]],
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    settings, env = system
    worker = start_worker({**env, "FRAUDWATCH_API_TOKEN": TOKEN})
    customer = Customer(
        customer_id=CUSTOMER,
        name="Ada Secure",
        account_number=ACCOUNT,
        home_country="DE",
        account_opened=date(2020, 1, 1),
        typical_spend=40.0,
    )
    listed = BlacklistEntry(customer_id=CUSTOMER, reason="mule account", listed_at=datetime.now(UTC))
    purchase = Transaction(
        transaction_id="T-secure-1",
        timestamp=datetime.now(UTC),
        customer_id=CUSTOMER,
        amount=90.0,
        currency="EUR",
        merchant_id="M1",
        terminal_id="M1-T0",
    )
    async with kafka_producer(broker.url) as producer:
        await producer.send_and_wait(
            settings.topic_customers, customer.model_dump_json().encode(), key=CUSTOMER.encode()
        )
        await producer.send_and_wait(settings.topic_blacklist, listed.model_dump_json().encode(), key=CUSTOMER.encode())

    async def profile_served() -> bool:
        status, body = await http_get(settings.web_port, f"/api/customers/{CUSTOMER}")
        return status == 200 and "Ada Secure" in body and "mule account" in body

    # Reference topics and transactions are separate streams with no order between them: the
    # purchase is sent once the worker holds the profile and the listing, so it alerts.
    await wait_for(profile_served, timeout_s=60)
    async with kafka_producer(broker.url) as producer:
        await producer.send_and_wait(
            settings.topic_raw_transactions, purchase.model_dump_json().encode(), key=CUSTOMER.encode()
        )
    assert await read_topic(broker.url, settings.topic_alerts, 1, timeout_s=60)

    status, body = await http_get(settings.web_port, f"/api/customers/{CUSTOMER}", token=None)
    assert status == 401 and "token" in body
    assert (await http_get(settings.web_port, "/api/alerts", token="guess"))[0] == 403
    assert (await http_get(settings.web_port, "/", token=None))[0] == 401  # Faust's own pages too

    answers: dict[str, tuple[int, str]] = {}
    for path in [*documented_get_paths(), "/", "/stats/", "/router/", f"/table/customer-reference/{CUSTOMER}/"]:
        answers[path] = await http_get(settings.web_port, path)
    assert answers[f"/api/customers/{CUSTOMER}"][0] == 200
    assert "******************3000" in answers[f"/api/customers/{CUSTOMER}"][1]
    assert answers["/api/alerts"][0] == 200 and "******************3000" in answers["/api/alerts"][1]
    leaks = {path: status for path, (status, body) in answers.items() if ACCOUNT in body}
    assert not leaks, f"full account number in the answers of {leaks}"

    topics_out: dict[str, Any] = {}
    for topic in (settings.topic_alerts, settings.topic_validated_transactions, settings.topic_dead_letter):
        topics_out[topic] = await read_topic(broker.url, topic, expected=10**6, timeout_s=2)
    assert not [t for t, records in topics_out.items() if any(ACCOUNT.encode() in (r.value or b"") for r in records)]
    assert worker.stop() == 0

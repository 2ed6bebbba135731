"""Cases against the embedded broker: alerts open one case per customer; closing it as fraud sends the
feedback that reaches the customer's risk."""

from __future__ import annotations

from collections.abc import Callable

from config.settings import Settings
from detection.models import Feedback
from runtime.broker import EmbeddedBroker
from tests.integration.harness import WorkerProcess, get_json, read_topic, wait_for
from tests.integration.ops_harness import fraudwatch
from tests.integration.test_detection import produce, transaction, warm_up


async def test_alerts_open_one_case_and_closing_it_as_fraud_feeds_back_to_the_customers_risk(
    broker: EmbeddedBroker, system: tuple[Settings, dict[str, str]], start_worker: Callable[..., WorkerProcess]
) -> None:
    settings, env = system
    start_worker(env)
    await warm_up(broker, settings)
    burst = [transaction(n, "C-case", seconds=n) for n in range(1, 7)]  # VELOCITY alerts on the 5th and 6th
    await produce(broker, settings.topic_raw_transactions, burst, b"C-case")

    async def case_with_both_alerts() -> bool:
        status, cases = await get_json(settings.web_port, "/api/cases?customer=C-case&status=open")
        return status == 200 and cases["total"] == 1 and len(cases["items"][0]["alerts"]) == 2

    await wait_for(case_with_both_alerts, timeout_s=60, interval_s=0.2)
    case_id = (await get_json(settings.web_port, "/api/cases?customer=C-case"))[1]["items"][0]["case_id"]
    # Each command is a process start (seconds under load): moves, comments and refusals are covered by the
    # core's tests and the browser test; here assigning and closing from the command line.
    await fraudwatch(env, "cases", "assign", case_id, "ann", "--by", "lead")
    await fraudwatch(env, "cases", "status", case_id, "closed_fraud", "--by", "ann")

    feedback = [Feedback.model_validate_json(r.value) for r in await read_topic(broker.url, settings.topic_feedback, 2)]
    assert sorted(f.transaction_id for f in feedback) == ["C-case-5", "C-case-6"]
    assert all(f.is_fraud and f.source == "analyst" and f.alert_id for f in feedback)

    async def risk_raised() -> bool:
        status, reference = await get_json(settings.web_port, "/api/customers/C-case/reference")
        return status == 200 and len(reference.get("confirmed_frauds", [])) == 2

    await wait_for(risk_raised, timeout_s=30)
    history = (await fraudwatch(env, "audit", case_id)).stdout
    for change in ("opened", "alert added", "lead assigned to ann", "ann closed_fraud"):
        assert change in history, history
    closed = (await fraudwatch(env, "cases", "list", "--status", "closed", "--assignee", "ann")).stdout
    assert case_id in closed and "closed_fraud" in closed and "alerts 2" in closed

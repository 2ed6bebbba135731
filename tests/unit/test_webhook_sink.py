"""The webhook sink against a real local HTTP server: what is accepted, retried or refused for good."""

from __future__ import annotations

import pytest

from agents.sinks.protocol import PermanentDeliveryError, TemporaryDeliveryError
from agents.sinks.webhook import WebhookSink, signature
from config.settings import Settings
from detection.alert import Alert
from detection.models import Severity
from runtime.broker import free_port
from tests.alerts_fixture import make_alert
from tests.webhook_receiver import webhook_receiver


def sink_for(url: str, **overrides: object) -> WebhookSink:
    return WebhookSink(Settings(webhook_url=url, webhook_timeout_s=2, **overrides))  # type: ignore[arg-type]


async def test_a_2xx_delivers_the_alert_contract_signed_with_its_idempotency_key() -> None:
    alert = make_alert(1)
    async with webhook_receiver(status=202) as receiver:
        sink = sink_for(receiver.url, webhook_secret="s3cret")
        try:
            await sink.deliver(alert, sink.targets(alert))
        finally:
            await sink.close()
    [request] = receiver.accepted
    assert Alert.model_validate_json(request.body) == alert
    assert request.headers["Idempotency-Key"] == alert.alert_id
    assert request.headers["X-Fraudwatch-Signature"] == signature("s3cret", request.body)
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("status", [500, 503, 429, 408])
async def test_server_errors_and_throttling_are_temporary(status: int) -> None:
    alert = make_alert(2)
    async with webhook_receiver(status=status) as receiver:
        sink = sink_for(receiver.url)
        try:
            with pytest.raises(TemporaryDeliveryError, match=str(status)):
                await sink.deliver(alert, [receiver.url])
        finally:
            await sink.close()


@pytest.mark.parametrize("status", [400, 404, 410, 422])
async def test_other_client_errors_are_permanent_with_the_answer(status: int) -> None:
    alert = make_alert(3)
    async with webhook_receiver(status=status) as receiver:
        sink = sink_for(receiver.url)
        try:
            with pytest.raises(PermanentDeliveryError, match=f"HTTP {status}: no"):
                await sink.deliver(alert, [receiver.url])
        finally:
            await sink.close()


async def test_nobody_listening_is_temporary() -> None:
    sink = sink_for(f"http://127.0.0.1:{free_port()}/hook")
    try:
        with pytest.raises(TemporaryDeliveryError):
            await sink.deliver(make_alert(4), [sink.url])
    finally:
        await sink.close()


def test_alerts_below_the_minimum_severity_have_no_target() -> None:
    alert = make_alert(5)
    sink = sink_for("http://127.0.0.1:1/hook", webhook_min_severity=Severity.HIGH)
    assert sink.targets(alert.model_copy(update={"severity": Severity.MEDIUM})) == []
    assert sink.targets(alert.model_copy(update={"severity": Severity.HIGH})) == [sink.url]

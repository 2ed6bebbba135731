from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage

from agents.mail.policy import RateLimiter, RepeatGrouper, recipients_for
from agents.mail.render import alert_email, digest_email, message_id_for
from detection.models import Severity
from tests.alerts_fixture import make_alert


def parts(message: EmailMessage) -> dict[str, str]:
    parsed = message_from_bytes(message.as_bytes())
    return {
        p.get_content_type(): bytes(p.get_payload(decode=True)).decode()  # type: ignore[arg-type]
        for p in parsed.walk()
        if not p.is_multipart()
    }


def test_alert_email_has_text_and_html_with_reasons_masking_and_a_link() -> None:
    alert = make_alert(1, blacklisted=True)
    message = alert_email(alert, "fw@x", ["a@x", "b@x"], "http://dash/dashboard")
    assert message["Message-ID"] == message_id_for(alert.alert_id)
    assert alert.severity.upper() in message["Subject"] and "5,000.00 EUR" in message["Subject"]
    body = parts(message)
    assert set(body) == {"text/plain", "text/html"}
    for content in body.values():
        assert "BLACKLISTED" in content and "The customer is on the blacklist." in content
        assert "6819" in content and "GB29NWBK" not in content
        assert f"http://dash/dashboard?alert={alert.alert_id}" in content
    assert "<li><b>BLACKLISTED</b>" in body["text/html"]


def test_digest_lists_every_alert() -> None:
    alerts = [make_alert(n) for n in range(5)]
    body = parts(digest_email(alerts, "fw@x", "a@x", "http://dash"))
    assert all(a.alert_id in body["text/plain"] and a.alert_id in body["text/html"] for a in alerts)


def test_routing_by_severity_with_oncall_for_critical() -> None:
    critical = make_alert(1, blacklisted=True)
    assert critical.severity is Severity.CRITICAL
    assert recipients_for(critical, Severity.MEDIUM, ("a@x",), ("oncall@x",)) == ["a@x", "oncall@x"]
    medium = critical.model_copy(update={"severity": Severity.MEDIUM})
    assert recipients_for(medium, Severity.MEDIUM, ("a@x",), ("oncall@x",)) == ["a@x"]
    assert recipients_for(medium, Severity.HIGH, ("a@x",), ("oncall@x",)) == []


def test_rate_limit_is_a_sliding_minute_per_recipient() -> None:
    limiter = RateLimiter(per_minute=2)
    assert [limiter.allow("a", t) for t in (0, 1, 2)] == [True, True, False]
    assert limiter.allow("b", 2)
    assert limiter.allow("a", 60.0) and not limiter.allow("a", 60.5)


def test_repeats_for_the_same_customer_and_reasons_are_grouped_within_the_window() -> None:
    grouper = RepeatGrouper(window_s=600)
    alert, other_customer = make_alert(1, customer="C1"), make_alert(2, customer="C2")
    assert not grouper.is_repeat(alert, 0) and grouper.is_repeat(alert, 599)
    assert not grouper.is_repeat(other_customer, 10)
    assert not grouper.is_repeat(alert, 1200)

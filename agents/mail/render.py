"""An alert as an email: subject, plain text and HTML (multipart/alternative), and digests."""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import formatdate

from detection.alert import Alert
from detection.models import Severity

SEVERITY_COLOURS = {
    Severity.LOW: "#6b7280",
    Severity.MEDIUM: "#d97706",
    Severity.HIGH: "#dc2626",
    Severity.CRITICAL: "#7f1d1d",
}


def message_id_for(alert_id: str, domain: str = "fraudwatch") -> str:
    """Derived from the alert id, so a re-sent alert carries the same Message-ID and can be deduplicated."""
    return f"<alert-{alert_id}@{domain}>"


def subject_for(alert: Alert) -> str:
    t = alert.transaction
    where = t.merchant_id or t.country or "unknown merchant"
    return f"[fraudwatch {alert.severity.upper()}] {t.amount:,.2f} {t.currency} at {where} (score {alert.score})"


def alert_link(dashboard_url: str, alert: Alert) -> str:
    return f"{dashboard_url}?alert={alert.alert_id}"


def _facts(alert: Alert) -> list[tuple[str, str]]:
    t, c = alert.transaction, alert.customer
    return [
        ("Severity / score", f"{alert.severity} / {alert.score}"),
        ("Amount", f"{t.amount:,.2f} {t.currency} ({t.amount_eur:,.2f} EUR)"),
        ("When", t.timestamp.isoformat()),
        ("Customer", f"{c.name or ''} ({c.customer_id})".strip()),
        ("Account", c.account_number_masked or "-"),
        ("Merchant / terminal", f"{t.merchant_id or '-'} / {t.terminal_id or '-'} ({t.merchant_category or '-'})"),
        ("Channel / device", f"{t.channel or '-'} / {t.device_id or '-'}"),
        ("Where", ", ".join(part for part in (t.city, t.country) if part) or "-"),
        ("Transaction", t.transaction_id),
        ("Alert", alert.alert_id),
    ]


def render_text(alert: Alert, link: str) -> str:
    lines = [subject_for(alert), ""]
    lines += [f"{label}: {value}" for label, value in _facts(alert)]
    lines += ["", "Why:"] + [f"  - [{r.code}] {r.description}" for r in alert.reasons]
    lines += ["", f"Anomaly score: {alert.anomaly_score:.2f}", f"Open in the dashboard: {link}", ""]
    return "\n".join(lines)


def render_html(alert: Alert, link: str) -> str:
    e = html.escape
    colour = SEVERITY_COLOURS[alert.severity]
    rows = "".join(
        f"<tr><th align='left' style='padding:2px 12px 2px 0'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _facts(alert)
    )
    reasons = "".join(f"<li><b>{e(r.code)}</b>: {e(r.description)}</li>" for r in alert.reasons)
    return (
        "<!doctype html><html><body style='font-family:sans-serif'>"
        f"<h2 style='color:{colour};margin:0 0 8px'>{e(alert.severity.upper())} fraud alert — score {alert.score}</h2>"
        f"<table>{rows}</table><h3>Why</h3><ul>{reasons}</ul>"
        f"<p>Anomaly score {alert.anomaly_score:.2f}. <a href='{e(link)}'>Open this alert in the dashboard</a></p>"
        "</body></html>"
    )


def alert_email(alert: Alert, sender: str, recipients: list[str], dashboard_url: str) -> EmailMessage:
    link = alert_link(dashboard_url, alert)
    message = EmailMessage()
    message["Subject"] = subject_for(alert)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id_for(alert.alert_id)
    message["X-Fraudwatch-Alert-Id"] = alert.alert_id
    message.set_content(render_text(alert, link))
    message.add_alternative(render_html(alert, link), subtype="html")
    return message


def digest_email(alerts: list[Alert], sender: str, recipient: str, dashboard_url: str) -> EmailMessage:
    """Several alerts in one email: what was held back by the rate limit or grouped as repeats."""
    e = html.escape
    worst = max(alerts, key=lambda a: a.score)
    message = EmailMessage()
    message["Subject"] = (
        f"[fraudwatch digest] {len(alerts)} alerts, worst {worst.severity.upper()} (score {worst.score})"
    )
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    ids = sorted(a.alert_id for a in alerts)
    message["Message-ID"] = message_id_for("digest-" + ids[0] + f"-{len(ids)}")
    text = [f"{len(alerts)} alerts held back by the rate limit or grouped as repeats:", ""]
    text += [
        f"- {subject_for(a)} — {', '.join(r.code for r in a.reasons)} — {alert_link(dashboard_url, a)}" for a in alerts
    ]
    message.set_content("\n".join(text) + "\n")
    items = "".join(
        f"<li><a href='{e(alert_link(dashboard_url, a))}'>{e(subject_for(a))}</a> — "
        f"{e(', '.join(r.code for r in a.reasons))}</li>"
        for a in alerts
    )
    message.add_alternative(
        f"<!doctype html><html><body style='font-family:sans-serif'><h2>{len(alerts)} "
        f"fraud alerts</h2><ul>{items}</ul></body></html>",
        subtype="html",
    )
    return message

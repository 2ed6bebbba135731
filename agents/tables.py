"""The worker's tables, built on its app (the tables layer says how; this module says on which app)."""

from __future__ import annotations

from agents.app import app
from config import get_settings
from tables.activity import entity_activity_table
from tables.cases import open_cases_table
from tables.customers import alerted_transactions_table, customer_behaviour_table, customer_reference_table
from tables.decisions import decisions_table
from tables.merchants import merchant_risk_table
from tables.notifications import delivered_table
from tables.shadow import shadow_alerts_table

settings = get_settings()

customer_behaviour = customer_behaviour_table(app, settings)
customer_reference = customer_reference_table(app, settings)
alerted_transactions = alerted_transactions_table(app, settings)
merchant_risk = merchant_risk_table(app, settings)
sent_alerts = delivered_table(app, settings, "sent-alerts", "Alert emails accepted by the SMTP server, per recipient.")
decisions = decisions_table(app, settings)
entity_activity = entity_activity_table(app, settings)
shadow_alerts = shadow_alerts_table(app, settings)
open_cases = open_cases_table(app, settings)

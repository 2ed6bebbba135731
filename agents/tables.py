"""The worker's tables, built on its app (the tables layer says how; this module says on which app)."""

from __future__ import annotations

from agents.app import app
from config import get_settings
from tables.customers import alerted_transactions_table, customer_behaviour_table, customer_reference_table
from tables.merchants import merchant_risk_table
from tables.notifications import sent_alerts_table

settings = get_settings()

customer_behaviour = customer_behaviour_table(app, settings)
customer_reference = customer_reference_table(app, settings)
alerted_transactions = alerted_transactions_table(app, settings)
merchant_risk = merchant_risk_table(app, settings)
sent_alerts = sent_alerts_table(app, settings)

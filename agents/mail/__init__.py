"""Email delivery of alerts: rendering and policy (pure), the SMTP client, the notifier agent."""

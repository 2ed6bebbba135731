"""Alert sinks: where alerts go after the alerts topic (email, webhook, ...).

protocol.py says what a sink is (who gets an alert, now or in a digest, and how it is delivered);
runner.py is the one at-least-once agent every sink runs in (manual acks after the effect is
durable, a de-duplication table, backoff retries, put-back on stop, dead letters); agents/notify.py
wires the configured sinks to the worker's app.
"""

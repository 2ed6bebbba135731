"""The broker URL in the two forms the clients want (Faust's ``kafka://`` list and aiokafka's host list)."""

from __future__ import annotations


def bootstrap_servers(broker_url: str) -> list[str]:
    """'kafka://a:9092;kafka://b:9092' -> ['a:9092', 'b:9092'] (Faust's URL form to aiokafka's)."""
    return [part.split("://", 1)[-1] for part in broker_url.split(";") if part.strip()]

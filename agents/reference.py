"""Reference topics (one per source in detection.sources) -> customer_reference table.

An agent writes the table rather than the table reading these topics as its changelog: a
table only tails a changelog it does not own as a standby, so the active worker would never
see new entries (robinhood/faust #541).
"""

from __future__ import annotations

import faust

from agents import topics
from agents.dead_letter import send_to_dead_letter
from agents.guarded import guarded_agent
from agents.metrics import worker_metrics
from agents.state_access import load_reference, save_reference
from config import get_settings
from config.topics import reference_topics
from detection.metrics import Family, counter
from detection.models import FieldError
from detection.reference import CustomerReference

settings = get_settings()
STAGE = "reference"
#: Topic name -> the source whose records it carries.
SOURCES_BY_TOPIC = reference_topics(settings)


async def apply_reference_record(event: faust.EventT[bytes]) -> None:
    topic, key = event.message.topic, event.key
    if not key:
        await send_to_dead_letter(
            event, "missing_key", [FieldError(loc="key", msg="no customer id key", type="key")], STAGE
        )
        return
    source = SOURCES_BY_TOPIC[topic]
    record = source.parse(event.value)  # a pydantic error dead-letters the record (guarded_agent)
    reference = load_reference(key) or CustomerReference()
    source.apply(reference, record)
    save_reference(key, reference)
    worker_metrics.incr(counter(Family.REFERENCE, topic))


load_reference_data = guarded_agent(topics.reference_data, apply_reference_record, STAGE, name="load_reference_data")

"""Allow lists and suppression per customer, merchant or terminal, optionally per rule.

Order of precedence (docs/operations.md): block list > allow list > suppression > rules.

- A blacklisted customer is never allowed or suppressed: lists are ignored.
- An allow entry without a rule allows the transaction: no alert, decision ``allow``.
  An allow entry for a rule removes that rule's reason before scoring (the rule does not count
  for this customer, merchant or terminal).
- A suppression entry mutes alerts, it does not change the score or the decision: without a rule
  every alert is muted; with rules, an alert is muted when each reason it has is suppressed.
  A muted alert is still counted (``alerts.suppressed``).

Entries expire at ``expires_at`` compared with the transaction's event time, so a replay or a
backtest decides as the live worker did.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from pydantic import AwareDatetime, Field

from detection.models import Contract, NonEmpty, Transaction

ListName = Literal["allow", "suppress"]
Scope = Literal["customer", "merchant", "terminal"]


class ListEntry(Contract):
    """One allow or suppression entry (topic reference.lists, compacted, keyed by ``key``)."""

    list: ListName
    scope: Scope
    entity_id: NonEmpty
    rule: str | None = Field(None, description="A rule code (e.g. VELOCITY); null = every rule.")
    reason: str = Field(min_length=1, description="Why, in words: kept with the entry and in the audit trail.")
    expires_at: AwareDatetime | None = Field(None, description="No effect from this time on; null = until removed.")
    created_by: NonEmpty
    created_at: AwareDatetime

    @property
    def key(self) -> str:
        return entry_key(self.list, self.scope, self.entity_id, self.rule)

    def active_at(self, ts: float) -> bool:
        return self.expires_at is None or self.expires_at.timestamp() > ts


def entry_key(list_name: str, scope: str, entity_id: str, rule: str | None) -> str:
    """The compacted topic's key: a new entry for the same list, entity and rule replaces the old one."""
    return f"{list_name}:{scope}:{entity_id}:{rule or '*'}"


class ListBook:
    """Every list entry, indexed by (scope, entity id) for one lookup per transaction field."""

    def __init__(self) -> None:
        self._by_key: dict[str, ListEntry] = {}
        self._by_entity: defaultdict[tuple[str, str], dict[str, ListEntry]] = defaultdict(dict)

    def put(self, entry: ListEntry) -> None:
        self.remove(entry.key)
        self._by_key[entry.key] = entry
        self._by_entity[(entry.scope, entry.entity_id)][entry.key] = entry

    def remove(self, key: str) -> None:
        old = self._by_key.pop(key, None)
        if old is not None:
            self._by_entity[(old.scope, old.entity_id)].pop(key, None)

    def entries(self) -> list[ListEntry]:
        return sorted(self._by_key.values(), key=lambda e: e.key)

    def __len__(self) -> int:
        return len(self._by_key)

    def matching(self, transaction: Transaction) -> list[ListEntry]:
        """Entries for the transaction's customer, merchant or terminal still in effect at its event time."""
        ts = transaction.timestamp.timestamp()
        found: list[ListEntry] = []
        for scope, entity in (
            ("customer", transaction.customer_id),
            ("merchant", transaction.merchant_id),
            ("terminal", transaction.terminal_id),
        ):
            if entity is None or not self._by_entity:
                continue
            found.extend(e for e in self._by_entity.get((scope, entity), {}).values() if e.active_at(ts))
        return found


def describe(entry: ListEntry) -> str:
    until = f" until {entry.expires_at.isoformat()}" if entry.expires_at else ""
    return f"{entry.list} {entry.scope} {entry.entity_id} rule {entry.rule or '*'}{until}: {entry.reason}"

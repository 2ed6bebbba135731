"""The rule sets this worker decides with, switched live from the rules topic.

A switch of the active version rebases the live detector (agents.models: rules + champion model)
in one assignment between two transactions (one event loop), so a transaction is decided wholly
under one version; the rules-topic offset of the switch is kept beside it. A shadow version, when
one runs, is evaluated on the same state and reference data (with the same champion) and only
counted, never alerted.
"""

from __future__ import annotations

import logging
from collections import deque

from aiokafka import ConsumerRecord

from agents.broadcast import follow_in_worker
from agents.metrics import worker_metrics
from agents.models import live_models
from config import get_settings
from config.rules import load_rules
from detection.audit import ShadowOutcome
from detection.engine import Detector
from detection.lists import ListBook
from detection.metrics import SHADOW_RULES_ALERTS, SHADOW_RULES_TRANSACTIONS, Family, counter
from detection.models import Transaction
from detection.rule_sets import RULES_RECORD, RuleBook, Switch
from detection.rules_config import RulesConfig
from detection.verdict import DecisionContext, judge

logger = logging.getLogger(__name__)
settings = get_settings()
SWITCHES_KEPT = 50


class LiveRules:
    def __init__(self, default: RulesConfig) -> None:
        self.book = RuleBook(default)
        self.active_offset: int | None = None  # None: the rules file, no switch yet
        self.shadow: Detector | None = None
        self.shadow_offset: int | None = None
        self.switches: deque[Switch] = deque(maxlen=SWITCHES_KEPT)

    def apply(self, record: ConsumerRecord) -> None:
        if record.value is None:  # tombstones are not written by fraudwatch; nothing to undo
            return
        switch = self.book.apply(RULES_RECORD.validate_json(record.value), record.offset)
        if switch is None:
            return
        detector = Detector(self.book.config_of(switch.rules_version)) if switch.rules_version else None
        if switch.role == "active":
            assert detector is not None  # a null version is only allowed for the shadow (RulesPointer)
            live_models.rebase(detector)
            self.active_offset = switch.offset
        else:
            self.shadow, self.shadow_offset = detector, switch.offset
        self.switches.appendleft(switch)
        worker_metrics.incr(counter(Family.RULES_SWITCHED, switch.role))
        logger.info(
            "rules: %s now %s (offset %d, by %s)", switch.role, switch.rules_version, switch.offset, switch.changed_by
        )

    def run_shadow(
        self,
        transaction: Transaction,
        context: DecisionContext,
        lists: ListBook,
    ) -> ShadowOutcome | None:
        """The shadow version's would-be decision (call before the state learns the transaction); counted."""
        if self.shadow is None:
            return None
        shadow = self.shadow.with_model(live_models.detector.model)
        verdict = judge(transaction, context.evaluate(shadow, transaction), lists, shadow.config)
        worker_metrics.incr(SHADOW_RULES_TRANSACTIONS)
        if verdict.publish:
            worker_metrics.incr(SHADOW_RULES_ALERTS)
        return ShadowOutcome(rules_version=shadow.rules_version, score=verdict.decision.score, alert=verdict.publish)


live_rules = LiveRules(load_rules(settings.rules_file))
rules_reader = follow_in_worker(settings.topic_rules, live_rules.apply)

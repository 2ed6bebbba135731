"""The one settings object of fraudwatch.

Every tunable number lives here (or in the rules file it points to), read from
``FRAUDWATCH_*`` environment variables with typed defaults that run locally with
no setup. Nothing here does I/O beyond reading the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from detection.models import Severity

EMBEDDED = "embedded"
# A comma-separated list in the environment ("EUR,USD"), a tuple in code.
CsvList = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    """fraudwatch settings; each field is ``FRAUDWATCH_<FIELD NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="FRAUDWATCH_", extra="ignore", frozen=True)

    # --- platform -------------------------------------------------------------------------
    app_id: str = Field("fraudwatch", description="Faust app id: consumer group and topic prefix of tables.")
    broker: str = Field(
        EMBEDDED,
        description="'embedded' starts (or reuses) the bundled Tansu broker; otherwise a Kafka URL "
        "such as kafka://redpanda:9092 (several separated by ';').",
    )
    broker_profile: Literal["auto", "embedded", "kafka"] = Field(
        "auto",
        description="Which broker's quirks to set for: 'auto' = embedded when broker is 'embedded'; set "
        "'embedded' for a Tansu broker given by URL (as the integration tests do).",
    )
    store: str = Field(
        "rocksdb://", description="Faust table store: rocksdb:// in production, memory:// in unit tests."
    )
    data_dir: Path = Field(Path(".fraudwatch"), description="RocksDB files, embedded broker state, demo mailbox.")
    web_host: str = Field("127.0.0.1", description="Worker web server (read API) bind address.")
    web_port: int = Field(6066, description="Worker web server (read API) port.")
    api_token: str | None = Field(
        None,
        description="When set, every request to the worker's web server except /health, /ready and /metrics "
        "must carry 'Authorization: Bearer <token>'; the dashboard sends it too.",
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once", description="exactly_once needs broker transactions (Redpanda); never on embedded."
    )
    partitions: int = Field(
        4,
        ge=1,
        description="Partition count of every customer-keyed topic and table (they must match to co-partition).",
    )
    run_agents: CsvList = Field(
        (), description="Only these agents run in this worker (short names, e.g. 'notify'); empty runs all."
    )
    skip_agents: CsvList = Field((), description="These agents do not run in this worker (e.g. 'notify').")
    shutdown_grace_s: float = Field(
        10.0,
        gt=0,
        description="After SIGTERM the worker exits within this; records it has not finished stay uncommitted "
        "and are processed again on restart.",
    )
    metrics_interval_s: float = Field(1.0, gt=0, description="How often each worker publishes its metrics snapshot.")
    batch_max_events: int = Field(
        500, ge=1, description="Most transactions an agent takes in one batch (one state write per customer per batch)."
    )
    batch_within_s: float = Field(
        0.0,
        ge=0,
        description="Longest the transaction agents wait to fill a batch; 0 takes what has arrived without "
        "waiting: a lone record at once, a fetched backlog in batches of up to batch_max_events.",
    )

    # --- broker tuning; the embedded profile overrides these (see embedded_profile) ---------
    broker_rebalance_timeout_s: float = Field(
        60.0, gt=0, description="Group join wait (Faust broker_rebalance_timeout)."
    )
    broker_session_timeout_s: float = Field(60.0, gt=0, description="Consumer group session timeout.")
    broker_heartbeat_interval_s: float = Field(3.0, gt=0, description="Consumer group heartbeat interval.")
    consumer_fetch_max_wait_ms: int = Field(
        500, ge=0, description="Longest a fetch waits for data; Faust hard-codes 1500 ms, which is our latency floor."
    )
    broadcast_fetch_max_wait_ms: int = Field(
        250,
        ge=0,
        description="Longest a fetch of the followed topics (rules, lists, models, entity activity) waits: how soon "
        "a change reaches the worker on a broker that holds a fetch open for the whole wait (the embedded one). "
        "Each follower fetches this often while idle, on the thread that runs the agents.",
    )
    consumer_prefetch_backoff_ms: int = Field(
        5, ge=0, description="aiokafka holds fetches to a broker while fetched records wait; its 100 ms is our p99."
    )
    consumer_records_per_partition: int = Field(
        250,
        ge=0,
        description="Most records one poll of the worker's consumer takes from each partition (0: every fetched "
        "record, Faust's way). The fetch loop hands a poll's records to the agents before it polls again, so a "
        "poll of every busy partition's whole fetch (1 MiB each: ~4 400 transactions) kept the other "
        "partitions' fetched records, the terminal/merchant deltas among them, waiting for seconds of work.",
    )
    producer_max_batch_bytes: int = Field(
        16_384, ge=1, description="Faust producer batch size; 1 = one record per batch (embedded profile)."
    )
    generator_linger_ms: int = Field(
        5,
        ge=0,
        description="How long the live generator's producer gathers records into one batch per partition "
        "(embedded profile: 500 ms, since every fetch there costs in proportion to a partition's batch count).",
    )
    recovery_consistency_check: bool = Field(True, description="Faust's table recovery offset check.")
    probe_end_offsets: bool = Field(
        False,
        description="Correct end offsets by reading each partition's last batch (for a broker that reports "
        "the last batch's base offset + 1, as Tansu does; embedded profile).",
    )
    table_block_cache_bytes: int = Field(
        64 * 1024 * 1024, gt=0, description="RocksDB block cache per table partition (Faust's default is 2 GiB)."
    )
    table_write_buffer_bytes: int = Field(
        8 * 1024 * 1024,
        gt=0,
        description="RocksDB write buffer (memtable) per table partition, two at most (Faust's default: 3 x 64 MiB).",
    )
    table_rocksdb_ttl: bool = Field(
        False,
        description="Open the tables with RocksDB's TTL (expiry by write time). Off: with rocksdict, a "
        "database opened again judges values by their own last 4 bytes at compaction and drops live ones "
        "(customer states, stored offsets; tables.options says more).",
    )
    bulk_restore: bool = Field(
        True,
        description="Read active changelog partitions in large fetches before Faust's record-by-record "
        "recovery (agents.bulk_restore); false = Faust's recovery alone.",
    )
    restore_fetch_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Most bytes per fetch request of the bulk restore (one partition each); the embedded broker "
        "answers at most 5 MiB whatever is asked, so more than 5 MiB asks for its largest answer.",
    )
    table_standby_replicas: int = Field(
        0,
        ge=0,
        description="Faust's standby replicas: other workers follow each table partition's changelog, so a "
        "handover finds the state already local.",
    )
    table_sweep_batch: int = Field(
        200,
        ge=1,
        description="Entries a table's retention sweep looks at per batch and partition (tables.retention).",
    )

    # --- topics -----------------------------------------------------------------------------
    topic_raw_transactions: str = "transactions.raw"
    topic_validated_transactions: str = "transactions.validated"
    topic_rekeyed_transactions: str = "transactions.rekeyed"
    topic_dead_letter: str = "transactions.dead-letter"
    topic_customers: str = "reference.customers"
    topic_blacklist: str = "reference.blacklist"
    topic_credit_scores: str = "reference.credit-scores"
    topic_fraud_reports: str = "reference.fraud-reports"
    topic_merchant_risk: str = "reference.merchant-risk"
    topic_feedback: str = "fraud.feedback"
    topic_alerts: str = "fraud.alerts"
    topic_metrics: str = "fraudwatch.metrics"
    topic_notify_dead_letter: str = "fraud.alerts.undeliverable"
    topic_notify_retry: str = "fraud.alerts.notify-retry"
    topic_webhook_retry: str = "fraud.alerts.webhook-retry"
    topic_decisions: str = "fraud.decisions"
    topic_models: str = "fraudwatch.models"
    topic_entity_activity: str = "reference.entity-activity"
    topic_rules: str = "fraudwatch.rules"
    topic_lists: str = "reference.lists"
    topic_audit: str = "fraudwatch.audit"
    topic_cases: str = "fraud.cases"
    topic_case_commands: str = "fraud.case-commands"
    audit_retention_days: int = Field(400, ge=1, description="How long the audit topic keeps decisions and changes.")
    topic_retention_ms: int = Field(7 * 24 * 3600 * 1000, description="retention.ms of non-compacted topics.")

    # --- validation -------------------------------------------------------------------------
    max_message_bytes: int = Field(
        16 * 1024, gt=0, description="Raw transaction messages larger than this are dead-lettered."
    )
    max_amount: float = Field(
        1_000_000.0, gt=0, description="Amounts above this (in the transaction's currency) are invalid."
    )
    max_future_skew_s: float = Field(
        300.0, ge=0, description="Event times further ahead of the wall clock are invalid."
    )
    max_past_age_s: float = Field(
        400 * 24 * 3600.0,
        gt=0,
        description="Event times older than this before the wall clock are invalid ('stale_timestamp'); "
        "raise it to replay old files live.",
    )
    currencies: CsvList = Field(
        ("EUR", "USD", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "BRL", "INR", "SGD"),
        description="Accepted ISO 4217 codes (comma separated in the environment).",
    )

    # --- detection --------------------------------------------------------------------------
    rules_file: Path | None = Field(None, description="TOML rules file; default is the one shipped in config/.")
    state_ttl_s: int = Field(
        30 * 24 * 3600, gt=0, description="A customer's behaviour state is forgotten after this idle time."
    )

    # --- learning loop (decisions log, models, retraining) -----------------------------------
    chargeback_horizon_days: int = Field(
        120, ge=1, description="Decisions are kept (topic retention, table TTL) this long, for late chargebacks."
    )
    retrain_interval_s: float = Field(
        24 * 3600.0, ge=0, description="The leader retrains a shadow model this often; 0 turns scheduled training off."
    )
    retrain_window_days: int = Field(
        30, ge=1, description="Scheduled training learns from this many days of decisions."
    )
    activity_fold_kept: int = Field(
        2_000,
        ge=0,
        description="Terminal/merchant values the activity fold keeps decoded between records, most recently "
        "folded first (~20 KB each at their bound once scored, against ~5 KB as stored: session 12); 0 = decode every "
        "value again.",
    )
    activity_fold_within_s: float = Field(
        5.0,
        ge=0,
        description="How long the activity fold gathers records before it writes each terminal/merchant changed "
        "once: every worker folds the records into its own copy as they come, so the table only bounds a "
        "restart's catch-up, and each write re-encodes an entity's whole history (0 = write per arrived batch).",
    )

    # --- email ------------------------------------------------------------------------------
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    mail_from: str = "fraudwatch@localhost"
    mail_to: CsvList = ("fraud-analysts@localhost",)
    mail_min_severity: Severity = Severity.MEDIUM
    mail_oncall: CsvList = Field((), description="Also receive critical alerts (comma separated).")
    mail_rate_per_minute: int = Field(20, ge=1, description="Individual alert emails per recipient per minute.")
    mail_digest_interval_s: float = Field(
        60.0, gt=0, description="Alerts over the rate limit go out in a digest this often."
    )
    mail_group_window_s: float = Field(
        600.0, ge=0, description="Alerts for the same customer with the same reasons within this go to the digest."
    )
    smtp_timeout_s: float = Field(10.0, gt=0, description="Per SMTP operation.")
    smtp_retry_initial_s: float = Field(0.5, gt=0, description="First retry delay after a temporary SMTP failure.")
    smtp_retry_max_s: float = Field(60.0, gt=0, description="Longest retry delay (exponential backoff, full jitter).")
    sent_alerts_ttl_s: int = Field(14 * 24 * 3600, gt=0, description="How long sent alert ids are remembered.")

    # --- webhook ----------------------------------------------------------------------------
    webhook_url: str | None = Field(None, description="POST every alert as JSON here (unset: no webhook sink).")
    webhook_secret: str | None = Field(
        None, description="Signs each body: X-Fraudwatch-Signature: sha256=<HMAC-SHA256 hex of the body>."
    )
    webhook_min_severity: Severity = Severity.MEDIUM
    webhook_timeout_s: float = Field(10.0, gt=0, description="Per webhook request (connect, send, answer).")
    webhook_retry_initial_s: float = Field(0.5, gt=0, description="First retry delay after a temporary failure.")
    webhook_retry_max_s: float = Field(
        60.0, gt=0, description="Longest retry delay (exponential backoff, full jitter)."
    )
    commit_interval_s: float = Field(2.8, gt=0, description="Faust broker_commit_interval.")

    # --- dashboard --------------------------------------------------------------------------
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 5006
    dashboard_url: str = Field("http://127.0.0.1:5006/dashboard", description="Linked from alert emails.")
    dashboard_password: str | None = Field(None, description="Set to require a login (Panel basic auth).")
    dashboard_cookie_secret: str | None = Field(None, description="Signs login cookies; required with a password.")
    dashboard_alerts_kept: int = Field(5000, ge=100, description="Alerts the dashboard server keeps in memory.")
    dashboard_history_s: int = Field(900, ge=60, description="Seconds of per-second history in the charts.")
    worker_api_url: str = Field("http://127.0.0.1:6066", description="Worker read API, for customer history.")

    @field_validator("currencies", "mail_to", "mail_oncall", "run_agents", "skip_agents", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def decisions_retention_ms(self) -> int:
        return self.chargeback_horizon_days * 24 * 3600 * 1000

    @property
    def is_embedded(self) -> bool:
        return self.broker.strip().lower() == EMBEDDED

    @property
    def uses_embedded_profile(self) -> bool:
        return self.broker_profile == "embedded" or (self.broker_profile == "auto" and self.is_embedded)

    @property
    def embedded_state_file(self) -> Path:
        """Where a running embedded broker writes its URL and pid, so other processes find it."""
        return self.data_dir / "embedded-broker.json"

    def embedded_profile(self) -> Settings:
        """Settings for the embedded Tansu broker, whose quirks need these (never on Redpanda).

        - no transactions, so at-least-once;
        - a group join waits about half the session timeout, whatever the rebalance timeout
          (measured: 4 s -> 2 s, 20 s -> 10 s, 60 s -> 30 s), so the session timeout is short, but
          not 4 s as it was: aiokafka sends no heartbeat while a member's partition-assignment
          callback runs, and Faust's opens ~36 RocksDB databases there, 4-7 s on these 2 loaded
          cores, so a joining worker was dropped and rejoined, twice in every two-worker run
          (bench/RESULTS.md session 8). 10 s (a 5 s join) unless BROKER_SESSION_TIMEOUT_S is set;
        - it reports the log end as the last batch's base offset + 1, so a changelog restore
          would stop early (state lost after a wiped restart): the worker reads the last batch
          to find the true end (agents.transport). Writing one record per batch instead made
          the broker stall on partitions of more than ~12 000 batches;
        - its memory storage keeps every batch forever (no retention, no compaction, DeleteRecords
          unimplemented) and every fetch lists all of a partition's batches, giving up with an empty
          answer when that takes longer than the fetch's max wait (about 1 µs per batch: a 20 ms fetch
          stops answering between 10 000 and 20 000 batches, bench/RESULTS.md session 7), so the live
          generator gathers each partition's records for 500 ms into one batch (unless
          GENERATOR_LINGER_MS is set), and the worker's output follows its input's batches;
        - it holds every fetch open for the whole max wait, so lower it; but not to a few
          milliseconds: each fetch names every partition the worker reads (about forty), and at
          5 ms an idle worker spent 35 % of a core and the broker 40 % on empty fetches. 20 ms
          (unless CONSUMER_FETCH_MAX_WAIT_MS is set) measured 30 % less worker CPU per
          transaction under a backlog than 5 ms, for ~15 ms more latency at low rates
          (bench/RESULTS.md, session 6).
        """
        return self.model_copy(
            update={
                "processing_guarantee": "at_least_once",
                "broker_rebalance_timeout_s": 2.0,
                "broker_session_timeout_s": self.broker_session_timeout_s
                if "broker_session_timeout_s" in self.model_fields_set
                else EMBEDDED_SESSION_TIMEOUT_S,
                "broker_heartbeat_interval_s": 1.0,
                "probe_end_offsets": True,
                "consumer_fetch_max_wait_ms": self.consumer_fetch_max_wait_ms
                if "consumer_fetch_max_wait_ms" in self.model_fields_set
                else EMBEDDED_FETCH_MAX_WAIT_MS,
                "generator_linger_ms": self.generator_linger_ms
                if "generator_linger_ms" in self.model_fields_set
                else EMBEDDED_GENERATOR_LINGER_MS,
            }
        )


#: The embedded profile's session timeout (see Settings.embedded_profile).
EMBEDDED_SESSION_TIMEOUT_S = 10.0
#: The embedded profile's fetch wait (see Settings.embedded_profile).
EMBEDDED_FETCH_MAX_WAIT_MS = 20
#: The embedded profile's generator linger: fewer, larger batches (see Settings.embedded_profile).
EMBEDDED_GENERATOR_LINGER_MS = 500


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once from the environment)."""
    settings = Settings()
    return settings.embedded_profile() if settings.uses_embedded_profile else settings

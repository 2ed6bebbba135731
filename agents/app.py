"""The Faust application object. Agents, tables and topics live in their own modules and import it.

Start a worker with ``fraudwatch worker`` (or ``faust -A agents.app worker``).
"""

from __future__ import annotations

import logging
import socket
from datetime import timedelta
from functools import cached_property
from typing import Any

import faust
from faust.types import ConsumerT, TransportT
from mode.utils.queues import FlowControlEvent

from agents.batch_fence import finish_batches_before_revoke
from agents.bulk_restore import BulkRecoveryTableManager, BulkRestoreOptions
from agents.flow_control import ForgettingFlowControl
from agents.roles import select_agents
from agents.shutdown import start_shutdown_watchdog
from agents.transport import FetchWaitTransport
from agents.web_security import web_application_options
from config import Settings, get_settings
from tables.options import table_dir

#: Where the app points when FRAUDWATCH_BROKER=embedded and no embedded broker runs: offline
#: commands never connect, and a worker started with plain `faust -A agents.app worker` fails
#: with this host name in the error, which says what to do (`fraudwatch worker` starts one).
EMBEDDED_NOT_RUNNING = "kafka://embedded-broker-not-running--use-fraudwatch-worker:9092"


def broker_url(settings: Settings) -> str:
    """The concrete broker URL. The `fraudwatch` entry point resolves 'embedded' to the broker it started
    or found and hands it down in the settings; only a process started some other way still sees 'embedded'."""
    return EMBEDDED_NOT_RUNNING if settings.is_embedded else settings.broker


class FraudwatchWorker(faust.Worker):
    """faust.Worker without the progress spinner: to drive it, Faust sets the root logger to DEBUG
    even at ``-l warn``, so every debug() call in aiokafka and Faust builds a log record
    (measured 13-15 % of a loaded worker's time)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


class FraudwatchApp(faust.App):
    """faust.App whose worker consumer uses the configured fetch wait, prefetch backoff and records per
    partition per poll (agents.transport)."""

    consumer_fetch_max_wait_ms: int
    consumer_prefetch_backoff_ms: int
    consumer_records_per_partition: int
    probe_end_offsets: bool
    #: Options of the bulk changelog read before Faust's recovery (None = Faust's recovery alone).
    bulk_restore: BulkRestoreOptions | None

    def worker_init_post_autodiscover(self) -> None:
        settings = get_settings()
        select_agents(self.agents, settings.run_agents, settings.skip_agents)
        super().worker_init_post_autodiscover()

    async def on_stop(self) -> None:
        start_shutdown_watchdog(get_settings().shutdown_grace_s)
        await super().on_stop()

    async def _consumer_wait_empty(self, consumer: ConsumerT, logger: Any) -> None:
        """On revoke, Faust waits for its agents only with ``stream_wait_empty``, which we turn off so a stop
        does not drain the backlog; a batch in flight is still waited for (agents.batch_fence says why)."""
        await super()._consumer_wait_empty(consumer, logger)
        if not self.should_stop:  # a stop keeps its own way: the batch in flight is cancelled and withheld
            await finish_batches_before_revoke(consumer, self.conf.broker_session_timeout)

    def _new_transport(self) -> TransportT:
        return FetchWaitTransport(self.conf.broker_consumer, self)

    @cached_property
    def flow_control(self) -> FlowControlEvent:
        return ForgettingFlowControl(self, loop=self.loop)  # agents.flow_control says why


def broker_options(settings: Settings) -> dict[str, Any]:
    """Faust settings for talking to the broker; shared with the bench's empty-agent ceiling."""
    return {
        "broker": broker_url(settings),
        "processing_guarantee": settings.processing_guarantee,
        "broker_rebalance_timeout": settings.broker_rebalance_timeout_s,
        "broker_session_timeout": settings.broker_session_timeout_s,
        "broker_heartbeat_interval": settings.broker_heartbeat_interval_s,
        "consumer_auto_offset_reset": "earliest",
        "broker_commit_interval": settings.commit_interval_s,
        "producer_max_batch_size": settings.producer_max_batch_bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "Worker": FraudwatchWorker,
    }


def tune_consumer(app: FraudwatchApp, settings: Settings) -> None:
    app.consumer_fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms
    app.consumer_prefetch_backoff_ms = settings.consumer_prefetch_backoff_ms
    app.consumer_records_per_partition = settings.consumer_records_per_partition
    app.probe_end_offsets = settings.probe_end_offsets
    app.bulk_restore = BulkRestoreOptions(fetch_bytes=settings.restore_fetch_bytes) if settings.bulk_restore else None


def canonical_url(settings: Settings) -> str:
    """The URL other workers forward a request to (agents.routing): a worker listening on every
    interface is reached by its host name (in compose, each replica's own)."""
    host = socket.gethostname() if settings.web_host in {"0.0.0.0", "::"} else settings.web_host
    return f"http://{host}:{settings.web_port}"


def create_app(settings: Settings) -> FraudwatchApp:
    app = FraudwatchApp(
        settings.app_id,
        store=settings.store,
        datadir=str(settings.data_dir / "worker"),
        tabledir=table_dir(settings),
        autodiscover=["agents", "tables"],
        origin="agents",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        canonical_url=canonical_url(settings),
        web_application_options=web_application_options(settings.api_token, settings.web_host),
        # Faust's /table/ pages dump raw table values (full account numbers, past the masking of the read API).
        web_tables_enabled=False,
        recovery_consistency_check=settings.recovery_consistency_check,
        # Stop without draining the fetched backlog (Faust's default processes every buffered event
        # first: > 10 s with thousands waiting); unfinished events are uncommitted, so not lost.
        stream_wait_empty=False,
        table_cleanup_interval=timedelta(minutes=5).total_seconds(),
        table_standby_replicas=settings.table_standby_replicas,
        TableManager=BulkRecoveryTableManager,
        **broker_options(settings),
    )
    tune_consumer(app, settings)
    return app


app = create_app(get_settings())

"""The service app: FastStream consumer, outbox relay and HTTP endpoints in one process."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, stop_after_delay, wait_exponential

from wom_chassis.api_docs import install_api_docs
from wom_chassis.api_errors import install_error_handlers
from wom_chassis.asyncapi import service_document
from wom_chassis.auth import Credentials, install_challenges, public_router
from wom_chassis.body_limit import BodyLimit
from wom_chassis.consumer import EventHandlers, EventProcessor, commit_offsets
from wom_chassis.database import Database
from wom_chassis.errors import error_code
from wom_chassis.lag import ConsumerLag
from wom_chassis.logs import configure_logging, get_logger
from wom_chassis.metrics import OUTBOX_OLDEST_SECONDS, OUTBOX_PENDING
from wom_chassis.outbox import oldest_unsent_age, unsent_backlog
from wom_chassis.publishing import RecordProducer
from wom_chassis.relay import OutboxRelay
from wom_chassis.settings import SecretsRefused, ServiceSettings, check_secrets
from wom_chassis.tracing import configure_tracing
from wom_chassis.transport import install_transport
from wom_chassis.unit_of_work import UnitOfWork, unit_of_work
from wom_chassis.workers import serve_workers

__all__ = [
    "BackgroundTask",
    "CurrentService",
    "ReadSession",
    "Service",
    "create_service",
    "current_service",
    "service_cli",
]

log = get_logger(__name__)
BackgroundTask = Callable[["Service"], Coroutine[Any, Any, None]]


@dataclass
class Service:
    """Everything one running service is made of; tests build as many as they like."""

    settings: ServiceSettings
    db: Database
    broker: KafkaBroker
    processor: EventProcessor
    relay: OutboxRelay
    http: FastAPI = field(init=False)
    background: Sequence[BackgroundTask] = ()
    credentials: Credentials = field(default_factory=Credentials)
    """The API credentials its guarded routes admit (`wom_chassis.auth`)."""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, *, connect_broker: bool = True) -> None:
        """Migrate, connect the broker (retrying while it comes up), start relay and tasks."""
        if self.settings.run_migrations:
            await self.db.migrate()
        if connect_broker:
            async for attempt in AsyncRetrying(
                stop=stop_after_delay(60), wait=wait_exponential(max=5), reraise=True
            ):
                with attempt:
                    await self.broker.start()
        self._tasks = [asyncio.create_task(self.relay.run(), name="outbox-relay")]
        self._tasks += [asyncio.create_task(task(self)) for task in self.background]
        log.info("service_started", consumer_group=self.settings.consumer_group)

    async def stop(self) -> None:
        """Finish the current batch, flush the outbox once more, then close everything."""
        for subscriber in self.broker.subscribers:
            await subscriber.stop()  # waits up to the grace period for the batch in hand
        self.relay.stop()
        for task in self._tasks[1:]:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        try:  # everything unsent goes out before the producer closes, a relay round at a time
            await self.relay.flush()
        except Exception as error:
            log.warning("final_outbox_publish_failed", error=error_code(error))
        await self.relay.producer.stop()
        await self.broker.stop()
        await self.db.dispose()
        log.info("service_stopped")

    def work(self) -> AbstractAsyncContextManager[UnitOfWork[None]]:
        """A unit of work for scheduled jobs and API writes: rows and events commit together,
        and the relay is woken for what was emitted."""
        return unit_of_work(self.db, source=self.settings.event_source, on_committed=self.relay.hand_over)

    async def health(self) -> tuple[bool, dict[str, Any]]:
        """Broker and database reachable, outbox not stuck."""
        checks: dict[str, Any] = {}
        try:
            checks["broker"] = "ok" if await self.broker.ping(timeout=3) else "unreachable"
        except Exception as error:
            checks["broker"] = f"error: {error_code(error)}"
        try:
            async with self.db.session() as session:
                age = await oldest_unsent_age(session)  # no count: probes come often
            checks["database"] = "ok"
            checks["outbox_oldest_unsent_seconds"] = round(age, 3)
            OUTBOX_OLDEST_SECONDS.labels(self.settings.service_name).set(age)
            outbox_ok = age <= self.settings.outbox_max_age_seconds
            checks["outbox"] = "ok" if outbox_ok else "stuck"
        except Exception as error:
            checks["database"] = f"error: {error_code(error)}"
        healthy = all(checks.get(name) == "ok" for name in ("broker", "database", "outbox"))
        return healthy, checks

    async def outbox_backlog(self) -> tuple[int, float]:
        """Unsent outbox rows and the age of the oldest, also set as the backlog gauges (read at
        each scrape: the count walks the unsent rows' index)."""
        async with self.db.session() as session:
            pending, age = await unsent_backlog(session)
        OUTBOX_PENDING.labels(self.settings.service_name).set(pending)
        OUTBOX_OLDEST_SECONDS.labels(self.settings.service_name).set(age)
        return pending, age


def create_service(
    settings: ServiceSettings,
    handlers: EventHandlers[Any],
    *,
    migrations: Path,
    background: Sequence[BackgroundTask] = (),
) -> Service:
    """Wire a service: broker, consumer, database, outbox relay and HTTP app (routes go on `.http`)."""
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name, settings.otel_exporter_otlp_endpoint)
    for problem in check_secrets(settings):  # under WOM_ENV=dev; anywhere else it refuses
        log.warning("secret_admitted_for_development_only", problem=problem)
    credentials = Credentials.of(settings)
    db = Database(settings.database_url, [migrations])
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=f"wom-{settings.service_name}",
        enable_idempotence=settings.kafka_enable_idempotence,
        acks="all",
        graceful_timeout=settings.shutdown_grace_seconds,
        security=settings.kafka_security(),
        logger=logging.getLogger("wom.broker"),
        log_level=logging.DEBUG,  # one line per batch is noise at INFO; errors still log as errors
    )
    # one plain producer for the outbox relay and the dead letters, each record as it is
    producer = RecordProducer(
        **settings.kafka_client_options(),
        client_id=f"wom-{settings.service_name}-relay",
        enable_idempotence=settings.kafka_enable_idempotence,
        acks="all",
    )
    relay = OutboxRelay(
        db,
        producer,
        service=settings.service_name,
        interval=settings.relay_every_seconds,
        batch_size=settings.relay_batch_size,
        sweep_after=settings.relay_sweep_every_seconds,
        retention=timedelta(hours=settings.outbox_retention_hours),
    )
    processor = EventProcessor(
        db=db,
        records=producer,
        handlers=handlers,
        service=settings.service_name,
        source=settings.event_source,
        dead_letter_topic=settings.dead_letter_topic,
        mode=settings.consume_mode,
        max_attempts=settings.handler_max_attempts,
        retry_initial=settings.retry_initial_seconds,
        retry_max=settings.retry_max_seconds,
        on_committed=relay.hand_over,
        upstream_sources=settings.upstream_producers,
    )
    broker.include_router(_consumer_router(settings, handlers, processor))
    service = Service(settings, db, broker, processor, relay, background=background, credentials=credentials)
    service.http = _http_app(service)
    return service


async def _raw_records(message: Any) -> Any:
    # Keep FastStream from parsing bodies: bad JSON must reach the dead-letter path intact.
    return [record.value for record in message.raw_message]


def _consumer_router(
    settings: ServiceSettings, handlers: EventHandlers[Any], processor: EventProcessor
) -> KafkaRouter:
    router = KafkaRouter()
    lag = ConsumerLag(settings.service_name)

    @router.subscriber(
        *handlers.topics,
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.consume_batch_size,
        batch_timeout_ms=settings.consume_batch_timeout_ms,
        max_partition_fetch_bytes=settings.consume_partition_fetch_bytes,
        fetch_max_bytes=settings.consume_partition_fetch_bytes * 16,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_session_timeout_ms // 3,
        ack_policy=AckPolicy.MANUAL,
        # partition p of every topic to one member: a key's events from every topic (same
        # partition count, default partitioner) meet in one process of a service with WORKERS;
        # round robin stays listed for a group still running the earlier release
        partition_assignment_strategy=(RangePartitionAssignor, RoundRobinPartitionAssignor),
        auto_offset_reset="earliest",
        decoder=_raw_records,
    )
    async def consume(message: KafkaMessage) -> None:
        records = message.raw_message
        try:
            await processor.process(records)
        except Exception:
            # Never move past records that were not handled: rewind every partition of the
            # batch to its first record and try again after a pause (no hot loop, no loss).
            log.exception("batch_failed_unexpectedly", records=len(records))
            await message.nack()
            await asyncio.sleep(settings.retry_max_seconds)
            return
        await commit_offsets(message.consumer, records)
        if isinstance(message.consumer, AIOKafkaConsumer):  # the in-memory test broker has no offsets
            await lag.observe(message.consumer)

    return router


class HealthView(BaseModel):
    """`/health`: ok or unhealthy, with each check's outcome."""

    status: str
    checks: dict[str, Any]


def current_service(request: Request) -> Service:
    """The running service of the app answering `request`: module-level routers declare what they
    need as dependencies (`CurrentService`, `ReadSession`, and a service's own from `app.state`,
    where it puts what it was built with) instead of closing over a service in a factory."""
    service: Service = request.app.state.service
    return service


CurrentService = Annotated[Service, Depends(current_service)]


async def read_session(service: CurrentService) -> AsyncIterator[AsyncSession]:
    """A session for reading, for the request's lifetime; a route that writes opens
    `service.db.transaction()` (or a unit of work) itself."""
    async with service.db.session() as session:
        yield session


ReadSession = Annotated[AsyncSession, Depends(read_session)]


def provide(app: FastAPI, **parts: Any) -> None:
    """Put what a service's app was built with (its rules, templates, settings) on `app.state`,
    where the dependencies of `from_app` read it."""
    for name, part in parts.items():
        setattr(app.state, name, part)


def from_app(name: str) -> Any:
    """The dependency reading `app.state.<name>`, which `provide` put there, for a service to
    name with its type: `CurrentRules = Annotated[Rules, from_app("rules")]`."""

    def part(request: Request) -> Any:
        return getattr(request.app.state, name)

    part.__name__ = f"app_{name}"
    return Depends(part)


def _http_app(service: Service) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title=f"wom {service.settings.service_name}", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.service = service  # what the module-level routers' dependencies read
    app.add_middleware(BodyLimit, limit=service.settings.http_max_body_bytes)
    install_error_handlers(app)
    install_challenges(app)
    install_api_docs(app)  # Swagger UI from the service's own files, not FastAPI's CDN
    install_transport(app, service.settings)
    operations = public_router(tags=["operations"])  # probes and scrapers call without credentials

    @operations.get("/alive")
    async def alive() -> dict[str, str]:
        return {"status": "alive", "service": service.settings.service_name}

    @operations.get(
        "/health",
        response_model=HealthView,
        responses={
            503: {"model": HealthView, "description": "broker or database unreachable, or outbox stuck"}
        },
    )
    async def health() -> JSONResponse:
        healthy, checks = await service.health()
        body = {"status": "ok" if healthy else "unhealthy", "checks": checks}
        return JSONResponse(body, status_code=200 if healthy else 503)

    @operations.get("/asyncapi.json")
    async def asyncapi_document() -> JSONResponse:
        """The AsyncAPI 3.0 document of this service's topics (contracts/asyncapi/)."""
        return JSONResponse(service_document(service.settings, service.processor.handlers))

    @operations.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        try:  # the backlog is read at scrape time: one indexed query every scrape interval
            await asyncio.wait_for(service.outbox_backlog(), timeout=5)
        except Exception as error:  # an unreachable database must not hide the other metrics
            log.warning("outbox_backlog_unreadable", error=error_code(error))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(operations)
    return app


def _built(build: Callable[[], Service]) -> Service:
    """The service, or exit 2 with what is wrong with its settings in one line on stderr (not a
    traceback): an operator reads which variable to fix."""
    try:
        return build()
    except (SecretsRefused, ValidationError) as error:
        typer.echo(f"wom: {error}", err=True)
        raise typer.Exit(2) from None


def service_cli(build: Callable[[], Service]) -> typer.Typer:
    """The command line of a service: `serve` (the default) and `migrate`."""
    cli = typer.Typer(add_completion=False, no_args_is_help=False)

    @cli.callback(invoke_without_command=True)
    def main(ctx: typer.Context) -> None:
        if ctx.invoked_subcommand is None:
            serve()

    @cli.command()
    def serve() -> None:
        """Consume, relay and serve HTTP until SIGINT or SIGTERM (in `WORKERS` processes)."""
        service = _built(build)
        # What is imported and built by now lives as long as the process: keep it out of the
        # cycle collector's scans, which otherwise take about 15 % of the consume path's time.
        gc.collect()
        gc.freeze()
        config = uvicorn.Config(
            service.http,
            host=service.settings.http_host,
            port=service.settings.http_port,
            log_config=None,
            proxy_headers=False,  # the app applies them, from FORWARDED_ALLOW_IPS (wom_chassis.transport)
            timeout_graceful_shutdown=int(service.settings.shutdown_grace_seconds),
        )
        if service.settings.workers > 1:
            raise typer.Exit(serve_workers(service, config, service.settings.workers))
        uvicorn.Server(config).run()

    @cli.command()
    def migrate(revision: str = "heads") -> None:
        """Apply the database migrations and exit."""
        service = _built(build)
        asyncio.run(service.db.migrate(revision))

    return cli

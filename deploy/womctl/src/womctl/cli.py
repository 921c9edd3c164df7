"""`womctl`: the embedded broker, topics, the SMTP catcher, sample events, dead letters, `up`, `demo`."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from wom_chassis import ServiceSettings

from womctl import deadletters, samples
from womctl.broker import EmbeddedBroker
from womctl.demo import run_demo
from womctl.mail import MailCatcher
from womctl.topics import DEFAULT_DEFINITION, create_topics
from womctl.up import SERVICES, run_up

__all__ = ["app"]

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
dlq = typer.Typer(no_args_is_help=True, help="List and replay a service's dead letters.")
app.add_typer(dlq, name="dlq")
console = Console()


def _client_options() -> dict[str, Any]:
    return ServiceSettings(service_name="womctl").kafka_client_options()


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


@app.command()
def up(
    only: Annotated[list[str] | None, typer.Option(help="run only these services")] = None,
    broker_port: int = 9092,
    smtp_port: int = 1025,
    mail_dir: Path = Path("var/mail"),
) -> None:
    """Run the platform on this machine until Ctrl-C."""
    unknown = set(only or []) - set(SERVICES)
    if unknown:
        raise typer.BadParameter(f"unknown services {sorted(unknown)}; choose from {sorted(SERVICES)}")
    code = run_up(services=list(only or SERVICES), broker_port=broker_port, smtp_port=smtp_port,
                  mail_dir=mail_dir, console=console)  # fmt: skip
    raise typer.Exit(code)


@app.command()
def demo(
    rate: Annotated[float, typer.Option(min=0.1, help="storefront steps per second")] = 5,
    duration: Annotated[float, typer.Option(min=1, help="seconds to run (Ctrl-C stops earlier)")] = 600,
    seed: Annotated[int, typer.Option(help="the same seed gives the same traffic")] = 7,
    broker_port: int = 9092,
    smtp_port: int = 1025,
    mail_dir: Path = Path("var/mail"),
) -> None:
    """Run the platform with a storefront simulator and a live summary (short timings, demo rules)."""
    code = run_demo(rate=rate, duration=duration, seed=seed, broker_port=broker_port, smtp_port=smtp_port,
                    mail_dir=mail_dir, console=console)  # fmt: skip
    raise typer.Exit(code)


@app.command()
def broker(port: int = 9092) -> None:
    """Run the embedded broker alone, with every topic created, until Ctrl-C."""
    with EmbeddedBroker(port=port) as embedded:
        created = asyncio.run(create_topics(embedded.bootstrap))
        console.print(f"embedded broker on {embedded.bootstrap}, {len(created)} topics created")
        _wait_for_signal()


@app.command()
def topics(
    definition: Path = DEFAULT_DEFINITION,
    replication_factor: Annotated[int | None, typer.Option(help="override the file's")] = None,
) -> None:
    """Create the topics of deploy/topics.yaml on KAFKA_BOOTSTRAP_SERVERS (existing ones are kept)."""
    options = _client_options()
    created = asyncio.run(create_topics(options.pop("bootstrap_servers"), definition,
                                        replication_factor=replication_factor, **options))  # fmt: skip
    console.print(f"{len(created)} topics created: {', '.join(created) or 'none missing'}")


@app.command()
def smtp(port: int = 1025, directory: Path = Path("var/mail")) -> None:
    """Run the SMTP catcher: every mail received is written as an .eml file."""
    with MailCatcher(port=port, directory=directory):
        console.print(f"SMTP catcher on 127.0.0.1:{port}, mail → {directory}/")
        _wait_for_signal()


@app.command("publish-sample")
def publish_sample(customer_id: str | None = None, order_id: str | None = None) -> None:
    """Publish a sample customer and order as an upstream shop would."""
    events = samples.sample_customer_and_order(customer_id, order_id)
    asyncio.run(samples.publish(events, _client_options()))
    for event in events:
        console.print(f"published {event.event_type} for {event.customer_id}")


@dlq.command("list")
def dlq_list(service: str) -> None:
    """Show the dead letters of SERVICE with reason, error and origin."""
    letters = asyncio.run(deadletters.read_dead_letters(service, _client_options()))
    table = Table(title=f"{service}.dlq: {len(letters)} records")
    for column in ("offset", "reason", "source", "failed at", "error"):
        table.add_column(column)
    for letter in letters:
        info = letter.info
        table.add_row(
            f"{letter.partition}:{letter.offset}", info.get("reason", "?"),
            f"{info.get('source.topic')}[{info.get('source.partition')}]@{info.get('source.offset')}",
            info.get("failed_at", ""), info.get("error", "")[:120],
        )  # fmt: skip
    console.print(table)


@dlq.command("replay")
def dlq_replay(
    service: str,
    offset: Annotated[list[str] | None, typer.Option(help="PARTITION:OFFSET of a letter to replay")] = None,
    all_: Annotated[bool, typer.Option("--all", help="replay every letter")] = False,
) -> None:
    """Publish dead letters again to the topic they came from."""
    if not offset and not all_:
        raise typer.BadParameter("name letters with --offset PARTITION:OFFSET, or pass --all")
    letters = asyncio.run(deadletters.read_dead_letters(service, _client_options()))
    if offset:
        wanted = set(offset)
        letters = [letter for letter in letters if f"{letter.partition}:{letter.offset}" in wanted]
    count = asyncio.run(deadletters.replay(letters, _client_options()))
    console.print(f"replayed {count} dead letters of {service}")

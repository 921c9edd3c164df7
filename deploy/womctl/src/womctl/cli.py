"""`womctl`: the operator's commands (topics, consumer lag, dead letters, contracts, API tokens,
migrations) and, under `womctl dev`, the tools for one machine (`up`, `demo`, the embedded broker,
the SMTP catcher, sample events)."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import click
import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from wom_chassis import ServiceSettings
from wom_chassis.settings import SecretsRefused
from wom_contracts import EVERY_SCOPE, Scope

from womctl import asyncapi, contracts, deadletters, migrations, principals, samples, tokens
from womctl.broker import EmbeddedBroker
from womctl.cluster import DEFAULT_TIMEOUT, ClusterUnreachable
from womctl.demo import run_demo
from womctl.lag import consumer_lag, default_groups
from womctl.mail import MailCatcher
from womctl.progress import progress
from womctl.topics import DEFAULT_DEFINITION, apply_topics, create_topics, list_topics
from womctl.up import SERVICES, run_up

__all__ = ["app"]

OPERATIONS, DEVELOPMENT = "Operations", "Development (one machine)"
"""The two panels of `womctl --help`: what an operator runs against a cluster, and `dev`."""

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
topics_app = typer.Typer(help="Bring the cluster to deploy/topics.yaml (`womctl topics` alone: apply).")
dlq = typer.Typer(no_args_is_help=True, help="List, show and replay a service's dead letters.")
contracts_app = typer.Typer(no_args_is_help=True, help="The event contracts.")
kafka_app = typer.Typer(no_args_is_help=True, help="Kafka principals and their ACLs.")
token_app = typer.Typer(no_args_is_help=True, help="API credentials: a token per client, named and scoped.")
dev = typer.Typer(
    no_args_is_help=True,
    help="Run wom on this machine (not against a production cluster): up, demo, the embedded broker, "
    "the SMTP catcher, sample events.",
)
app.add_typer(topics_app, name="topics", rich_help_panel=OPERATIONS)
app.add_typer(dlq, name="dlq", rich_help_panel=OPERATIONS)
app.add_typer(contracts_app, name="contracts", rich_help_panel=OPERATIONS)
app.add_typer(kafka_app, name="kafka", rich_help_panel=OPERATIONS)
app.add_typer(token_app, name="token", rich_help_panel=OPERATIONS)
app.add_typer(dev, name="dev", rich_help_panel=DEVELOPMENT)
console = Console()
T = TypeVar("T")

Definition = Annotated[Path, typer.Option(help="the topics definition")]
ReplicationFactor = Annotated[
    int | None, typer.Option(help="override the file's (3 on a production cluster)")
]


@app.callback()
def main(
    ctx: typer.Context,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="seconds to wait for the Kafka cluster before giving up")
    ] = DEFAULT_TIMEOUT,
) -> None:
    """Commands that talk to Kafka read KAFKA_BOOTSTRAP_SERVERS (and KAFKA_SECURITY_PROTOCOL, …)."""
    ctx.obj = {"timeout": timeout}


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _client_options() -> dict[str, Any]:
    return ServiceSettings(service_name="womctl").kafka_client_options()


def _timeout() -> float:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    return float(root.obj["timeout"]) if root is not None and root.obj else DEFAULT_TIMEOUT


@contextmanager
def _kafka_errors_summed_up() -> Iterator[None]:
    """aiokafka's own error lines kept off the terminal while the block runs: the command sums a
    failure up in one line (aiokafka logs every failed connection attempt on the way)."""
    aiokafka, quiet = logging.getLogger("aiokafka"), logging.NullHandler()
    aiokafka.addHandler(quiet)
    propagate, aiokafka.propagate = aiokafka.propagate, False
    try:
        yield
    finally:
        aiokafka.removeHandler(quiet)
        aiokafka.propagate = propagate


def _on_cluster(work: Coroutine[Any, Any, T]) -> T:
    """Run a broker command: one line and exit code 2 when the cluster cannot be reached."""
    with _kafka_errors_summed_up():
        try:
            return asyncio.run(work)
        except ClusterUnreachable as error:
            raise _fail(str(error), 2) from None
        except deadletters.NoSuchTopic as error:
            raise _fail(str(error)) from None
        except KafkaError as error:
            raise _fail(f"Kafka refused: {error}") from None


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


@dev.command()
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
    try:
        with _kafka_errors_summed_up():  # womctl's own admin client; the services log their own
            code = run_up(services=list(only or SERVICES), broker_port=broker_port, smtp_port=smtp_port,
                          mail_dir=mail_dir, console=console)  # fmt: skip
    except ClusterUnreachable as error:
        raise _fail(str(error), 2) from None
    raise typer.Exit(code)


@dev.command()
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


@dev.command()
def broker(port: int = 9092) -> None:
    """Run the embedded broker alone, with every topic created, until Ctrl-C."""
    with EmbeddedBroker(port=port) as embedded:
        created = asyncio.run(create_topics(embedded.bootstrap))
        console.print(f"embedded broker on {embedded.bootstrap}, {len(created)} topics created")
        _wait_for_signal()


@topics_app.callback(invoke_without_command=True)
def topics(
    ctx: typer.Context,
    definition: Definition = DEFAULT_DEFINITION,
    replication_factor: ReplicationFactor = None,
) -> None:
    """Apply or list the topics of deploy/topics.yaml on KAFKA_BOOTSTRAP_SERVERS."""
    if ctx.invoked_subcommand is None:
        topics_apply(definition, replication_factor)
    elif definition != DEFAULT_DEFINITION or replication_factor is not None:
        raise typer.BadParameter(f"put options after the command: womctl topics {ctx.invoked_subcommand} --…")


@topics_app.command("apply")
def topics_apply(
    definition: Definition = DEFAULT_DEFINITION, replication_factor: ReplicationFactor = None
) -> None:
    """Create missing topics, add partitions (never remove them) and set configs that differ."""
    report = _on_cluster(apply_topics(_client_options(), definition, replication_factor=replication_factor,
                                      timeout=_timeout()))  # fmt: skip
    for line in report.done:
        console.print(escape(line), soft_wrap=True)
    for line in report.notes:
        console.print(f"[yellow]left as is[/] {escape(line)}", soft_wrap=True)
    for line in report.refused:
        console.print(f"[red]not done[/] {escape(line)}", soft_wrap=True)
    if not report.done:
        console.print(f"nothing to change: the cluster has every topic of {definition.name} as it asks"
                      if not report.refused else "nothing changed", soft_wrap=True)  # fmt: skip
    if report.refused:
        raise typer.Exit(1)


@topics_app.command("list")
def topics_list(definition: Definition = DEFAULT_DEFINITION) -> None:
    """The cluster's topics with partitions and configs; marked where they differ from the file."""
    rows = _on_cluster(list_topics(_client_options(), definition, timeout=_timeout()))
    table = Table(title=f"topics on {_client_options()['bootstrap_servers']} vs {definition.name}")
    for column in ("topic", "partitions", "replicas", "configs", "status"):
        table.add_column(column)
    styles = {"ok": "green", "differs": "yellow", "missing": "red", "not in file": "magenta"}
    for row in rows:
        status = "; ".join([row.status, *row.differences]) if row.differences else row.status
        table.add_row(
            row.name, str(row.partitions or "-"), str(row.replication_factor or "-"),
            escape(", ".join(f"{k}={v}" for k, v in sorted(row.config.items()))),
            f"[{styles[row.status]}]{escape(status)}[/]",
        )  # fmt: skip
    console.print(table)
    counts = Counter(row.status for row in rows)
    summary = f"{len(rows)} topics: {counts['missing']} missing, {counts['differs']} differing"
    to_fix = counts["missing"] + counts["differs"]
    advice = " (`womctl topics apply` creates and corrects them)" if to_fix else ""
    console.print(f"{summary}{advice}, {counts['not in file']} not in {definition.name} (left alone)")


@app.command(rich_help_panel=OPERATIONS)
def lag(
    group: Annotated[
        list[str] | None, typer.Option(help="a consumer group (repeatable); default: the four services'")
    ] = None,
    lagging: Annotated[bool, typer.Option(help="show only partitions with lag")] = False,
) -> None:
    """Per consumer group and partition: the committed offset, the end offset and the lag.

    Lag is the end offset minus the committed offset, or minus the first retained offset where the
    group has committed nothing yet. The embedded broker's end offsets are approximate: they point
    just past the first record of the last batch written, so there lag can read lower than it is.
    """
    groups = group or default_groups(list(SERVICES))
    result = _on_cluster(consumer_lag(_client_options(), groups, timeout=_timeout()))
    for name in groups:
        rows = result[name]
        if not rows:
            console.print(f"{name}: no committed offsets (it has not consumed yet, or does not exist)")
            continue
        table = Table(title=f"{name}: lag {sum(row.lag for row in rows)}")
        for column in ("topic", "partition", "committed", "end", "lag"):
            table.add_column(column, justify="left" if column == "topic" else "right")
        for row in rows:
            if lagging and not row.lag:
                continue
            committed = "-" if row.committed is None else str(row.committed)
            table.add_row(row.topic, str(row.partition), committed + ("*" if row.past_end else ""),
                          str(row.end), str(row.lag))  # fmt: skip
        console.print(table)
        if any(row.past_end for row in rows):
            console.print(
                "* committed past the end offset the broker reports: its end offsets are approximate"
            )


@dev.command()
def smtp(port: int = 1025, directory: Path = Path("var/mail")) -> None:
    """Run the SMTP catcher: every mail received is written as an .eml file."""
    with MailCatcher(port=port, directory=directory):
        console.print(f"SMTP catcher on 127.0.0.1:{port}, mail → {directory}/")
        _wait_for_signal()


@dev.command("publish-sample")
def publish_sample(customer_id: str | None = None, order_id: str | None = None) -> None:
    """Publish a sample customer and order as an upstream shop would."""
    events = samples.sample_customer_and_order(customer_id, order_id)
    _on_cluster(samples.publish(events, _client_options(), timeout=_timeout()))
    for event in events:
        console.print(f"published {event.event_type} for {event.customer_id}")


def _letter_offset(value: str) -> tuple[int, int]:
    partition, _, offset = value.partition(":")
    if not (partition.isdigit() and offset.isdigit()):
        raise typer.BadParameter(f"{value!r}: expected PARTITION:OFFSET, e.g. 0:17")
    return int(partition), int(offset)


@dlq.command("list")
def dlq_list(service: str) -> None:
    """Show the dead letters of SERVICE with reason, error and origin."""
    letters = _on_cluster(deadletters.read_dead_letters(service, _client_options(), timeout=_timeout()))
    table = Table(title=f"{service}.dlq: {len(letters)} records")
    for column in ("letter", "reason", "source", "failed at", "error"):
        table.add_column(column)
    for letter in letters:
        info = letter.info
        table.add_row(
            f"{letter.partition}:{letter.offset}", escape(info.get("reason", "?")),
            escape(f"{info.get('source.topic')}[{info.get('source.partition')}]@{info.get('source.offset')}"),
            info.get("failed_at", ""), escape(info.get("error", "")[:120]),
        )  # fmt: skip
    console.print(table)
    if letters:
        console.print(f"one in full: womctl dlq show {service} PARTITION:OFFSET")


@dlq.command("show")
def dlq_show(
    service: str, letter: Annotated[str, typer.Argument(help="PARTITION:OFFSET, as `dlq list` shows it")]
) -> None:
    """Show one dead letter in full: why it was parked, where it came from, its headers and payload."""
    partition, offset = _letter_offset(letter)
    found = _on_cluster(deadletters.read_dead_letter(service, partition, offset, _client_options(),
                                                     timeout=_timeout()))  # fmt: skip
    if found is None:
        raise _fail(f"{service}.dlq has no record at {letter}")
    typer.echo(deadletters.render(service, found))


@dlq.command("replay")
def dlq_replay(
    service: str,
    offset: Annotated[list[str] | None, typer.Option(help="PARTITION:OFFSET of a letter to replay")] = None,
    all_: Annotated[bool, typer.Option("--all", help="replay every letter")] = False,
) -> None:
    """Publish dead letters again to the topic they came from, for SERVICE alone (others skip them)."""
    if not offset and not all_:
        raise typer.BadParameter("name letters with --offset PARTITION:OFFSET, or pass --all")
    wanted = {_letter_offset(value) for value in offset or []}
    letters = _on_cluster(deadletters.read_dead_letters(service, _client_options(), timeout=_timeout()))
    if wanted:
        letters = [letter for letter in letters if (letter.partition, letter.offset) in wanted]
        missing = wanted - {(letter.partition, letter.offset) for letter in letters}
        if missing:
            raise _fail(f"{service}.dlq has no record at {', '.join(f'{p}:{o}' for p, o in sorted(missing))}")
    nowhere = [f"{x.partition}:{x.offset}" for x in letters if "source.topic" not in x.info]
    if nowhere:  # not written by the chassis: no dlq.source.topic to send it back to
        raise _fail(f"{service}.dlq records without dlq.source.topic, not replayed: {', '.join(nowhere)}")
    with progress(f"replaying {service}'s dead letters", len(letters), console=console) as advance:
        replaying = deadletters.replay(
            service, letters, _client_options(), timeout=_timeout(), on_sent=advance
        )
        count = _on_cluster(replaying)
    console.print(f"replayed {count} dead letters of {service}, for {service} only")


@contracts_app.command("check")
def contracts_check(
    against: Annotated[
        str, typer.Option(help="the git revision whose committed schemas to compare with")
    ] = "HEAD",
    schemas: Annotated[
        Path | None, typer.Option(help="compare with these schema files instead of git")
    ] = None,
) -> None:
    """Every event model against its committed JSON Schema: exit 1 on an incompatible change or a
    schema file that no longer matches its model."""
    if schemas is not None:
        baseline, committed = str(schemas), contracts.schemas_in(schemas)
    else:
        try:
            baseline, committed = against, contracts.schemas_at_revision(against)
        except contracts.NoCommittedSchemas as error:
            if against != "HEAD":
                raise _fail(str(error)) from None
            typer.echo(f"{error}; comparing with the schema files instead (not a git checkout?)", err=True)
            baseline, committed = str(contracts.SCHEMA_DIR), contracts.schemas_in(contracts.SCHEMA_DIR)
    report = contracts.check_contracts(committed)
    typer.echo(contracts.render(report, baseline))
    if not report.ok:
        raise typer.Exit(1)


@contracts_app.command("asyncapi")
def contracts_asyncapi(
    directory: Annotated[Path, typer.Option(help="where to write <service>.json")] = asyncapi.ASYNCAPI_DIR,
) -> None:
    """Write each service's AsyncAPI 3.0 document (what it serves at /asyncapi.json)."""
    try:
        paths = asyncapi.write_documents(list(SERVICES), directory)
    except asyncapi.ServiceNotInstalled as error:
        raise _fail(str(error)) from None
    for path in paths:
        typer.echo(path)


class PrincipalsOutput(StrEnum):
    table = "table"
    strimzi = "strimzi"
    acls = "acls"


@kafka_app.command("principals")
def kafka_principals(
    output: Annotated[
        PrincipalsOutput,
        typer.Option(help="table; strimzi: KafkaUser objects; acls: kafka-acls.sh commands"),
    ] = PrincipalsOutput.table,
    write: Annotated[
        bool,
        typer.Option(help="rewrite the committed file: deploy/k8s/kafka/users.yaml or deploy/kafka/acls.sh"),
    ] = False,
    cluster: Annotated[str, typer.Option(help="strimzi: the Kafka cluster (strimzi.io/cluster)")] = "kafka",
    bootstrap: Annotated[str | None, typer.Option(help="acls: the brokers, an admin's listener")] = None,
    command_config: Annotated[
        Path | None, typer.Option(help="acls: the admin's client properties (SASL, TLS)")
    ] = None,
) -> None:
    """The Kafka principals of a deployment and what each may do: one per service (its own topics,
    its dead-letter topic, the topics it consumes in its group), upstream systems, womctl."""
    people = principals.principals()
    if output is PrincipalsOutput.table:
        table = Table("principal", "on", "name", "operations", title="Kafka principals")
        for person in people:
            for grant in person.grants:
                shown = grant.name + ("*" if grant.pattern == "prefix" else "")
                table.add_row(person.name, grant.resource, shown, ", ".join(grant.operations))
        console.print(table)
        return
    if output is PrincipalsOutput.strimzi:
        path, text = principals.USERS_FILE, principals.render_users(people, cluster)
    elif write:  # the compose broker's, asked on its loopback listener
        path, text = principals.ACLS_FILE, principals.render_acls(people)
    elif bootstrap is None:
        raise typer.BadParameter("--bootstrap is required with --output acls (or --write)")
    else:
        config = None if command_config is None else str(command_config)
        path, text = None, "".join(f"{line}\n" for line in principals.acl_commands(people, bootstrap, config))
    if write and path is not None:
        path.write_text(text)
        typer.echo(path)
    else:
        typer.echo(text, nl=False)


@app.command(rich_help_panel=OPERATIONS)
def migrate(
    service: Annotated[str, typer.Argument(metavar="SERVICE", help=f"one of {', '.join(SERVICES)}")],
    revision: Annotated[str, typer.Option(help="the Alembic revision to reach")] = "heads",
    database_url: Annotated[
        str | None, typer.Option(help="default: DATABASE_URL, as the service reads it")
    ] = None,
) -> None:
    """Apply SERVICE's database migrations (as it does at start-up), e.g. before a rollout."""
    if service not in SERVICES:
        raise typer.BadParameter(f"unknown service {service!r}; choose from {', '.join(SERVICES)}")
    url = database_url or migrations.database_url(service)
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        revisions = asyncio.run(migrations.migrate(service, url, revision))
    except (SQLAlchemyError, OSError) as error:
        raise _fail(f"cannot migrate {service} at {shown}: {str(error).splitlines()[0]}") from None
    console.print(f"{service}: {shown} is at {', '.join(revisions) or 'base'}", soft_wrap=True)


SCOPES_HELP = f"a scope it holds (repeat for several): {', '.join(Scope)}, or {EVERY_SCOPE!r} for all"


@token_app.command("new")
def token_new(
    name: Annotated[str, typer.Option(help="who the client is (lower case, digits, . _ -)")],
    scope: Annotated[list[str], typer.Option(help=SCOPES_HELP)],
    add_to: Annotated[
        Path | None, typer.Option(help="append the entry to this tokens file (API_TOKENS_FILE)")
    ] = None,
) -> None:
    """Make a token for NAME: the token is shown once (give it to the client) and only its SHA-256
    is kept, in the entry a service's tokens file holds."""
    try:
        issued = tokens.issue(name, scope)
    except ValidationError as error:
        raise _fail(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()), 2
        ) from None
    if add_to is None:
        typer.echo(
            f"# the token of {name}, shown this once:\n{issued.token}\n# its entry in API_TOKENS_FILE:"
        )
        typer.echo(issued.toml(), nl=False)
        return
    try:
        held = tokens.add_to_file(issued, add_to)
    except (SecretsRefused, OSError) as error:
        raise _fail(f"{add_to} is left as it was: {error}") from None
    typer.echo(issued.token)
    typer.echo(f"{name} added to {add_to} ({held} entries); restart the services that read it", err=True)

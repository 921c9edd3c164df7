"""`make bench`: every figure of docs/performance.md in one run on one machine.

    uv run python -m tests.bench                        # everything, default sizes
    uv run python -m tests.bench --parts consume,scale  # some parts only
    uv run python -m tests.bench --events 20000 --record-events 1000 --drain 20000 --seconds 10

Parts: `consume` (raw aiokafka rate, each service's consume path in batch and per-record mode, the
outbox relay), `scale` (one against two instances of rewards), `loop` (the four services
together: drain of a backlog of mixed events, event → effect latency at a steady offered load,
peak RSS), `mail` (outreach's mail: CPU per composed mail, mails/s of its delivery job to an SMTP
inbox alone and beside its consume path; `tests/bench/mail.py`). Every service runs as its own
process on SQLite files in a temporary directory; the broker is the embedded one, in memory, fresh
for each service's runs.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tests.bench.consume import Throughput, raw_rate, relay_rate, scale_out, service_throughput
from tests.bench.harness import embedded_broker, machine, produce
from tests.bench.inputs import SERVICE_INPUTS
from tests.bench.loop import LoopResult, whole_loop
from tests.bench.mail import print_compose_costs, print_delivery
from tests.support import SERVICE_NAMES

console = Console(width=max(Console().width, 132))
PARTS = ("consume", "scale", "loop", "mail")


def _pct(value: float) -> str:
    return f"{value:.1%}" if value == value else "–"


def _num(value: float) -> str:
    return f"{value:,.0f}" if value == value else "–"


def consume_part(directory: Path, events: int, record_events: int, services: list[str]) -> None:
    table = Table(
        title=f"consume path, each service alone, SQLite ({events:,} in batch, {record_events:,} per record)"
    )
    for column in (
        "service",
        "mode",
        "events",
        "consumed/s",
        "of raw",
        "drained incl. relay/s",
        "CPU µs/event",
    ):
        table.add_column(column, justify="left" if column in ("service", "mode") else "right")
    relay: tuple[int, float] | None = None
    for name in services:
        with embedded_broker() as bootstrap:
            run = uuid.uuid4().hex[:6]
            batch_input = SERVICE_INPUTS[name](f"{run}b", events)
            asyncio.run(produce(bootstrap, batch_input))
            raw = raw_rate(bootstrap, batch_input)
            batch = service_throughput(name, "batch", bootstrap, directory, batch_input)
            if name == "rewards":
                relay = relay_rate(name, bootstrap, directory, batch)
        with embedded_broker() as bootstrap:
            record_input = SERVICE_INPUTS[name](f"{run}r", record_events)
            asyncio.run(produce(bootstrap, record_input))
            record = service_throughput(name, "record", bootstrap, directory, record_input)
        table.add_row(name, "raw aiokafka", f"{events:,}", _num(raw), "100 %", "", "")
        for result in (batch, record):
            _row(table, result, raw)
        table.add_section()
    console.print(table)
    if relay is not None:
        console.print(f"outbox relay (rewards, rows written by the batch run, published again): "
                      f"{relay[0]:,} rows at {_num(relay[1])} rows/s")  # fmt: skip


def _row(table: Table, result: Throughput, raw: float | None) -> None:
    table.add_row(
        result.service,
        result.mode,
        f"{result.events:,}",
        _num(result.consumed),
        _pct(result.consumed / raw) if raw else "",
        _num(result.drained),
        _num(result.cpu_us),
    )


def scale_part(directory: Path, events: int) -> None:
    with embedded_broker() as bootstrap:
        one, two = scale_out(bootstrap, directory, events)
    table = Table(
        title=f"rewards: one against two instances (one group, one SQLite database), {events:,} orders"
    )
    for column in (
        "service",
        "instances",
        "events",
        "consumed/s",
        "",
        "drained incl. relay/s",
        "CPU µs/event",
    ):
        table.add_column(column, justify="left" if column in ("service", "instances") else "right")
    _row(table, one, None)
    _row(table, two, None)
    console.print(table)
    console.print(f"two instances / one: {two.consumed / one.consumed:.2f}× consumed, "
                  f"{two.drained / one.drained:.2f}× drained (target ≥ 1.6×)")  # fmt: skip


def loop_part(directory: Path, drain: int, rate: float, seconds: float) -> LoopResult:
    result = whole_loop(directory, drain=drain, rate=rate, seconds=seconds, parts={"drain", "latency"})
    console.print(
        f"whole loop: {result.events:,} mixed inbound events drained in {result.drain_seconds:.1f} s "
        f"= {_num(result.drain_rate)} events/s (target ≥ 5,000); events consumed per service: "
        + ", ".join(
            f"{name} {count:,} in {result.busy.get(name, 0):.1f} s" for name, count in result.consumed.items()
        )
    )
    table = Table(
        title=f"event → effect latency, {result.offered:,} mixed events at {_num(result.offered_rate)}/s"
    )
    for column in ("path", "samples", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for latency in result.latencies:
        table.add_row(
            latency.path,
            f"{len(latency.samples):,}",
            *(_num(latency.percentile(p) * 1000) for p in (50, 95, 99)),
        )
    console.print(table)
    rss = Table(title="peak RSS per service (VmHWM) after drain and latency runs")
    rss.add_column("service")
    rss.add_column("MiB", justify="right")
    for name in SERVICE_NAMES:
        rss.add_row(name, f"{result.peak_rss.get(name, float('nan')):.0f}")
    console.print(rss)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--services", default=",".join(SERVICE_NAMES), help="services of the consume part")
    parser.add_argument("--events", type=int, default=20_000, help="events per service in batch mode")
    parser.add_argument("--record-events", type=int, default=2_000, help="events per service per record")
    parser.add_argument("--scale-events", type=int, default=20_000, help="orders for one vs two instances")
    parser.add_argument("--drain", type=int, default=100_000, help="mixed events of the whole-loop drain")
    parser.add_argument("--rate", type=float, default=2_000, help="offered load of the latency run, events/s")
    parser.add_argument("--seconds", type=float, default=30, help="length of the latency run")
    parser.add_argument("--mails", type=int, default=5_000, help="queued mails of the mail part")
    parser.add_argument("--keep", type=Path, help="keep databases and logs in this directory")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    console.print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="wom-bench-") as temporary:
        directory = args.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        if "consume" in parts:
            consume_part(directory, args.events, args.record_events, args.services.split(","))
        if "scale" in parts:
            scale_part(directory, args.scale_events)
        if "loop" in parts:
            loop_part(directory, args.drain, args.rate, args.seconds)
        if "mail" in parts:  # outreach's delivery job alone, then beside its consume path
            print_compose_costs()
            print_delivery(directory, args.mails)
            print_delivery(directory, args.mails, consume=2 * args.mails)
    console.print(f"machine after the run: {machine()}")


if __name__ == "__main__":
    main()

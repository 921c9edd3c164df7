"""What `make bench` prints, and the same figures into its results (tests/bench/results.py): each
function here prints a part's tables and lines and puts every figure it prints, so the two agree."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tests.bench.consume import ServiceRuns, Throughput
from tests.bench.loop import LatencyRun, LoopResult
from tests.bench.results import Results
from tests.support import SERVICE_NAMES

__all__ = ["LATENCY_TARGETS", "console", "consume", "latency_key", "loop", "scale"]

console = Console(width=max(Console().width, 132))
LATENCY_TARGETS = {1_000.0: 1.0, 2_000.0: 5.0}  # offered events/s → p99 to stay under on every path, s
LATENCY_KEY_RATE = 2_000.0  # the run written as `latency`; any other as `latency_<rate>`


def _pct(value: float) -> str:
    return f"{value:.1%}" if value == value else "–"


def _num(value: float) -> str:
    return f"{value:,.0f}" if value == value else "–"


def _times(value: float) -> str:
    return f"{value:,.2f}×" if value == value else "–"


def _ratio(numerator: float, denominator: float) -> float:
    """numerator ÷ denominator; NaN where there is nothing to divide by (a run too short to time)."""
    return numerator / denominator if denominator else float("nan")


def consume(measured: dict[str, ServiceRuns], events: int, record_events: int, results: Results) -> None:
    """The consume part: a table of every service's runs, outreach's mail, rewards' relay and baseline."""
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
    for name, runs in measured.items():
        table.add_row(name, "raw aiokafka", f"{events:,}", _num(runs.raw), "100 %", "", "")
        results.put(f"consume.{name}.raw_per_s", runs.raw)
        for result in (runs.batch, runs.record):
            _row(table, result, runs.raw)
            _put_throughput(results, f"consume.{name}.{result.mode}", result, runs.raw)
        if runs.naive is not None:
            _row(table, runs.naive, runs.raw)
        table.add_section()
    console.print(table)
    if "outreach" in measured:
        _mail(measured["outreach"].batch, results)
    if "rewards" in measured:
        _rewards(measured["rewards"], results)


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


def _put_throughput(results: Results, path: str, result: Throughput, raw: float | None) -> None:
    results.put(f"{path}.events", result.events)
    results.put(f"{path}.per_s", result.consumed)
    if raw:
        results.put(f"{path}.ratio", result.consumed / raw)
    results.put(f"{path}.drained_per_s", result.drained)
    results.put(f"{path}.cpu_us", result.cpu_us)


def _mail(batch: Throughput, results: Results) -> None:
    console.print(f"outreach's mail (batch run): {batch.mails:,} mails at the SMTP inbox, "
                  f"{_num(batch.mail_per_s)} mails/s from the first to the last")  # fmt: skip
    results.put("mail_per_s", batch.mail_per_s)
    results.put("consume.outreach.batch.mails", batch.mails)


def _rewards(runs: ServiceRuns, results: Results) -> None:
    results.put("raw_per_s", runs.raw)
    if runs.relay is not None:
        rows, rate = runs.relay
        console.print(f"outbox relay (rewards, rows written by the batch run, published again): "
                      f"{rows:,} rows at {_num(rate)} rows/s")  # fmt: skip
        results.put("relay_per_s", rate)
        results.put("relay_rows", rows)
    naive = runs.naive
    if naive is None:
        return
    figures = {
        "naive_per_s": naive.consumed,
        "naive_cpu_us": naive.cpu_us,
        "events": naive.events,
        "batch_over_naive": _ratio(runs.batch.consumed, naive.consumed),
        "record_over_naive": _ratio(runs.record.consumed, naive.consumed),
        "naive_cpu_over_batch": _ratio(naive.cpu_us, runs.batch.cpu_us),
        "naive_cpu_over_record": _ratio(naive.cpu_us, runs.record.cpu_us),
    }
    console.print(
        f"rewards against the naive baseline (tests/bench/naive.py: FastStream one message at a time, "
        f"SQLAlchemy ORM; the same {naive.events:,} orders): consumed/s batch ÷ baseline "
        f"{_times(figures['batch_over_naive'])} (target ≥ 100×), per record ÷ baseline "
        f"{_times(figures['record_over_naive'])} (target ≥ 5×); CPU per order baseline ÷ batch "
        f"{_times(figures['naive_cpu_over_batch'])}, baseline ÷ per record "
        f"{_times(figures['naive_cpu_over_record'])}"
    )
    for name, value in figures.items():
        results.put(f"baseline.{name}", value)


def scale(one: Throughput, two: Throughput, events: int, results: Results, *, postgres: bool = False) -> None:
    """One against two consumer processes of rewards: WORKERS=1 and 2 on PostgreSQL, or two
    instances on one SQLite file."""
    where = "one PostgreSQL database, WORKERS=1 then 2" if postgres else "one SQLite database, two instances"
    title = f"rewards: one against two consumer processes (one group, {where}), {events:,} orders"
    table = Table(title=title)
    for column in (
        "service",
        "processes",
        "events",
        "consumed/s",
        "",
        "drained incl. relay/s",
        "CPU µs/event",
    ):
        table.add_column(column, justify="left" if column in ("service", "processes") else "right")
    _row(table, one, None)
    _row(table, two, None)
    console.print(table)
    consumed, drained = _ratio(two.consumed, one.consumed), _ratio(two.drained, one.drained)
    console.print(
        f"two processes / one: {_times(consumed)} consumed, {_times(drained)} drained (target ≥ 1.6×)"
        + ("" if postgres else "; SQLite admits one writer: WORKERS needs PostgreSQL (--postgres)")
    )
    _put_throughput(results, "scale.one", one, None)
    _put_throughput(results, "scale.two", two, None)
    results.put("scale.two_over_one", consumed)
    results.put("scale.two_over_one_drained", drained)


def loop(result: LoopResult, results: Results) -> None:
    """The whole loop: drain, each latency run with its target, peak RSS."""
    console.print(
        f"whole loop: {result.events:,} mixed inbound events drained in {result.drain_seconds:.1f} s "
        f"= {_num(result.drain_rate)} events/s (target ≥ 5,000); events consumed per service: "
        + ", ".join(
            f"{name} {count:,} in {result.busy.get(name, 0):.1f} s" for name, count in result.consumed.items()
        )
    )
    results.put("loop.events", result.events)
    results.put("loop.drain_seconds", result.drain_seconds)
    results.put("loop.drain_per_s", result.drain_rate)
    results.put("loop.consumed", result.consumed)
    results.put("loop.busy_s", result.busy)
    for run in result.latency_runs:
        _latency_table(run, results)
    rss = Table(title="peak RSS per service (VmHWM) after drain and latency runs")
    rss.add_column("service")
    rss.add_column("MiB", justify="right")
    for name in SERVICE_NAMES:
        rss.add_row(name, f"{result.peak_rss.get(name, float('nan')):.0f}")
        results.put(f"rss_mib.{name}", result.peak_rss.get(name, float("nan")))
    console.print(rss)


def latency_key(rate: float) -> str:
    """Where a latency run's figures go in results.json: `latency` for the 2,000/s run."""
    return "latency" if rate == LATENCY_KEY_RATE else f"latency_{rate:g}".replace(".", "_")


def _latency_table(run: LatencyRun, results: Results) -> None:
    target = LATENCY_TARGETS.get(run.rate)
    p99s = [latency.percentile(99) for latency in run.latencies]
    met = target is not None and all(p99 < target for p99 in p99s)  # a path without samples: not met
    aim = f"target p99 < {target:g} s on every path: {'met' if met else 'not met'}" if target else "no target"
    table = Table(
        title=f"event → effect latency, {run.offered:,} mixed events offered at {_num(run.offered_rate)}/s "
        f"for {run.seconds:g} s ({aim})"
    )
    for column in ("path", "samples", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "path" else "right")
    key = latency_key(run.rate)
    for latency in run.latencies:
        percentiles = {p: latency.percentile(p) * 1000 for p in (50, 95, 99)}
        table.add_row(latency.path, f"{len(latency.samples):,}", *(_num(ms) for ms in percentiles.values()))
        results.put(f"{key}.{latency.key}.samples", len(latency.samples))
        for p, ms in percentiles.items():
            results.put(f"{key}.{latency.key}.p{p}_ms", ms)
    console.print(table)
    results.put(f"{key}.offered", run.offered)
    results.put(f"{key}.offered_per_s", run.offered_rate)
    results.put(f"{key}.seconds", run.seconds)
    if target is not None:
        results.put(f"{key}.target_p99_ms", target * 1000)
        results.put(f"{key}.met", met)

"""`make bench`: every figure of docs/performance.md in one run on one machine.

    uv run python -m tests.bench                        # everything, default sizes
    uv run python -m tests.bench --parts consume,scale  # some parts only
    uv run python -m tests.bench --events 20000 --record-events 1000 --drain 20000 --latency 500:10

Parts: `consume` (raw aiokafka rate, each service's consume path in batch and per-record mode,
the naive baseline on the rewards input, the outbox relay, outreach's mail), `scale` (one
against two consumer processes of rewards: WORKERS=1 and 2 on the PostgreSQL database of
`--postgres` / WOM_BENCH_POSTGRES_URL, which the bench empties; without one, two instances on one
SQLite file), `loop` (the four services together: drain of a backlog of
mixed events, event → effect latency at steady offered loads, peak RSS), `mail` (CPU per
composed mail, mails/s of outreach's delivery job alone and beside its consume path). Every
service runs as
its own process on SQLite files in a temporary directory; the broker is the embedded one, in
memory, fresh for each service's runs. Every figure printed is also written to
`var/bench/results.json` (tests/bench/results.py).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from tests.bench import report
from tests.bench.consume import measure_service, scale_out
from tests.bench.harness import embedded_broker, machine
from tests.bench.loop import whole_loop
from tests.bench.mail import print_compose_costs, print_delivery
from tests.bench.report import console
from tests.bench.results import ROOT, Results
from tests.support import SERVICE_NAMES

PARTS = ("consume", "scale", "loop", "mail")
LATENCY_RUNS = ((1_000.0, 60.0), (2_000.0, 30.0))  # (offered events/s, seconds), one run each


def _latency_runs(text: str) -> list[tuple[float, float]]:
    try:
        runs = [tuple(float(n) for n in pair.split(":")) for pair in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not rate:seconds pairs: {text!r}") from None
    if any(len(run) != 2 or min(run) <= 0 for run in runs):
        raise argparse.ArgumentTypeError(f"not positive rate:seconds pairs: {text!r}")
    return [(run[0], run[1]) for run in runs]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--services", default=",".join(SERVICE_NAMES), help="services of the consume part")
    parser.add_argument("--events", type=int, default=20_000, help="events per service in batch mode")
    parser.add_argument("--record-events", type=int, default=2_000, help="events per service per record")
    parser.add_argument("--scale-events", type=int, default=20_000, help="orders for one vs two instances")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("WOM_BENCH_POSTGRES_URL"),
        help="a PostgreSQL database the bench may empty (WOM_BENCH_POSTGRES_URL), for one against "
        "two workers (WORKERS=2); without it, two instances on one SQLite file",
    )
    parser.add_argument("--drain", type=int, default=100_000, help="mixed events of the whole-loop drain")
    default_runs = ",".join(f"{rate:g}:{seconds:g}" for rate, seconds in LATENCY_RUNS)
    parser.add_argument(
        "--latency",
        type=_latency_runs,
        help=f"latency runs after the drain, offered events/s:seconds, comma-separated ({default_runs})",
    )
    parser.add_argument("--rate", type=float, help="one latency run at this offered load, events/s (2,000)")
    parser.add_argument("--seconds", type=float, help="... for this long, s (30)")
    parser.add_argument("--mails", type=int, default=5_000, help="queued mails of the mail part")
    parser.add_argument("--keep", type=Path, help="keep databases and logs in this directory")
    parser.add_argument(
        "--results", type=Path, default=ROOT / "var/bench", help="where results.json goes (var/bench)"
    )
    args = parser.parse_args()
    if args.latency is not None and (args.rate is not None or args.seconds is not None):
        parser.error("--latency or --rate/--seconds, not both")
    if args.latency is None:
        single = args.rate is not None or args.seconds is not None
        args.latency = [(args.rate or 2_000.0, args.seconds or 30.0)] if single else list(LATENCY_RUNS)
    unknown = (set(args.parts.split(",")) - set(PARTS)) | (set(args.services.split(",")) - set(SERVICE_NAMES))
    if unknown:
        parser.error(f"unknown part or service: {', '.join(sorted(unknown))}")
    return args


def main() -> None:
    args = _arguments()
    parts = set(args.parts.split(","))
    options: dict[str, Any] = {
        "parts": [part for part in PARTS if part in parts],
        "services": args.services.split(","),
        "events": args.events,
        "record_events": args.record_events,
        "scale_events": args.scale_events,
        "scale_database": "postgresql" if args.postgres else "sqlite",
        "drain": args.drain,
        "latency": [list(run) for run in args.latency],
        "keep": args.keep,
    }
    results = Results(options)
    console.print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="wom-bench-") as temporary:
        directory = args.keep or Path(temporary)
        directory.mkdir(parents=True, exist_ok=True)
        if "consume" in parts:
            measured = {
                name: measure_service(name, directory, args.events, args.record_events)
                for name in options["services"]
            }
            report.consume(measured, args.events, args.record_events, results)
        if "scale" in parts:
            with embedded_broker() as bootstrap:
                one, two = scale_out(bootstrap, directory, args.scale_events, args.postgres)
            report.scale(one, two, args.scale_events, results, postgres=args.postgres is not None)
        if "loop" in parts:
            loop = whole_loop(directory, drain=args.drain, latency=args.latency, parts={"drain", "latency"})
            report.loop(loop, results)
        if "mail" in parts:  # outreach's delivery job alone, then beside its consume path
            print_compose_costs()
            print_delivery(directory, args.mails)
            print_delivery(directory, args.mails, consume=2 * args.mails)
    console.print(f"machine after the run: {machine()}")
    latest, stamped = results.write(args.results)
    console.print(f"every figure of this run: {latest} (and {stamped.name})")


if __name__ == "__main__":
    main()

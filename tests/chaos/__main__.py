"""`make chaos` / `python -m tests.chaos`: run the scenarios and print the table."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import random
import sys
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from tests.chaos import scenarios
from tests.chaos.scenarios import Outcome, Scale

SCENARIOS = {
    "crashes": scenarios.crashes,
    "cuts": scenarios.cuts,
    "poison": scenarios.poison,
    "duplicates": scenarios.duplicates,
}


async def _scenario(name: str, directory: Path, seed: int, scale: Scale, log: Any) -> Outcome:
    """One scenario on a platform of its own (two for duplicates)."""
    if name == "duplicates":
        return await scenarios.duplicates(scenarios.duplicate_platforms(directory), seed, scale, log)
    async with scenarios.platform_for(directory) as platform:
        return await SCENARIOS[name](platform, seed, scale, log)


def table(outcomes: list[Outcome], title: str) -> Table:
    view = Table(title=title)
    for column in ("scenario", "faults injected", "events checked", "lost", "duplicated", "dead-lettered",
                   "max stall", "time", "result"):  # fmt: skip
        view.add_column(
            column, justify="left" if column in ("scenario", "faults injected", "result") else "right"
        )
    for o in outcomes:
        stall = "—" if o.max_stall is None else f"{o.max_stall:.1f} s"
        if o.stall_target is not None:
            stall += f" (target ≤ {o.stall_target:.0f} s)"
        view.add_row(
            o.scenario, f"{o.faults:,} ({o.fault_detail[:60]})", f"{o.events:,}", f"{o.lost:,}",
            f"{o.duplicated:,}", f"{o.dead_lettered:,}", stall, f"{o.seconds:.0f} s",
            "[green]met[/]" if o.passed else "[red]NOT MET[/]",
        )  # fmt: skip
    return view


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument(
        "--seed", type=int, default=None, help="the run's seed (printed; random if not given)"
    )
    parser.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every event count (0.1 for a quick run)"
    )
    for f in fields(Scale):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=None)
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs of the run")
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a cut makes every client complain
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    scale = Scale()
    for f in fields(Scale):
        value = getattr(args, f.name)
        if value is not None:
            setattr(scale, f.name, value)
        elif f.name in ("events", "cut_events", "poison", "poison_valid", "duplicate_events"):
            setattr(scale, f.name, max(100, int(getattr(scale, f.name) * args.scale)))
        elif f.name == "kills" and args.scale < 1:
            scale.kills = max(3, int(scale.kills * args.scale))
    console = Console(width=None if sys.stdout.isatty() else 150)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    console.print(f"chaos run, seed [bold]{seed}[/] (repeat with --seed {seed}); {scale}")
    directory = Path(tempfile.mkdtemp(prefix="wom-chaos-"))
    outcomes: list[Outcome] = []
    started = time.monotonic()
    for name in names:
        console.rule(name)
        outcome = asyncio.run(_scenario(name, directory / name, seed, scale, console.log))
        outcomes.append(outcome)
        for line in outcome.problems:
            console.print(f"[red]problem[/] {line}")
        for line in outcome.notes:
            console.print(f"  {line}")
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}, embedded Tansu broker, SQLite"
    console.print(
        table(outcomes, f"wom chaos — seed {seed} — {machine} — {time.monotonic() - started:.0f} s")
    )
    if args.keep:
        console.print(f"databases and logs kept in {directory}")
    else:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())

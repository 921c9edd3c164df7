"""var/bench/results.json: every key docs/performance.md documents is written, with a number,
by the functions that print a run's figures; parts that did not run are absent.

The measurements are made up here (a real run takes minutes: every service starts as its own
process); what is tested is that each figure a part measures reaches its documented key. The
naive baseline's own test (test_naive.py) measures for real.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from tests.bench import report
from tests.bench.consume import ServiceRuns, Throughput
from tests.bench.loop import PATHS, Latency, LatencyRun, LoopResult
from tests.bench.results import ROOT, Results
from tests.support import SERVICE_NAMES

NOT_NUMBERS = {"commit", "dirty", "started_at", "finished_at", "options", "machine.python", "machine.system"}
NOT_NUMBERS |= {"machine.load_before", "machine.load_after", "latency.met", "latency_1000.met"}
PATH_KEYS = [key for key, _ in PATHS.values()] + ["all"]


def documented_keys() -> list[str]:
    """Every key of the results.json table in docs/performance.md, patterns expanded."""
    text = (ROOT / "docs/performance.md").read_text()
    section = text.split("### `var/bench/results.json`", 1)[1].split("\n#", 1)[0]
    keys: list[str] = []
    for line in section.splitlines():
        if line.startswith("| `"):
            for pattern in re.findall(r"`([^`]+)`", line.split(" | ")[0]):
                keys += _expand(pattern)
    return keys


def _expand(pattern: str) -> list[str]:
    parts: list[list[str]] = []
    for part in pattern.split("."):
        if part == "<service>":
            parts.append(list(SERVICE_NAMES))
        elif part == "<path>":
            parts.append(PATH_KEYS)
        elif part.startswith("{"):
            parts.append(part.strip("{}").split(","))
        else:
            parts.append([part])
    return [".".join(names) for names in itertools.product(*parts)]


def _lookup(tree: dict[str, Any], key: str) -> Any:
    node: Any = tree
    for name in key.split("."):
        assert isinstance(node, dict) and name in node, f"{key} is missing"
        node = node[name]
    return node


def _throughput(service: str, mode: str, rate: float, **extra: Any) -> Throughput:
    return Throughput(service, mode, 2_000, rate, rate * 0.9, 400.0, Path(f"{service}.db"), "group", **extra)


def _measured() -> dict[str, ServiceRuns]:
    measured = {
        name: ServiceRuns(100_000.0, _throughput(name, "batch", 2_000.0), _throughput(name, "record", 100.0))
        for name in SERVICE_NAMES
    }
    measured["outreach"].batch = _throughput("outreach", "batch", 600.0, mails=1_000, mail_per_s=75.0)
    measured["rewards"].relay = (2_200, 8_000.0)
    measured["rewards"].naive = _throughput("naive", "per message", 150.0)
    return measured


def _loop() -> LoopResult:
    runs = []
    for rate, seconds in ((1_000.0, 60.0), (2_000.0, 30.0)):
        latencies = [Latency(key, label, [0.1, 0.2, 0.3, 0.4]) for key, label in PATHS.values()]
        every = Latency("all", "all of the above", [s for latency in latencies for s in latency.samples])
        runs.append(LatencyRun(rate, seconds, int(rate * seconds), rate, [*latencies, every]))
    return LoopResult(
        events=1_000,
        drain_seconds=10.0,
        consumed=dict.fromkeys(SERVICE_NAMES, 1_000),
        busy=dict.fromkeys(SERVICE_NAMES, 9.0),
        latency_runs=runs,
        peak_rss=dict.fromkeys(SERVICE_NAMES, 150.0),
    )


def test_every_documented_key_is_written_with_a_number(tmp_path: Path) -> None:
    results = Results({"parts": ["consume", "scale", "loop"]})
    report.consume(_measured(), 2_000, 200, results)
    one, two = _throughput("rewards", "1 instance", 2_000.0), _throughput("rewards", "2 instances", 3_000.0)
    report.scale(one, two, 2_000, results)
    report.loop(_loop(), results)
    latest, stamped = results.write(tmp_path)
    tree = json.loads(latest.read_text())
    keys = documented_keys()
    assert len(keys) > 100
    for key in keys:
        value = _lookup(tree, key)
        if key not in NOT_NUMBERS:
            assert isinstance(value, int | float) and not isinstance(value, bool), f"{key}: {value!r}"
    assert tree["scale"]["two_over_one"] == 1.5
    assert tree["baseline"]["batch_over_naive"] == 2_000 / 150
    assert tree["latency"]["offered"] == 60_000 and tree["latency_1000"]["offered"] == 60_000
    assert tree["latency"]["target_p99_ms"] == 5_000 and tree["latency_1000"]["target_p99_ms"] == 1_000
    assert tree["latency"]["met"] is True
    assert len(tree["machine"]["load_after"]) == 3
    assert stamped.read_text() == latest.read_text()
    assert re.fullmatch(r"results-\d{8}T\d{6}Z\.json", stamped.name)


def test_parts_not_run_are_absent_and_unmeasured_figures_null(tmp_path: Path) -> None:
    results = Results({"parts": ["consume"]})
    batch, record = _throughput("referrals", "batch", float("nan")), _throughput("referrals", "record", 1.0)
    runs = ServiceRuns(100_000.0, batch, record)
    report.consume({"referrals": runs}, 2_000, 200, results)
    latest, _ = results.write(tmp_path)
    tree = json.loads(latest.read_text())  # strict JSON: no NaN
    assert tree["consume"]["referrals"]["batch"]["per_s"] is None
    assert tree["consume"]["referrals"]["record"]["per_s"] == 1.0
    absent = {"scale", "loop", "latency", "latency_1000", "rss_mib", "baseline", "mail_per_s", "raw_per_s"}
    assert not absent & set(tree)

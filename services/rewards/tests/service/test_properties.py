"""Properties of the refund chain through the real consume path (SQLite), for random input:
orders, partial refunds (some beyond the total), duplicates (redelivered, or published again
under a new event id), arrival out of order, random batch boundaries, batch or per-record mode.

- every balance an event announces equals the sum of the ledger entries at the end;
- a clawback never exceeds what its order earned, and all clawbacks of an order add up to its
  refunded share of the grant;
- duplicated or reordered input gives the same final ledger as clean input.

Tier multipliers are set to 1 here: a key client earns more, and whether a customer is one at
the moment an order is processed depends on what arrived before it (a refund that lands first
lowers their revenue). That is a property of tiers, not of the refund chain.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rewards.app import create_app
from rewards.models import LedgerEntry
from rewards.settings import RewardsSettings
from sqlalchemy import select
from wom_chassis import Database
from wom_contracts import Event, RewardGrantedV1, RewardRevokedV1
from wom_testkit import FakeRecord, emitted, record_of

from ..support import NOW, order, refund

AMOUNTS = ["5.00", "12.34", "40.00", "99.99", "250.00"]


@dataclass(frozen=True)
class Scenario:
    events: list[Event]  # the clean story, in the order it happened
    seed: int
    duplicates: int
    mode: str


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    events: list[Event] = []
    for n in range(draw(st.integers(1, 4))):
        customer = draw(st.sampled_from(["anna", "ben"]))
        total = Decimal(draw(st.sampled_from(AMOUNTS)))
        events.append(order(f"o-{n}", str(total), customer=customer, when=NOW - timedelta(days=n)))
        for r in range(draw(st.integers(0, 3))):
            share = draw(st.sampled_from(["0.1", "0.25", "0.3333", "0.5", "1", "1.2"]))
            amount = (total * Decimal(share)).quantize(Decimal("0.01"))
            if amount > 0:
                events.append(refund(f"r-{n}-{r}", order_id=f"o-{n}", amount=str(amount), customer=customer))
    return Scenario(
        events,
        seed=draw(st.integers(0, 2**32 - 1)),
        duplicates=draw(st.integers(0, 4)),
        mode=draw(st.sampled_from(["batch", "record"])),
    )


def clean_records(events: list[Event]) -> list[FakeRecord]:
    return [record_of(event, offset=n, event_id=f"evt-{n}") for n, event in enumerate(events)]


def messy_records(scenario: Scenario) -> list[FakeRecord]:
    """Shuffled, with some records delivered twice and some published again under a new id."""
    rng = random.Random(scenario.seed)
    records = clean_records(scenario.events)
    for n in range(scenario.duplicates):
        original = rng.choice(scenario.events)
        index = scenario.events.index(original)
        same_id = n % 2 == 0
        records.append(record_of(original, event_id=f"evt-{index}" if same_id else f"again-{n}-{index}"))
    rng.shuffle(records)
    for offset, record in enumerate(records):
        record.offset = offset
    return records


async def run(database: Path, rules: Path, records: list[FakeRecord], mode: str, seed: int) -> dict[str, Any]:
    settings = RewardsSettings(
        database_url=f"sqlite+aiosqlite:///{database}",
        consume_mode=mode,
        rewards_rules_file=rules,
        log_level="WARNING",
    )
    service = create_app(settings)
    rng = random.Random(seed)
    try:
        start = 0
        while start < len(records):  # random batch boundaries
            size = rng.randint(1, 5)
            await service.processor.process(records[start : start + size])
            start += size
        async with service.db.session() as session:
            rows = (await session.scalars(select(LedgerEntry))).all()
        events = await emitted(service)
    finally:
        await service.db.dispose()
    return {"rows": rows, "events": events}


def final_ledger(rows: list[LedgerEntry]) -> dict[tuple[str, str, str | None, str], Decimal]:
    """Totals per (customer, kind, order, status): what the ledger says, whatever the ids."""
    totals: dict[tuple[str, str, str | None, str], Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row.customer_id, row.kind, row.order_id, row.status] += row.amount
    return dict(totals)


@pytest.fixture(scope="module")
def flat_rules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped rules without tier multipliers."""
    import yaml
    from rewards.rules import DEFAULT_RULES_FILE

    rules = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    rules["earning"]["tier_multipliers"] = {}
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty rewards database to copy for each example (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "rewards.db"

    async def migrate() -> None:
        from rewards.app import MIGRATIONS

        db = Database(f"sqlite+aiosqlite:///{path}", [MIGRATIONS])
        await db.migrate()
        await db.dispose()

    asyncio.run(migrate())
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_the_refund_chain_holds_for_any_interleaving(
    scenario: Scenario, template: Path, flat_rules: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    directory = tmp_path_factory.mktemp("example")
    shutil.copy(template, directory / "clean.db")
    shutil.copy(template, directory / "messy.db")
    clean = asyncio.run(
        run(directory / "clean.db", flat_rules, clean_records(scenario.events), "batch", scenario.seed)
    )
    messy = asyncio.run(
        run(directory / "messy.db", flat_rules, messy_records(scenario), scenario.mode, scenario.seed)
    )

    for result in (clean, messy):
        rows: list[LedgerEntry] = result["rows"]
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for row in rows:
            sums[row.customer_id, row.status] += row.amount  # type: ignore[index]
        # the last balance each customer was told equals the sum of their entries
        last: dict[str, Any] = {}
        for event in result["events"]:
            if isinstance(event, RewardGrantedV1 | RewardRevokedV1):
                last[event.customer_id] = event.balance
        for customer, balance in last.items():
            assert balance.points_pending == sums[customer, "pending"]  # type: ignore[index]
            assert balance.points_available == sums[customer, "available"]  # type: ignore[index]
        # per order: clawbacks never exceed the grant and add up to the refunded share
        earned = {row.order_id: row.amount for row in rows if row.kind == "earn"}
        clawed: dict[str | None, Decimal] = defaultdict(Decimal)
        for row in rows:
            if row.kind == "clawback":
                assert row.amount < 0
                clawed[row.order_id] -= row.amount
        for event in scenario.events:
            if not hasattr(event, "total") or event.order_id not in earned:  # type: ignore[attr-defined]
                continue
            refunded = sum(
                (
                    e.amount.amount
                    for e in scenario.events
                    if getattr(e, "refund_id", None) and e.order_id == event.order_id
                ),  # type: ignore[attr-defined]
                Decimal(0),
            )
            grant = earned[event.order_id]  # type: ignore[attr-defined]
            share = min(Decimal(1), refunded / event.total.amount)  # type: ignore[attr-defined]
            expected = min(grant, (grant * share).to_integral_value(rounding=ROUND_HALF_UP))
            assert clawed[event.order_id] == expected <= grant  # type: ignore[attr-defined]

    assert final_ledger(messy["rows"]) == final_ledger(clean["rows"])

"""The short versions of `make chaos`: the same scenario code and the same checks, small numbers,
one platform (four services behind a TCP proxy in front of the embedded broker) for three of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from wom_testkit import bound

from tests.chaos import scenarios
from tests.chaos.scenarios import Outcome, Scale
from tests.platform import Platform

pytestmark = [pytest.mark.reliability, pytest.mark.asyncio(loop_scope="module")]
SEED = 20261124
SHORT = Scale(
    events=800, kills=3, cut_events=400, cuts=1, cut_seconds=5, poison=300, poison_valid=200,
    duplicate_events=200, rate=400, drain_timeout=bound(120), mail_grace=bound(10),
)  # fmt: skip


SESSION = {"CONSUMER_SESSION_TIMEOUT_MS": "3000"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    # a killed service's partitions go to its restarted self after 3 s instead of the default 10 s
    async with scenarios.platform_for(tmp_path_factory.mktemp("chaos"), env=SESSION) as running:
        yield running


def assert_met(outcome: Outcome) -> None:
    report = f"{outcome}"
    assert outcome.lost == 0, report
    assert outcome.duplicated == 0, report
    assert not outcome.problems, report


async def test_kill_9_of_random_services_loses_and_doubles_nothing(platform: Platform) -> None:
    outcome = await scenarios.crashes(platform, SEED, SHORT)
    assert outcome.faults == SHORT.kills
    assert_met(outcome)


async def test_a_broker_cut_loses_nothing_and_the_outboxes_drain(platform: Platform) -> None:
    outcome = await scenarios.cuts(platform, SEED, SHORT)
    assert_met(outcome)
    assert outcome.max_stall is not None and outcome.max_stall >= SHORT.cut_seconds - 1  # the cut was real


async def test_poison_is_dead_lettered_with_a_reason_and_valid_traffic_never_stalls(
    platform: Platform,
) -> None:
    outcome = await scenarios.poison(platform, SEED, SHORT)
    assert_met(outcome)
    assert outcome.dead_lettered >= SHORT.poison  # every bad record at least once, per consumer of its topic
    assert outcome.max_stall is not None and outcome.max_stall < 5.0, outcome


async def test_duplicated_and_reordered_input_ends_in_the_state_of_clean_input(tmp_path: Path) -> None:
    outcome = await scenarios.duplicates(scenarios.duplicate_platforms(tmp_path), SEED, SHORT, parallel=True)
    assert outcome.faults > SHORT.duplicate_events  # copies and moves happened
    assert_met(outcome)

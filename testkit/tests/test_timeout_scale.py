"""WOM_TEST_TIMEOUT_SCALE: the one factor every bounded wait of the tests is widened by."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
from wom_testkit.serving import timeout_scale

serving = importlib.import_module("wom_testkit.serving")  # the module; the package's `serving` is a function


@pytest.fixture
def reloaded(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The module read again under the environment a test sets, and as it was afterwards."""
    yield monkeypatch
    monkeypatch.undo()
    importlib.reload(serving)


@pytest.mark.parametrize("value", ["fast", "0", "-2", "nan", "inf", "1,5"])
def test_a_value_that_is_not_a_factor_above_0_is_refused_with_the_reason(value: str) -> None:
    with pytest.raises(ValueError) as refused:
        timeout_scale(value)
    assert str(refused.value) == f"WOM_TEST_TIMEOUT_SCALE must be a number greater than 0, not {value!r}"


@pytest.mark.parametrize(("value", "scale"), [(None, 1.0), ("", 1.0), ("1", 1.0), ("2.5", 2.5), ("0.5", 0.5)])
def test_unset_it_is_1_and_set_it_is_the_number(value: str | None, scale: float) -> None:
    assert timeout_scale(value) == scale


def test_the_factor_from_the_environment_widens_every_bound(reloaded: pytest.MonkeyPatch) -> None:
    reloaded.setenv("WOM_TEST_TIMEOUT_SCALE", "3")
    importlib.reload(serving)
    assert serving.TIMEOUT_SCALE == 3.0
    assert serving.bound(20) == 60.0


def test_a_bad_factor_in_the_environment_stops_the_import(reloaded: pytest.MonkeyPatch) -> None:
    reloaded.setenv("WOM_TEST_TIMEOUT_SCALE", "0")
    with pytest.raises(ValueError, match="WOM_TEST_TIMEOUT_SCALE must be a number greater than 0, not '0'"):
        importlib.reload(serving)


async def test_eventually_without_a_timeout_waits_the_widened_default(reloaded: pytest.MonkeyPatch) -> None:
    reloaded.setenv("WOM_TEST_TIMEOUT_SCALE", "0.01")
    importlib.reload(serving)
    with pytest.raises(AssertionError, match=r"not true within 0\.15s"):
        await serving.eventually(lambda: False, every=0.01)

"""Fixtures shared by every test directory."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from wom_testkit import POSTGRES_ENV, chromium_missing, sibling_database_url
from wom_testkit.sources import chosen_sources, kafka_container, postgres_url

# PostgreSQL is settled when this file is imported, before any conftest below it parametrizes
# its database tests by it: the URL chosen (named, local, or a container's, started now) is put
# in WOM_TEST_POSTGRES_URL for the tests and the services they start.
_CONTAINERS = ExitStack()
# The tests' services use short and development secrets: a service refuses them unless WOM_ENV=dev
# (a test of that refusal sets another value for the settings it builds)
os.environ.setdefault("WOM_ENV", "dev")
if _postgres_url := postgres_url(chosen_sources().postgres, _CONTAINERS):
    if _worker := os.environ.get("PYTEST_XDIST_WORKER"):
        # `make test` runs the suite in two processes (pytest-xdist): each empties databases of
        # its own, beside the run's (wom_test_gw0, and wom_test_gw0_<service> for its services)
        _postgres_url = asyncio.run(sibling_database_url(_postgres_url, _worker))
    os.environ[POSTGRES_ENV] = _postgres_url


def pytest_unconfigure() -> None:
    _CONTAINERS.close()


def pytest_report_header() -> list[str]:
    sources = chosen_sources()
    return [f"kafka: {sources.kafka.describe()}", f"postgresql: {sources.postgres.describe()}"]


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The run's broker (wom_testkit.sources: the one named, a container, or an embedded broker),
    with every topic created."""
    from womctl.broker import EmbeddedBroker
    from womctl.topics import create_topics

    kafka = chosen_sources().kafka
    with ExitStack() as stack:
        if kafka.kind == "configured":
            assert kafka.url
            bootstrap = kafka.url
        elif kafka.kind == "container":
            bootstrap = stack.enter_context(kafka_container())
        else:
            bootstrap = stack.enter_context(EmbeddedBroker()).bootstrap
        asyncio.run(create_topics(bootstrap))
        yield bootstrap


ROOT = Path(__file__).resolve().parent
PROCESSES = (
    "tests/e2e/", "tests/reliability/", "tests/bench/", "tests/test_womctl", "deploy/tests/test_images.py",
)  # fmt: skip
"""The tests that start services, brokers or images as processes (several cores' worth at once)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs Chromium (marked, or in a *_browser.py module) skips where it is missing,
    saying so (the item's own skipif is evaluated before its module's). Under `make test`'s two
    pytest-xdist workers (`--dist loadgroup`) the tests that start processes run one at a time on
    one worker, in file order, while the other takes the rest: two of them side by side on two
    cores starve each other's services past their bounds."""
    missing = chromium_missing()
    for item in items:
        if item.path.resolve().relative_to(ROOT).as_posix().startswith(PROCESSES):
            item.add_marker(pytest.mark.xdist_group("processes"))
        if item.path.name.endswith("_browser.py"):
            item.add_marker(pytest.mark.needs_chromium)
        if item.get_closest_marker("needs_chromium"):
            item.add_marker(pytest.mark.skipif(missing is not None, reason=missing or ""))


def _pygal_importer_speaks_find_spec() -> None:
    """pygal (the analytics charts) appends to `sys.meta_path` an importer that only has the
    `find_module` protocol, which Python 3.12 removed; pytest's importlib mode asks every meta-path
    entry for `find_spec` when it imports a test module of a nested package (tests/bench), and
    fails on it. Its plugin maps (`pygal.maps.*`) are not used here: it finds nothing."""
    import pygal

    importer = pygal.PluginImportFixer
    if not hasattr(importer, "find_spec"):
        importer.find_spec = lambda self, fullname, path=None, target=None: None  # type: ignore[attr-defined]


_pygal_importer_speaks_find_spec()

"""Fixtures shared by every test directory."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from wom_testkit import chromium_missing


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS when set; otherwise an embedded broker with every topic created."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        from womctl.topics import create_topics

        asyncio.run(create_topics(configured))
        yield configured
        return
    from womctl.broker import EmbeddedBroker
    from womctl.topics import create_topics

    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap))
        yield broker.bootstrap


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs Chromium (marked, or in a *_browser.py module) skips where it is missing,
    saying so (the item's own skipif is evaluated before its module's)."""
    missing = chromium_missing()
    for item in items:
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

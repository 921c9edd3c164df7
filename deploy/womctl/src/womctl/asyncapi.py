"""`womctl contracts asyncapi`: each service's AsyncAPI document, written to contracts/asyncapi/.

The document is the one the service serves at `GET /asyncapi.json`, built from the service as
it is wired (its handlers, its default settings), so this needs the services installed: run it in
the workspace (`make schemas`).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

from wom_chassis import ServiceSettings
from wom_chassis.asyncapi import service_document
from wom_contracts.asyncapi import ASYNCAPI_DIR, render_document

__all__ = ["ASYNCAPI_DIR", "ServiceNotInstalled", "document_of", "write_documents"]


class ServiceNotInstalled(RuntimeError):
    """A service's package cannot be imported (womctl outside the workspace)."""


def _settings_of(service: str) -> ServiceSettings:
    try:
        module = importlib.import_module(f"{service}.settings")
    except ModuleNotFoundError as error:
        raise ServiceNotInstalled(f"{service} is not installed: run in the workspace (uv sync)") from error
    classes = [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, ServiceSettings)
        and value.__module__ == module.__name__
    ]
    if len(classes) != 1:
        raise ServiceNotInstalled(f"{module.__name__} defines {len(classes)} settings classes, not one")
    # the defaults, not this shell's environment: the committed document is the same everywhere;
    # the app is built to be read, never started, so its development secrets do
    return classes[0](
        _env_file=None, consumer_group=None, database_url="sqlite+aiosqlite:///:memory:", wom_env="dev"
    )


def document_of(service: str) -> dict[str, Any]:
    """The AsyncAPI document `service` serves with its default settings."""
    settings = _settings_of(service)
    app = importlib.import_module(f"{service}.app").create_app(settings)
    return service_document(app.settings, app.processor.handlers)


def write_documents(services: list[str], directory: Path = ASYNCAPI_DIR) -> list[Path]:
    """Write `<service>.json` for each service; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for service in services:
        path = directory / f"{service}.json"
        path.write_text(render_document(document_of(service)))
        written.append(path)
    return written

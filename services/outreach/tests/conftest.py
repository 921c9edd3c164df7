import email
import email.policy
import socket
from collections.abc import AsyncIterator, Iterator
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from outreach.app import create_app
from outreach.settings import OutreachSettings
from wom_chassis import Service
from wom_chassis.testing import database_backends, empty_database_url, in_memory_service


class Inbox:
    """An SMTP server on a free port that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(params=database_backends())
async def outreach(
    request: pytest.FixtureRequest, tmp_path: Path, smtp: tuple[Inbox, int]
) -> AsyncIterator[Service]:
    url = await empty_database_url(request.param, tmp_path)
    settings = OutreachSettings(
        database_url=url,
        api_token="secret-token",
        smtp_port=smtp[1],
        delivery_max_attempts=2,
        delivery_retry_seconds=0.01,
    )
    async with in_memory_service(create_app(settings)) as service:
        yield service

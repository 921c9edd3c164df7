"""A local SMTP catcher: every mail it receives becomes one .eml file."""

from __future__ import annotations

import email
import email.policy
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["MailCatcher", "read_mail"]


class _Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}-{uuid.uuid4().hex[:6]}"
        (self.directory / f"{name}.eml").write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


class MailCatcher:
    """An SMTP server on `host:port` writing what it receives under `directory`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1025, directory: Path = Path("var/mail")) -> None:
        self.host, self.port, self.directory = host, port, directory
        self.controller = Controller(_Store(directory), hostname=host, port=port)

    def start(self) -> MailCatcher:
        """Listen in a background thread."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self.controller.stop()

    def messages(self) -> list[EmailMessage]:
        """Every mail received so far, oldest first."""
        return read_mail(self.directory)

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def read_mail(directory: Path) -> list[EmailMessage]:
    """Parse the .eml files of `directory`, oldest first."""
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted(directory.glob("*.eml"))
    ]

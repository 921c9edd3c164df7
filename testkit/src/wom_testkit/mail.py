"""A real SMTP server that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
import logging
from email.message import EmailMessage
from typing import Any, Self

from wom_testkit.serving import free_port

__all__ = ["MailInbox"]


class MailInbox:
    """A real SMTP server on a free port of 127.0.0.1 that keeps every mail it receives
    (`controller.start()` / `controller.stop()`, or `with MailInbox() as inbox`)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller  # a dev dependency, needed by mail tests only

        # aiosmtpd logs every connection at INFO (its own start-up probe too), from its thread:
        # lines outside any test's captured output
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.messages: list[EmailMessage] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        self.messages.append(mail)
        return "250 OK"

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def to(self, address: str) -> list[EmailMessage]:
        """The mails received for `address`."""
        return [m for m in self.messages if m["To"] == address]

    def __enter__(self) -> Self:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

"""Outreach renders message templates in Jinja2's immutable sandbox: a template that reaches for
Python's internals, a private attribute, `str.format` tricks or a mutation is refused, and such a
template among the service's templates ends its message as `failed` with the reason, sends
nothing, leaks nothing and holds up no other message.

Templates are files of the outreach package (`src/outreach/templates/`); there is no directory an
operator points the service at, so whoever changes a template builds an image. The sandbox is
what stands between that file and the process."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jinja2.sandbox import SecurityError
from outreach.app import create_app
from outreach.delivery import Delivery
from outreach.models import Message
from outreach.rules import DEFAULT_RULES_FILE, load_rules
from outreach.settings import OutreachSettings
from outreach.templates import TEMPLATE_DIR, Templates
from sqlalchemy import select
from wom_chassis import Service, provide
from wom_contracts import CustomerRegisteredV1, MessageFailedV1
from wom_testkit import MailInbox, emitted, in_memory_service, publish_event, rules_file

SECRET = "value-only-python-internals-hold"


class Customer:
    """A context object with a private attribute a template must not read."""

    def __init__(self) -> None:
        self.first_name = "Anna"
        self._private = SECRET


ATTACKS = {
    "subclasses through the MRO": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "a global function's globals": "{{ cycler.__init__.__globals__ }}",
    "lipsum's module globals": "{{ lipsum.__globals__['os'].environ }}",
    "the template's own context": "{{ self._TemplateReference__context }}",
    "a private attribute": "{{ customer._private }}",
    "a private attribute by the attr filter": "{{ customer|attr('_private') }}",
    "a private attribute in a condition": "{% if customer._private %}x{% endif %}",
    "str.format reaching an attribute": "{{ '{0._private}'.format(customer) }}",
    "str.format reaching a dunder": "{{ '{0.__class__.__mro__}'.format(first_name) }}",
    "format_map": "{{ '{c._private}'.format_map({'c': customer}) }}",
    "appending to a list": "{{ items.append(4) }}",
    "popping from a list": "{{ items.pop() }}",
    "updating a dict": "{{ offer.update({'code': 'FREE'}) }}",
    "setting a dict item": "{{ offer.__setitem__('code', 'FREE') }}",
}


def context() -> dict[str, Any]:
    return {"customer": Customer(), "first_name": "Anna", "items": [1, 2, 3], "offer": {"code": "VIP10"}}


def template_dir(directory: Path, kind: str, body: str) -> Path:
    """The shipped templates with `kind`'s English text replaced by `body`."""
    target = directory / "templates"
    shutil.copytree(TEMPLATE_DIR, target)
    (target / kind / "en.txt").write_text(body, encoding="utf-8")
    return target


@pytest.mark.parametrize("attack", list(ATTACKS.values()), ids=list(ATTACKS))
def test_the_sandbox_refuses_a_template_that_reaches_beyond_its_data(attack: str, tmp_path: Path) -> None:
    (tmp_path / "probe").mkdir()
    for part in ("subject.txt", "txt", "html"):
        (tmp_path / "probe" / f"en.{part}").write_text(attack if part == "txt" else "-", encoding="utf-8")
    data = context()
    with pytest.raises(SecurityError) as refused:
        Templates(tmp_path).render("probe", "en", data)
    assert SECRET not in str(refused.value)
    assert (data["items"], data["offer"]) == ([1, 2, 3], {"code": "VIP10"}), "the sandbox let it mutate"


@pytest.fixture
async def outreach(tmp_path: Path) -> AsyncIterator[tuple[Service, OutreachSettings, MailInbox]]:
    hour = (datetime.now(UTC).hour + 6) % 24  # quiet hours that never cover the test
    calm = {"start": f"{hour:02d}:00", "end": f"{(hour + 1) % 24:02d}:00", "default_timezone": "UTC"}
    rules = rules_file(tmp_path, DEFAULT_RULES_FILE, {"welcome_delay_minutes": 0, "quiet_hours": calm})
    with MailInbox() as inbox:
        settings = OutreachSettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'outreach.db'}",
            api_token="t",
            outreach_rules_file=rules,
            smtp_host="127.0.0.1",
            smtp_port=inbox.port,
        )
        async with in_memory_service(create_app(settings)) as service:
            yield service, settings, inbox


async def test_a_hostile_template_fails_its_message_with_the_reason_and_holds_up_nothing(
    outreach: tuple[Service, OutreachSettings, MailInbox], tmp_path: Path
) -> None:
    service, settings, inbox = outreach
    templates = Templates(template_dir(tmp_path, "welcome", ATTACKS["a global function's globals"]))
    now = datetime.now(UTC)
    for customer, locale in (("anna", "en"), ("sven", "sv")):  # sv's welcome is untouched
        await publish_event(
            service.broker,
            CustomerRegisteredV1(
                customer_id=customer, email=f"{customer}@example.com", locale=locale, registered_at=now
            ),
        )
    delivery = Delivery(load_rules(settings.outreach_rules_file), settings, templates)
    assert await delivery.deliver_due(service) == 2
    assert await delivery.deliver_due(service) == 0, "a failed message is not tried again and again"
    await delivery.close()

    async with service.db.session() as session:
        messages = {m.customer_id: m for m in await session.scalars(select(Message))}
    assert (messages["anna"].status, messages["sven"].status) == ("failed", "sent")
    assert messages["anna"].last_error is not None and "SecurityError" in messages["anna"].last_error
    [failed] = await emitted(service, MessageFailedV1)
    assert (failed.customer_id, failed.kind) == ("anna", "welcome") and "unsafe" in failed.error
    assert [m["To"] for m in inbox.messages] == ["sven@example.com"]


async def test_the_preview_of_a_hostile_template_is_refused_with_the_reason(
    outreach: tuple[Service, OutreachSettings, MailInbox], tmp_path: Path
) -> None:
    service, _settings, _inbox = outreach
    templates = Templates(template_dir(tmp_path, "welcome", ATTACKS["subclasses through the MRO"]))
    provide(service.http, templates=templates)  # the hostile ones
    transport = httpx.ASGITransport(app=service.http, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://outreach") as http:
        answer = await http.get("/preview/welcome?locale=en", headers={"Authorization": "Bearer t"})
        intact = await http.get("/preview/welcome?locale=sv", headers={"Authorization": "Bearer t"})
    assert answer.status_code == 422, answer.text
    assert "unsafe" in answer.json()["detail"][0]["msg"] and "<class" not in answer.text
    assert intact.status_code == 200

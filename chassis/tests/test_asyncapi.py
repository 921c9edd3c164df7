"""A service's AsyncAPI document as the chassis makes it: its handlers' topics, its group, the
events of its domain and its dead-letter topic with the headers a dead letter really carries."""

from __future__ import annotations

from wom_chassis import EventHandlers, ServiceSettings, UnitOfWork
from wom_chassis.asyncapi import DEAD_LETTER_HEADERS, service_document
from wom_chassis.deadletters import DLQ_HEADER_PREFIX, DeadLetter, dead_letter_record
from wom_contracts import CustomerErasedV1
from wom_contracts.samples import sample
from wom_testkit import record_of


def _document() -> dict:  # type: ignore[type-arg]
    handlers: EventHandlers[None] = EventHandlers()

    @handlers.on(CustomerErasedV1)
    async def on_customer_erased(event: CustomerErasedV1, uow: UnitOfWork[None]) -> None:
        return None

    settings = ServiceSettings(_env_file=None, service_name="outreach", consumer_group="wom-outreach-blue")
    return service_document(settings, handlers)


def test_the_document_has_what_the_service_consumes_publishes_and_dead_letters() -> None:
    doc = _document()
    operations = doc["operations"]
    assert operations["receiveCustomerErasedV1"]["bindings"]["kafka"]["groupId"]["enum"] == [
        "wom-outreach-blue"
    ]
    assert sorted(name for name, op in operations.items() if op["action"] == "send") == [
        "sendDeadLetter", "sendMessageFailedV1", "sendMessageSentV1", "sendMessageSuppressedV1",
    ]  # fmt: skip
    assert doc["channels"]["outreach_dlq"]["address"] == "outreach.dlq"
    assert operations["sendDeadLetter"]["channel"] == {"$ref": "#/channels/outreach_dlq"}


def test_the_dead_letter_headers_are_those_a_dead_letter_gets() -> None:
    letter = DeadLetter(record_of(sample("commerce.customer.erased.v1")), "invalid_event", "bad")
    written = dead_letter_record(letter, service="outreach", topic="outreach.dlq")
    added = {name for name, _value in written.headers if name.startswith(DLQ_HEADER_PREFIX)}
    documented = _document()["components"]["messages"]["DeadLetter"]["headers"]["required"]
    assert added == {DLQ_HEADER_PREFIX + name for name in DEAD_LETTER_HEADERS} == set(documented)

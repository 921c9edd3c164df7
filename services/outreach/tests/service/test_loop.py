"""The loop's messages through the real consume path, the ledger at send time, and delivery to a
real SMTP server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from httpx import ASGITransport, AsyncClient
from outreach.delivery import Delivery
from outreach.jobs import occurs_on, plan_yearly, yearly_candidates
from outreach.models import Contact, Message
from outreach.rules import load_rules
from outreach.settings import OutreachSettings
from outreach.templates import Templates
from sqlalchemy import select
from wom_chassis import Service, utcnow
from wom_chassis.tables import OutboxRecord
from wom_contracts import (
    Balance,
    CaseOpenedV1,
    CaseRepliedV1,
    CaseResolvedV1,
    CodeIssuedV1,
    CustomerErasedV1,
    CustomerRegisteredV1,
    MessageSentV1,
    MessageSuppressedV1,
    Money,
    OrderCompletedV1,
    PromoterIdentifiedV1,
    RewardGrantedV1,
    RewardRevokedV1,
    TierChangedV1,
)
from wom_testkit import MailInbox, emitted, publish_event, record_of

from ..conftest import AUTH, OutreachFactory

NOW = datetime.now(UTC).replace(microsecond=0)

"""When the event helpers below say things happened: reset at the start of each test (see
conftest.py), not only at import, which is many minutes before the end of a long suite."""


def registered(
    customer: str = "anna", *, locale: str = "ro-MD", consent: bool = True, **extra: Any
) -> CustomerRegisteredV1:
    return CustomerRegisteredV1(
        customer_id=customer, email=f"{customer}@example.com", first_name="Ana", locale=locale,
        registered_at=NOW, marketing_consent=consent, **extra,
    )  # fmt: skip


def granted(customer: str = "anna", points: int = 42, reward_id: str = "r-1") -> RewardGrantedV1:
    return RewardGrantedV1(
        customer_id=customer, reward_id=reward_id, kind="earn", status="pending", points=points,
        reason="purchase", source_event_id="evt-order", order_id="o-1",
        hold_until=NOW + timedelta(days=14), balance=Balance(points_available=0, points_pending=points),
        occurred_at=NOW,
    )  # fmt: skip


def code(customer: str = "anna") -> CodeIssuedV1:
    return CodeIssuedV1(
        customer_id=customer, code="ANA-7K3Q", share_url="https://r.example.com/r/ANA-7K3Q", occurred_at=NOW
    )


def promoter(customer: str = "anna", response_id: str = "resp-1") -> PromoterIdentifiedV1:
    return PromoterIdentifiedV1(
        customer_id=customer, response_id=response_id, kind="nps", score=10, occurred_at=NOW
    )


def key_client(customer: str = "anna") -> TierChangedV1:
    return TierChangedV1(
        customer_id=customer, previous_tier="repeat_buyer", tier="key_client",
        trailing_revenue=Money(amount=Decimal("900"), currency="EUR"), occurred_at=NOW,
    )  # fmt: skip


async def deliver(service: Service) -> int:
    """Deliver what is due, round after round (a customer's messages go one a round), as the
    delivery job does until nothing is due; how many messages were taken up."""
    settings = service.settings
    assert isinstance(settings, OutreachSettings)
    delivery = Delivery(load_rules(settings.outreach_rules_file), settings, Templates())
    taken = 0
    try:
        while tried := await delivery.deliver_due(service):
            taken += tried
    finally:
        await delivery.close()
    return taken


async def messages(service: Service, kind: str | None = None) -> list[Message]:
    async with service.db.session() as session:
        query = select(Message).order_by(Message.created_at)
        return [m for m in (await session.scalars(query)).all() if kind is None or m.kind == kind]


async def test_a_purchase_is_thanked_in_the_customers_language(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, granted())
    assert await deliver(outreach) == 1
    [mail] = smtp[0].messages
    assert mail["To"] == "anna@example.com" and mail["Content-Language"] == "ro"
    assert "42" in mail["Subject"] and "Ana" in mail["Subject"]
    assert mail["List-Unsubscribe"] is None, "transactional mail has no unsubscribe header"
    assert {part.get_content_type() for part in mail.iter_parts()} == {"text/plain", "text/html"}
    [sent] = await emitted(outreach, MessageSentV1)
    assert (sent.kind, sent.locale, sent.template) == ("purchase_thank_you", "ro", "purchase_thank_you/ro")


async def test_a_reversed_referral_is_explained_to_the_advocate_and_the_friend_from_their_side(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    # rewards gives the reason of the friend's order (refunded in full) for both sides' rewards
    for customer, kind in (("anna", "referral_advocate"), ("ben", "referral_friend")):
        await publish_event(outreach.broker, registered(customer, locale="en"))
        revoked = RewardRevokedV1(
            customer_id=customer, reward_id=f"r-{customer}", kind=kind, points=500,
            reason="order_fully_refunded", referral_id="ref-1", occurred_at=NOW,
            balance=Balance(points_available=0, points_pending=0),
        )  # fmt: skip
        await publish_event(outreach.broker, revoked)
    await deliver(outreach)
    texts = {str(m["To"]): m.get_body(("plain",)).get_content() for m in smtp[0].messages}
    assert "your friend returned the order" in texts["anna@example.com"]
    assert "the order you placed with your friend's invitation was returned" in texts["ben@example.com"]


async def test_a_tier_change_is_told_as_rewards_says_which_way_it_went(outreach: Service) -> None:
    """Rewards' `upgrade` decides; an event from before the field is compared by the contracts'
    tier order (outreach keeps no copy of it)."""
    revenue = Money(amount=Decimal("90"), currency="EUR")
    for customer, previous, tier, upgrade in [("ana", "repeat_buyer", "member", None),
                                              ("bo", "member", "repeat_buyer", None),
                                              ("cy", "silver", "member", False)]:  # fmt: skip
        await publish_event(outreach.broker, registered(customer))
        change = TierChangedV1(customer_id=customer, previous_tier=previous, tier=tier, upgrade=upgrade,
                               trailing_revenue=revenue, occurred_at=NOW)  # fmt: skip
        await publish_event(outreach.broker, change)
    told = {m.customer_id: m.data["upgrade"] for m in await messages(outreach, "tier_changed")}
    assert told == {"ana": False, "bo": True, "cy": False}  # unknown "silver": rewards' word counts


async def test_a_message_before_the_registration_waits_for_the_contact(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    await publish_event(outreach.broker, granted())
    assert [m.status for m in await messages(outreach)] == ["waiting"]
    await publish_event(outreach.broker, registered())
    await deliver(outreach)
    assert [m["To"] for m in smtp[0].messages] == ["anna@example.com"]


async def test_marketing_needs_consent_and_says_why_not(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    await publish_event(outreach.broker, registered(consent=False))
    await publish_event(outreach.broker, code())
    await publish_event(outreach.broker, promoter())
    await publish_event(outreach.broker, granted())
    await deliver(outreach)
    assert [m["Subject"] for m in smtp[0].messages if "42" in m["Subject"]]  # transactional still goes
    [suppressed] = await emitted(outreach, MessageSuppressedV1)
    assert (suppressed.kind, suppressed.reason) == ("referral_ask", "no_marketing_consent")


async def test_a_referral_ask_carries_the_link_and_a_one_click_unsubscribe(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    await publish_event(outreach.broker, registered(locale="sv"))
    await publish_event(outreach.broker, code())
    await publish_event(outreach.broker, promoter())
    await deliver(outreach)
    [mail] = smtp[0].messages
    assert "https://r.example.com/r/ANA-7K3Q" in mail.get_body(("plain",)).get_content()
    header = mail["List-Unsubscribe"]
    assert header.startswith("<https://mail.example.com/unsubscribe/") and mail["List-Unsubscribe-Post"]
    path = header.strip("<>").removeprefix("https://mail.example.com")
    async with AsyncClient(transport=ASGITransport(app=outreach.http), base_url="http://test") as http:
        answer = await http.post(path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    await publish_event(outreach.broker, key_client())
    await deliver(outreach)
    assert len(smtp[0].messages) == 1
    assert [(e.kind, e.reason) for e in await emitted(outreach, MessageSuppressedV1)] == [
        ("key_client_welcome", "no_marketing_consent")
    ]


async def test_one_frequency_cap_across_marketing_kinds(
    make_outreach: OutreachFactory, smtp: tuple[MailInbox, int]
) -> None:
    async with make_outreach({"frequency_cap": {"messages": 1, "days": 7}}) as service:
        await publish_event(service.broker, registered())
        await publish_event(service.broker, code())
        await publish_event(service.broker, key_client())
        await deliver(service)
        await publish_event(service.broker, promoter())
        await deliver(service)
        assert len(smtp[0].messages) == 1
        assert [(e.kind, e.reason) for e in await emitted(service, MessageSuppressedV1)] == [
            ("referral_ask", "frequency_cap")
        ]


async def test_quiet_hours_defer_marketing_to_the_window(
    make_outreach: OutreachFactory, smtp: tuple[MailInbox, int]
) -> None:
    hour = datetime.now(UTC).hour
    quiet = {
        "start": f"{(hour - 1) % 24:02d}:00",
        "end": f"{(hour + 2) % 24:02d}:00",
        "default_timezone": "UTC",
    }
    async with make_outreach({"quiet_hours": quiet}) as service:
        await publish_event(service.broker, registered())
        await publish_event(service.broker, key_client())
        await deliver(service)
        assert smtp[0].messages == [] and await emitted(service, MessageSuppressedV1) == []
        [waiting] = await messages(service, "key_client_welcome")
        assert waiting.status == "queued"
        assert waiting.next_attempt_at.hour == (hour + 2) % 24 and waiting.next_attempt_at > utcnow()


async def test_a_case_brings_an_apology_holds_referral_asks_and_a_follow_up_names_the_compensation(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    await publish_event(outreach.broker, registered(locale="ru"))
    await publish_event(outreach.broker, code())
    opened = CaseOpenedV1(
        customer_id="anna", case_id="c-1", response_id="resp-0", priority="P1", queue="key-clients",
        sla_due_at=NOW + timedelta(hours=4), kind="nps", score=3, key_client=True, occurred_at=NOW,
    )  # fmt: skip
    await publish_event(outreach.broker, opened)
    await publish_event(outreach.broker, promoter())
    await deliver(outreach)
    assert [(e.kind, e.reason) for e in await emitted(outreach, MessageSuppressedV1)] == [
        ("referral_ask", "open_case")
    ]
    resolved = CaseResolvedV1(
        customer_id="anna", case_id="c-1", resolution="refunded",
        compensation=Money(amount=Decimal("15"), currency="EUR"), occurred_at=NOW,
    )  # fmt: skip
    await publish_event(outreach.broker, resolved)
    await deliver(outreach)
    kinds = [e.kind for e in await emitted(outreach, MessageSentV1)]
    assert kinds == ["apology", "case_follow_up"]
    # the amount as Russian writes it (the CLDR's, not "15.00 EUR"): this customer reads Russian
    assert "15,00\xa0€" in smtp[0].messages[-1].get_body(("plain",)).get_content()


async def test_an_agents_reply_is_mailed_once_signed_with_their_name_in_the_cases_thread(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    """A personal reply: the agent's words, their name, in the customer's language, one mail per
    reply however often it is published, and one conversation with the apology and follow-up."""
    await publish_event(outreach.broker, registered(locale="sv"))
    opened = CaseOpenedV1(
        customer_id="anna", case_id="c-9", response_id="resp-0", priority="P2", queue="support",
        sla_due_at=NOW + timedelta(hours=4), kind="nps", score=3, occurred_at=NOW,
    )  # fmt: skip
    await publish_event(outreach.broker, opened)
    await deliver(outreach)
    replied = CaseRepliedV1(
        customer_id="anna", case_id="c-9", reply_id="rp-1", agent_name="Olga Berg",
        message="Förlåt för den trasiga muggen.\nEn ny skickades i dag.", occurred_at=NOW,
    )  # fmt: skip
    await publish_event(outreach.broker, replied)
    await publish_event(outreach.broker, replied.model_copy())  # the same reply again: one mail
    await deliver(outreach)
    resolved = CaseResolvedV1(customer_id="anna", case_id="c-9", resolution="replaced", occurred_at=NOW)
    await publish_event(outreach.broker, resolved)
    await deliver(outreach)
    apology, answer, follow_up = smtp[0].messages
    assert [m["X-Wom-Kind"] for m in (apology, answer, follow_up)] == [
        "apology", "personal_reply", "case_follow_up"
    ]  # fmt: skip
    text = answer.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Förlåt för den trasiga muggen.\nEn ny skickades i dag." in text and "Olga Berg" in text
    assert "Olga Berg" in answer["Subject"] and "c-9" in answer["Subject"]
    assert answer["Content-Language"] == "sv"
    root = apology["Message-ID"]
    assert root.startswith("<thread.") and "c-9" not in root  # the case's own id, not spelled out
    for later in (answer, follow_up):
        assert later["In-Reply-To"] == root and later["References"] == root
        assert later["Message-ID"] != root
    html = answer.get_body(("html",)).get_content()
    assert "Förlåt för den trasiga muggen." in html


async def test_a_reply_to_an_erased_customer_sends_nothing(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, CustomerErasedV1(customer_id="anna", requested_at=NOW))
    replied = CaseRepliedV1(
        customer_id="anna", case_id="c-9", reply_id="rp-1", agent_name="Olga", message="Sorry!",
        occurred_at=NOW,
    )  # fmt: skip
    await publish_event(outreach.broker, replied)
    await deliver(outreach)
    assert smtp[0].messages == [] and await messages(outreach) == []


async def test_the_check_in_is_scheduled_survives_a_restart_and_is_sent_once(
    make_outreach: OutreachFactory, smtp: tuple[MailInbox, int]
) -> None:
    order = OrderCompletedV1(
        customer_id="anna", order_id="o-9", total=Money(amount=Decimal("30"), currency="EUR"),
        completed_at=utcnow() - timedelta(days=7, seconds=-2),
    )  # fmt: skip
    async with make_outreach() as service:
        await publish_event(service.broker, registered(locale="en"))
        await publish_event(service.broker, order)
        assert await deliver(service) == 0  # due in two seconds
        [check_in] = await messages(service, "check_in")
        assert check_in.data["survey_url"].endswith("customer=anna&order=o-9")
    async with make_outreach(fresh=False) as service:  # the service restarts on the same database
        [check_in] = await messages(service, "check_in")
        while utcnow() < check_in.next_attempt_at:
            await deliver(service)
        await deliver(service)
        await deliver(service)
        assert [m["Subject"] for m in smtp[0].messages].__len__() == 1
        assert (await messages(service, "check_in"))[0].status == "sent"
        # a second order within 30 days: no second survey
        second = order.model_copy(update={"order_id": "o-10"})
        await publish_event(service.broker, second)
        async with service.db.transaction() as session:
            row = (
                await session.scalars(select(Message).where(Message.cause_event_id == "check_in:o-10"))
            ).one()
            row.next_attempt_at = utcnow()
        await deliver(service)
        assert [(e.kind, e.reason) for e in await emitted(service, MessageSuppressedV1)] == [
            ("check_in", "survey_recently")
        ]


async def test_birthdays_are_planned_once_a_year(outreach: Service) -> None:
    today = datetime.now(UTC).date()
    await publish_event(
        outreach.broker,
        registered(
            birthday=date(1990, today.month, min(today.day, 28)) if today.day <= 28 else None, timezone="UTC"
        ),
    )
    settings = outreach.settings
    assert isinstance(settings, OutreachSettings)
    rules = load_rules(settings.outreach_rules_file)
    first = await plan_yearly(outreach, rules=rules, settings=settings)
    again = await plan_yearly(outreach, rules=rules, settings=settings)
    assert again == 0 and first >= (1 if today.day <= 28 else 0)
    assert len(await messages(outreach, "birthday")) == (1 if today.day <= 28 else 0)


async def test_erasure_deletes_contact_history_and_schedule(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, granted())
    await deliver(outreach)
    await publish_event(outreach.broker, granted(reward_id="r-2", points=7))
    await publish_event(outreach.broker, CustomerErasedV1(customer_id="anna", requested_at=NOW))
    await publish_event(outreach.broker, granted(reward_id="r-3", points=9))  # too late: ignored
    await deliver(outreach)
    assert len(smtp[0].messages) == 1
    assert await messages(outreach) == []
    async with outreach.db.session() as session:
        assert await session.get(Contact, "anna") is None


async def test_history_and_preview_need_the_token(outreach: Service) -> None:
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, granted())
    async with AsyncClient(transport=ASGITransport(app=outreach.http), base_url="http://test") as http:
        assert (await http.get("/customers/anna/messages")).status_code == 401
        history = (await http.get("/customers/anna/messages", headers=AUTH)).json()
        preview = await http.get("/preview/referral_ask?locale=ro-MD", headers=AUTH)
        unknown = await http.get("/preview/nope", headers=AUTH)
    assert history["contact"]["stage"] == "prospect" and history["contact"]["locale"] == "ro-MD"
    assert [m["kind"] for m in history["messages"]] == ["welcome", "purchase_thank_you"]
    assert (
        preview.status_code == 200
        and preview.json()["locale"] == "ro"
        and preview.json()["message_class"] == "marketing"
    )
    assert unknown.status_code == 404


async def test_one_message_per_kind_and_cause(outreach: Service) -> None:
    order = OrderCompletedV1(
        customer_id="anna",
        order_id="o-5",
        total=Money(amount=Decimal("30"), currency="EUR"),
        completed_at=NOW,
    )
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, order)
    await publish_event(outreach.broker, order)  # the shop published the order twice (two event ids)
    assert len(await messages(outreach, "check_in")) == 1


async def test_an_unreachable_smtp_server_is_retried_then_reported(make_outreach: OutreachFactory) -> None:
    from outreach.models import Message as Row
    from wom_contracts import MessageFailedV1

    async with make_outreach(smtp_port=1) as service:  # nothing listens on port 1
        await publish_event(service.broker, registered())
        await publish_event(service.broker, granted())
        for _ in range(20):
            await deliver(service)
            [row] = await messages(service, "purchase_thank_you")
            if row.status == "failed":
                break
            async with service.db.transaction() as session:  # skip the backoff wait
                (await session.get(Row, row.id)).next_attempt_at = utcnow()  # type: ignore[union-attr]
        [failed] = await emitted(service, MessageFailedV1)
        assert (failed.kind, failed.attempts) == ("purchase_thank_you", 2) and "Error" in failed.error


async def test_a_replay_of_old_events_sends_nothing_stale(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    old_order = OrderCompletedV1(
        customer_id="anna", order_id="o-old", total=Money(amount=Decimal("30"), currency="EUR"),
        completed_at=NOW - timedelta(days=30),
    )  # fmt: skip
    await publish_event(outreach.broker, registered())
    await publish_event(outreach.broker, old_order)  # its check-in was due 23 days ago
    await deliver(outreach)
    assert smtp[0].messages == []
    assert [(e.kind, e.reason) for e in await emitted(outreach, MessageSuppressedV1)] == [
        ("check_in", "stale")
    ]


async def test_an_order_before_the_registration_is_counted(outreach: Service) -> None:
    order = OrderCompletedV1(
        customer_id="anna",
        order_id="o-1",
        total=Money(amount=Decimal("30"), currency="EUR"),
        completed_at=NOW,
    )
    await publish_event(outreach.broker, order)  # the orders topic overtook the registrations topic
    await publish_event(outreach.broker, registered())
    async with outreach.db.session() as session:
        contact = await session.get(Contact, "anna")
    assert contact is not None and contact.order_count == 1 and contact.stage == "customer"
    assert [m.status for m in await messages(outreach, "check_in")] == ["queued"]


async def test_a_mail_sent_later_continues_the_trace_of_the_event_that_queued_it(
    outreach: Service, smtp: tuple[MailInbox, int]
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    await publish_event(outreach.broker, registered())
    traceparent = f"00-{trace_id}-00f067aa0ba902b7-01"
    await publish_event(outreach.broker, granted(), headers={"traceparent": traceparent})
    [message] = await messages(outreach, "purchase_thank_you")
    assert message.traceparent is not None and trace_id in message.traceparent
    assert await deliver(outreach) == 1
    [mail] = smtp[0].messages
    assert str(mail["traceparent"]).split("-")[1] == trace_id
    async with outreach.db.session() as session:  # the outcome event goes out in the same trace
        sent = select(OutboxRecord).where(OutboxRecord.event_type == MessageSentV1.event_type)
        [row] = (await session.scalars(sent)).all()
    assert row.traceparent is not None and row.traceparent.split("-")[1] == trace_id


async def test_one_batch_reads_and_writes_as_its_events_one_by_one(outreach: Service) -> None:
    """One transaction: a message waits for a registration later in the batch, a second sign-up
    is welcomed once, a balance change after the sign-up keeps its fields, and nothing is kept
    of a customer erased in the middle of the batch."""
    events = [
        granted("anna", points=5, reward_id="r-a"),
        registered("anna"),
        registered("ben"),
        granted("ben", points=7, reward_id="r-b"),
        registered("ben"),
        code("ben"),
        registered("cara"),
        CustomerErasedV1(customer_id="cara", requested_at=NOW),
        granted("cara", points=9, reward_id="r-c"),
    ]
    await outreach.processor.process([record_of(event, offset=n) for n, event in enumerate(events)])
    queued = {(m.customer_id, m.kind, m.status) for m in await messages(outreach)}
    assert queued == {
        ("anna", "purchase_thank_you", "queued"),
        ("anna", "welcome", "queued"),
        ("ben", "welcome", "queued"),
        ("ben", "purchase_thank_you", "queued"),
    }
    assert len(await messages(outreach)) == 4
    async with outreach.db.session() as session:
        ben = await session.get(Contact, "ben")
        assert await session.get(Contact, "cara") is None
    assert ben is not None and ben.email == "ben@example.com" and ben.points_pending == 7
    assert ben.referral_code == "ANA-7K3Q" and ben.marketing_consent


async def test_yearly_planning_reads_the_near_dates_only_and_misses_none(outreach: Service) -> None:
    """A birthday and a registration on every day of a leap year, in the zones furthest from UTC:
    the job plans exactly what checking every contact in its own zone would, from a few days'
    worth of contacts."""
    now = utcnow()
    zones = ("Pacific/Kiritimati", "Etc/GMT+12", "UTC", "Europe/Chisinau")
    async with outreach.db.transaction() as session:
        for n in range(366):
            day = date(2000, 1, 1) + timedelta(days=n)
            for zone in zones:
                session.add(
                    Contact(
                        customer_id=f"y-{n}-{zone}", email=f"y{n}@example.com", timezone=zone,
                        birthday=day, marketing_consent=True, updated_at=now,
                        registered_at=datetime(2020, day.month, day.day, 23, 30, tzinfo=UTC),
                    )
                )  # fmt: skip
        for zone in zones:  # registered today: no anniversary this year, wherever they live
            session.add(Contact(customer_id=f"y-new-{zone}", email="new@example.com", timezone=zone,
                                registered_at=now, updated_at=now))  # fmt: skip
    expected: set[tuple[str, str]] = set()
    async with outreach.db.session() as session:
        for contact in await session.scalars(select(Contact).where(Contact.customer_id.like("y-%"))):
            local = now.astimezone(ZoneInfo(str(contact.timezone))).date()
            for day in (local, local + timedelta(days=1)):
                assert contact.registered_at is not None
                if contact.birthday and occurs_on(contact.birthday, day):
                    expected.add((contact.customer_id, "birthday"))
                registered = contact.registered_at.astimezone(ZoneInfo(str(contact.timezone))).date()
                if day.year > registered.year and occurs_on(registered, day):
                    expected.add((contact.customer_id, "anniversary"))
    settings = outreach.settings
    assert isinstance(settings, OutreachSettings)
    await plan_yearly(outreach, rules=load_rules(settings.outreach_rules_file), settings=settings)
    async with outreach.db.session() as session:
        planned = {
            (customer, kind)
            for customer, kind in await session.execute(
                select(Message.customer_id, Message.kind).where(Message.customer_id.like("y-%"))
            )
        }
    assert planned == expected and len(expected) >= 2 * len(zones)
    again = await plan_yearly(outreach, rules=load_rules(settings.outreach_rules_file), settings=settings)
    assert again == 0  # planned once: the second run finds every cause queued
    assert len(yearly_candidates(now)) <= 9  # of 366 days: a few days' contacts are read


def test_the_candidates_keep_29_february_with_28_february() -> None:
    assert (2, 29) in yearly_candidates(datetime(2027, 2, 27, tzinfo=UTC))
    assert (2, 29) not in yearly_candidates(datetime(2027, 6, 1, tzinfo=UTC))
    assert yearly_candidates(datetime(2026, 12, 31, tzinfo=UTC))[:4] == [(1, 1), (1, 2), (1, 3), (1, 4)]

"""Date-driven messages: birthday notes and registration anniversaries, planned a day ahead in
the customer's time zone and queued once per year (the schedule is the messages table)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, extract, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from wom_chassis import Service, utcnow
from wom_chassis.time_zones import time_zone

from outreach.channels import channels_for
from outreach.messaging import queue_message
from outreach.models import Contact, Message
from outreach.rules import Rules
from outreach.settings import OutreachSettings

__all__ = ["YEARLY_KINDS", "occurs_on", "plan_yearly", "yearly_candidates"]

YEARLY_KINDS = ("birthday", "anniversary")
_CHUNK = 500  # causes per look-up: well under SQLite's and asyncpg's limits on bound values


def occurs_on(anniversary: date, day: date) -> bool:
    """True when a yearly date falls on `day` (29 February is kept on 28 February in other years)."""
    if (anniversary.month, anniversary.day) == (day.month, day.day):
        return True
    return (
        (anniversary.month, anniversary.day) == (2, 29)
        and not calendar.isleap(day.year)
        and (day.month, day.day) == (2, 28)
    )


Planned = tuple[str, dict[str, int], datetime, str]
"""A yearly message to queue: its kind, data, when it is due and its cause (once per year)."""


def _yearly_messages(contact: Contact, now: datetime, rules: Rules) -> list[Planned]:
    """The contact's birthday note and anniversary falling today or tomorrow in its zone."""
    zone = time_zone(contact.timezone, rules.quiet_hours.default_timezone)
    today = now.astimezone(zone).date()
    registered = contact.registered_at.astimezone(zone).date() if contact.registered_at else None
    messages: list[Planned] = []
    for day in (today, today + timedelta(days=1)):
        due = datetime.combine(day, time(rules.birthday_hour), tzinfo=zone)
        if contact.birthday and occurs_on(contact.birthday, day):
            messages.append(("birthday", {}, due, f"birthday:{contact.customer_id}:{day.year}"))
        if registered and day.year > registered.year and occurs_on(registered, day):
            years = {"years": day.year - registered.year}
            messages.append(("anniversary", years, due, f"anniversary:{contact.customer_id}:{day.year}"))
    return messages


async def _planned_before(session: AsyncSession, causes: list[str]) -> set[str]:
    """The causes among `causes` an earlier run queued already (by the once-per-cause index)."""
    found: set[str] = set()
    for start in range(0, len(causes), _CHUNK):
        found.update(
            await session.scalars(
                select(Message.cause_event_id).where(
                    Message.kind.in_(YEARLY_KINDS), Message.cause_event_id.in_(causes[start : start + _CHUNK])
                )
            )
        )
    return found


def yearly_candidates(now: datetime) -> list[tuple[int, int]]:
    """The (month, day) pairs, as stored, of the birthdays and registrations that may fall today
    or tomorrow in some customer's time zone: a few days either side of today in UTC (a zone is
    at most 14 hours off, and PostgreSQL reads a timestamp's day in its session's zone), and 29
    February wherever 28 February is (it is kept then in other years). The exact day is decided
    per contact, in its zone, by `occurs_on`."""
    today = now.astimezone(UTC).date()
    pairs = {((today + timedelta(days=n)).month, (today + timedelta(days=n)).day) for n in range(-3, 5)}
    if (2, 28) in pairs:
        pairs.add((2, 29))
    return sorted(pairs)


def _on_one_of(column: Any, pairs: list[tuple[int, int]]) -> Any:
    month, day = extract("month", column), extract("day", column)
    return or_(*(and_(month == m, day == d) for m, d in pairs))


async def plan_yearly(service: Service, *, rules: Rules, settings: OutreachSettings) -> int:
    """Queue today's and tomorrow's birthday notes and anniversaries; how many were queued. Only
    the contacts whose date is near are read: a run costs what it plans, not the contact count."""
    now = utcnow()
    planned = 0
    near = yearly_candidates(now)
    # an anniversary needs a registration in an earlier year than today's or tomorrow's anywhere
    earlier_years = datetime((now + timedelta(days=2)).year, 1, 1, tzinfo=UTC) + timedelta(hours=14)
    async with service.work() as uow:
        contacts = await uow.session.scalars(
            select(Contact).where(
                Contact.email.is_not(None),
                or_(
                    _on_one_of(Contact.birthday, near),
                    and_(Contact.registered_at < earlier_years, _on_one_of(Contact.registered_at, near)),
                ),
            )
        )
        wanted = [
            (contact, *message)
            for contact in contacts.all()
            for message in _yearly_messages(contact, now, rules)
        ]
        done = await _planned_before(uow.session, [cause for *_, cause in wanted])
        for contact, kind, data, due, cause in wanted:
            if cause not in done:  # queue_message checks again, in the same transaction
                channels = channels_for(kind, settings)
                queued = await queue_message(
                    uow, contact.customer_id, kind, data, channels=channels, due_at=due, cause=cause
                )
                planned += len(queued)
    return planned

"""Date-driven messages: birthday notes and registration anniversaries, planned a day ahead in
the customer's time zone and queued once per year (the schedule is the messages table)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select
from wom_chassis import Service, UnitOfWork, utcnow

from outreach.channels import channels_for
from outreach.messaging import queue_message
from outreach.models import Contact
from outreach.rules import Rules
from outreach.settings import OutreachSettings

__all__ = ["occurs_on", "plan_yearly"]


def occurs_on(anniversary: date, day: date) -> bool:
    """True when a yearly date falls on `day` (29 February is kept on 28 February in other years)."""
    if (anniversary.month, anniversary.day) == (day.month, day.day):
        return True
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    return (anniversary.month, anniversary.day) == (2, 29) and not leap and (day.month, day.day) == (2, 28)


def _zone(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


async def _plan_contact(
    uow: UnitOfWork[None], contact: Contact, now: datetime, rules: Rules, settings: OutreachSettings
) -> int:
    zone = _zone(contact.timezone, rules.quiet_hours.default_timezone)
    today = now.astimezone(zone).date()
    planned = 0
    for day in (today, today + timedelta(days=1)):
        due = datetime.combine(day, time(rules.birthday_hour), tzinfo=zone)
        if contact.birthday and occurs_on(contact.birthday, day):
            planned += len(
                await queue_message(
                    uow, contact.customer_id, "birthday", {}, channels=channels_for("birthday", settings),
                    due_at=due, cause=f"birthday:{contact.customer_id}:{day.year}",
                )
            )  # fmt: skip
        registered = contact.registered_at.astimezone(zone).date() if contact.registered_at else None
        if registered and day.year > registered.year and occurs_on(registered, day):
            planned += len(
                await queue_message(
                    uow, contact.customer_id, "anniversary", {"years": day.year - registered.year},
                    channels=channels_for("anniversary", settings),
                    due_at=due, cause=f"anniversary:{contact.customer_id}:{day.year}",
                )
            )  # fmt: skip
    return planned


async def plan_yearly(service: Service, *, rules: Rules, settings: OutreachSettings) -> int:
    """Queue today's and tomorrow's birthday notes and anniversaries; how many were queued."""
    now = utcnow()
    planned = 0
    async with service.work() as uow:
        contacts = await uow.session.scalars(
            select(Contact).where(
                Contact.email.is_not(None),
                or_(Contact.birthday.is_not(None), Contact.registered_at.is_not(None)),
            )
        )
        for contact in contacts.all():
            planned += await _plan_contact(uow, contact, now, rules, settings)
    return planned

"""Handlers of the outreach service: keep the contact projection, queue the loop's messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Update, delete, update
from wom_chassis import EventHandlers, UnitOfWork, get_logger, utcnow
from wom_chassis.l10n import money_value
from wom_chassis.privacy import remember_erased
from wom_contracts import (
    EARN,
    KEY_CLIENT,
    MEMBER,
    POINTS_EXPIRED,
    REFERRAL_ADVOCATE,
    REFERRAL_FRIEND,
    Balance,
    CaseOpenedV1,
    CaseRepliedV1,
    CaseResolvedV1,
    CodeIssuedV1,
    CustomerErasedV1,
    CustomerRegisteredV1,
    Money,
    OrderCompletedV1,
    PointsExpiringV1,
    PromoterIdentifiedV1,
    RewardGrantedV1,
    RewardReleasedV1,
    RewardRevokedV1,
    TierChangedV1,
    is_upgrade,
)

from outreach.batch_view import BatchView, load_batch_view
from outreach.channels import channels_for
from outreach.messaging import queue_buffered
from outreach.models import Contact, ErasedCustomer, Message
from outreach.rules import Rules
from outreach.settings import OutreachSettings

__all__ = ["Loop", "build_handlers", "money_data", "release_waiting"]

log = get_logger(__name__)
REWARD_MESSAGES = {EARN: "purchase_thank_you", REFERRAL_ADVOCATE: "referral_success",
                   REFERRAL_FRIEND: "referral_welcome_reward"}  # fmt: skip


def money_data(money: Money | None) -> dict[str, str] | None:
    """An amount as a message keeps it, worded in the customer's locale when rendered
    (`{{ credit|money }}`: "15,00 €", "€15.00", "¥1,500")."""
    return None if money is None else money_value(money.amount, money.currency)


def release_waiting(customer_id: str) -> Update:
    """The customer's messages that waited for their contact, queued (on the customer's index:
    `status = 'waiting'` alone matches every waiting message of every customer)."""
    return (
        update(Message)
        .where(Message.customer_id == customer_id, Message.status == "waiting")
        .values(status="queued")
    )


class Loop:
    """The handlers, bound to the rules and settings they need."""

    def __init__(self, rules: Rules, settings: OutreachSettings) -> None:
        self.rules = rules
        self.settings = settings

    def _contact(self, uow: UnitOfWork[BatchView], customer_id: str) -> Contact | None:
        """The customer's contact, created empty when unknown; None for an erased customer.
        Every handler reads contacts from the batch's view, and `_save`s what it changes."""
        customers = uow.view
        if customer_id in customers.erased:
            log.info("event_for_erased_customer_ignored")
            return None
        contact = customers.contacts[customer_id]
        if contact is None:
            contact = Contact(
                customer_id=customer_id,
                locale=self.settings.default_locale,
                marketing_consent=False,
                order_count=0,
                tier=MEMBER,
                points_available=0,
                points_pending=0,
                updated_at=utcnow(),
            )
            customers.contacts[customer_id] = contact
        return contact

    def _save(self, uow: UnitOfWork[BatchView], contact: Contact) -> None:
        uow.view.save(uow, contact)

    def queue(
        self, uow: UnitOfWork[BatchView], customer_id: str, kind: str, data: dict[str, Any], **extra: Any
    ) -> None:
        """Queue `kind` on its channels."""
        channels = channels_for(kind, self.settings)
        queue_buffered(uow, customer_id, kind, data, channels=channels, **extra)

    def _balances(self, contact: Contact, balance: Balance) -> None:
        contact.points_available, contact.points_pending = balance.points_available, balance.points_pending
        contact.updated_at = utcnow()

    async def on_customer_registered(self, event: CustomerRegisteredV1, uow: UnitOfWork[BatchView]) -> None:
        """Learn the contact, release messages that waited for it, welcome them."""
        contact = self._contact(uow, event.customer_id)
        if contact is None:
            return
        contact.email, contact.first_name, contact.last_name = (
            str(event.email),
            event.first_name,
            event.last_name,
        )
        contact.locale, contact.timezone, contact.birthday = event.locale, event.timezone, event.birthday
        contact.registered_at = event.registered_at
        # an unsubscribe stands until the customer opts in again after it
        unsubscribed = contact.unsubscribed_at is not None and contact.unsubscribed_at >= event.registered_at
        contact.marketing_consent = event.marketing_consent and not unsubscribed
        contact.updated_at = utcnow()
        # messages wait only for a contact that has a row: a new one has none to release
        had_row = event.customer_id in uow.view.written
        self._save(uow, contact)
        if had_row:
            await uow.flush()  # messages this batch queued for the customer wait in the table too
            await uow.session.execute(release_waiting(event.customer_id))
        due = event.registered_at + timedelta(minutes=self.rules.welcome_delay_minutes)
        self.queue(uow, event.customer_id, "welcome", {}, due_at=due, cause=f"welcome:{event.customer_id}")

    async def on_code_issued(self, event: CodeIssuedV1, uow: UnitOfWork[BatchView]) -> None:
        """Remember the customer's referral code and share link."""
        contact = self._contact(uow, event.customer_id)
        if contact is not None:
            contact.referral_code, contact.share_url = event.code, str(event.share_url)
            contact.updated_at = utcnow()
            self._save(uow, contact)

    async def on_order_completed(self, event: OrderCompletedV1, uow: UnitOfWork[BatchView]) -> None:
        """Count the order; check in with a survey invitation some days later."""
        contact = self._contact(uow, event.customer_id)
        if contact is None:
            return
        contact.order_count += 1
        contact.last_order_at = max(filter(None, (contact.last_order_at, event.completed_at)))
        contact.updated_at = utcnow()
        self._save(uow, contact)
        survey_url = self.rules.survey_url.format(customer_id=event.customer_id, order_id=event.order_id)
        data = {"order_id": event.order_id, "order_date": event.completed_at.date().isoformat(),
                "survey_url": survey_url}  # fmt: skip
        due = event.completed_at + timedelta(days=self.rules.check_in_days)
        self.queue(uow, event.customer_id, "check_in", data, due_at=due, cause=f"check_in:{event.order_id}")

    async def on_reward_granted(self, event: RewardGrantedV1, uow: UnitOfWork[BatchView]) -> None:
        """Thank for a purchase, tell an advocate of their friend's purchase, welcome a friend."""
        contact = self._contact(uow, event.customer_id)
        if contact is None:
            return
        self._balances(contact, event.balance)
        self._save(uow, contact)
        kind = REWARD_MESSAGES.get(event.kind)
        if kind is None:
            return  # compensation and birthday gifts are told by the case follow-up and the birthday note
        hold_until = event.hold_until.date().isoformat() if event.hold_until else None
        data: dict[str, Any] = {"hold_until": hold_until}
        if kind == "purchase_thank_you":
            data |= {"order_id": event.order_id, "points": event.points or 0}
        else:  # named in the customer's language when the message is rendered
            data |= {
                "points": event.points,
                "credit": money_data(event.credit),
                "coupon_code": event.coupon_code,
            }
        self.queue(uow, event.customer_id, kind, data)

    async def on_reward_released(self, event: RewardReleasedV1, uow: UnitOfWork[BatchView]) -> None:
        """Tell the customer a reward can be used now."""
        contact = self._contact(uow, event.customer_id)
        if contact is None:
            return
        self._balances(contact, event.balance)
        self._save(uow, contact)
        data = {"reward_kind": event.kind, "points": event.points, "credit": money_data(event.credit)}
        self.queue(uow, event.customer_id, "reward_released", data)

    async def on_reward_revoked(self, event: RewardRevokedV1, uow: UnitOfWork[BatchView]) -> None:
        """Explain a clawback or a reversal with its reason."""
        contact = self._contact(uow, event.customer_id)
        if contact is None:
            return
        self._balances(contact, event.balance)
        self._save(uow, contact)
        reason = _revocation_reason(event)
        data = {"points": event.points, "credit": money_data(event.credit), "reason": reason}
        self.queue(uow, event.customer_id, "reward_revoked", data)

    async def on_points_expiring(self, event: PointsExpiringV1, uow: UnitOfWork[BatchView]) -> None:
        """Warn before points expire."""
        contact = self._contact(uow, event.customer_id)
        if contact is None:
            return
        self._balances(contact, event.balance)
        self._save(uow, contact)
        data = {"points": event.points, "expires_at": event.expires_at.date().isoformat()}
        self.queue(uow, event.customer_id, "points_expiring", data)

    async def on_tier_changed(self, event: TierChangedV1, uow: UnitOfWork[BatchView]) -> None:
        """Welcome a new key client with their offer; tell other tier changes plainly."""
        contact = self._contact(uow, event.customer_id)
        if contact is None:
            return
        contact.tier, contact.updated_at = event.tier, utcnow()
        self._save(uow, contact)
        if event.tier == KEY_CLIENT:
            self.queue(uow, event.customer_id, "key_client_welcome", {"offer": None})
            return
        previous = event.previous_tier or MEMBER
        # rewards says which way it went; an event from before it did is compared by the contracts
        upgrade = event.upgrade if event.upgrade is not None else is_upgrade(previous, event.tier)
        data = {"previous_tier": previous, "new_tier": event.tier, "upgrade": upgrade}
        self.queue(uow, event.customer_id, "tier_changed", data)

    async def on_promoter_identified(self, event: PromoterIdentifiedV1, uow: UnitOfWork[BatchView]) -> None:
        """A delighted customer: a friendly invitation to share their own link."""
        contact = self._contact(uow, event.customer_id)
        if contact is not None:
            self._save(uow, contact)  # a contact unknown until now is created empty
            self.queue(uow, event.customer_id, "referral_ask", {})

    async def on_case_opened(self, event: CaseOpenedV1, uow: UnitOfWork[BatchView]) -> None:
        """Apologise, and hold referral asks while the case is open."""
        contact = self._contact(uow, event.customer_id)
        if contact is None:
            return
        contact.open_case_id, contact.updated_at = event.case_id, utcnow()
        self._save(uow, contact)
        self.queue(
            uow, event.customer_id, "apology", {"case_id": event.case_id, "key_client": event.key_client}
        )

    async def on_case_resolved(self, event: CaseResolvedV1, uow: UnitOfWork[BatchView]) -> None:
        """Follow up on the resolved case, naming any compensation."""
        contact = self._contact(uow, event.customer_id)
        if contact is None:
            return
        if contact.open_case_id == event.case_id:
            contact.open_case_id = None
        contact.updated_at = utcnow()
        self._save(uow, contact)
        data = {"case_id": event.case_id, "resolution": event.resolution,
                "compensation": money_data(event.compensation)}  # fmt: skip
        self.queue(uow, event.customer_id, "case_follow_up", data)

    async def on_case_replied(self, event: CaseRepliedV1, uow: UnitOfWork[BatchView]) -> None:
        """Send the agent's reply, once per reply (a reply published twice is one mail)."""
        if self._contact(uow, event.customer_id) is None:
            return
        data = {"case_id": event.case_id, "message": event.message, "agent_name": event.agent_name}
        self.queue(uow, event.customer_id, "personal_reply", data, cause=f"reply:{event.reply_id}")

    async def on_customer_erased(self, event: CustomerErasedV1, uow: UnitOfWork[BatchView]) -> None:
        """Delete the contact, their history and their schedule; nothing is sent afterwards."""
        session = uow.session
        await session.execute(delete(Message).where(Message.customer_id == event.customer_id))
        await session.execute(delete(Contact).where(Contact.customer_id == event.customer_id))
        await remember_erased(session, ErasedCustomer, event.customer_id)
        uow.view.forget(event.customer_id)
        log.info("customer_erased")


def build_handlers(rules: Rules, settings: OutreachSettings) -> EventHandlers[BatchView]:
    """The outreach handlers, bound to their rules."""
    loop = Loop(rules, settings)
    # every handler reads and writes contacts through one view per batch: one query for the
    # batch's customers, and their writes are buffered
    handlers: EventHandlers[BatchView] = EventHandlers(load_view=load_batch_view)
    handlers.on(CustomerRegisteredV1)(loop.on_customer_registered)
    handlers.on(CodeIssuedV1)(loop.on_code_issued)
    handlers.on(OrderCompletedV1)(loop.on_order_completed)
    handlers.on(RewardGrantedV1)(loop.on_reward_granted)
    handlers.on(RewardReleasedV1)(loop.on_reward_released)
    handlers.on(RewardRevokedV1)(loop.on_reward_revoked)
    handlers.on(PointsExpiringV1)(loop.on_points_expiring)
    handlers.on(TierChangedV1)(loop.on_tier_changed)
    handlers.on(PromoterIdentifiedV1)(loop.on_promoter_identified)
    handlers.on(CaseOpenedV1)(loop.on_case_opened)
    handlers.on(CaseResolvedV1)(loop.on_case_resolved)
    handlers.on(CaseRepliedV1)(loop.on_case_replied)
    # the erasure deletes from the tables: what the batch buffered for the customer is written
    # first, so that it is deleted too
    handlers.on(CustomerErasedV1, reads_database=True)(loop.on_customer_erased)
    return handlers


def _revocation_reason(event: RewardRevokedV1) -> str:
    """The reason a customer reads: a referral reward taken back because the friend's order was
    refunded is explained from each side (the event's reason is the order's: fully refunded, or
    below the minimum), not as if the customer's own order had been refunded."""
    if event.kind == REFERRAL_ADVOCATE and event.reason != POINTS_EXPIRED:
        return "referral_reversed"
    if event.kind == REFERRAL_FRIEND and event.reason != POINTS_EXPIRED:
        return "welcome_reward_reversed"
    return event.reason

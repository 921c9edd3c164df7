"""`make demo`: a seeded storefront that produces realistic upstream traffic for the four services.

Every step is decided by one `random.Random(seed)`, so the same seed gives the same traffic. Codes of
advocates are learnt from `referrals.code.issued.v1` (`Storefront.learn_code`), as a shop would.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from wom_contracts import (
    CustomerErasedV1,
    CustomerRegisteredV1,
    Event,
    Money,
    OrderCompletedV1,
    OrderItem,
    OrderRefundedV1,
    ResponseSubmittedV1,
    encode,
)

__all__ = ["KINDS", "LOCALES", "RawRecord", "Step", "Storefront", "to_record"]

LOCALES = ("en", "ru", "ro", "sv")
SOURCE = "womctl/storefront"

# What the storefront does in one step, with its weight.
_WEIGHTS: dict[str, float] = {
    "registration": 20, "referred_registration": 9, "first_order": 22, "repeat_order": 12,
    "partial_refund": 4, "full_refund": 3, "friend_returns": 2, "survey": 18, "fraud_referral": 3,
    "malformed_json": 1.5, "score_out_of_range": 1.5, "erasure": 1,
}  # fmt: skip
KINDS = tuple(_WEIGHTS)

_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("Emma", "Oliver", "Amelia", "Jack", "Grace", "Harry", "Chloe", "George"),
           ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Walker", "Wright")),
    "ru": (("Анна", "Дмитрий", "Мария", "Иван", "Екатерина", "Алексей", "Ольга", "Сергей"),
           ("Иванова", "Смирнов", "Кузнецова", "Попов", "Соколова", "Лебедев", "Козлова", "Новиков")),
    "ro": (("Ioana", "Andrei", "Maria", "Mihai", "Elena", "Alexandru", "Ana", "Ștefan"),
           ("Popescu", "Ionescu", "Rusu", "Munteanu", "Ciobanu", "Ceban", "Lungu", "Țurcan")),
    "sv": (("Anna", "Erik", "Maja", "Lars", "Elsa", "Johan", "Ingrid", "Oskar"),
           ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Berg", "Lindqvist")),
}  # fmt: skip
_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z", "и": "i", "й": "y",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch", "ы": "y", "ь": "", "ъ": "",
    "э": "e", "ю": "yu", "я": "ya", "ș": "s", "ț": "t", "ă": "a", "â": "a", "î": "i", "å": "a", "ä": "a",
    "ö": "o",
})  # fmt: skip
_TIMEZONES = {"en": "Europe/London", "ru": "Europe/Moscow", "ro": "Europe/Chisinau", "sv": "Europe/Stockholm"}
_CURRENCY = {"en": "GBP", "ru": "EUR", "ro": "RON", "sv": "SEK"}
_PRODUCTS = (
    ("MUG-01", "Stoneware mug", "12.50"), ("TEA-07", "Rooibos, 100 g", "7.90"),
    ("PLANT-3", "Monstera in a clay pot", "34.00"), ("LAMP-2", "Linen table lamp", "59.00"),
    ("BAG-11", "Waxed canvas tote", "42.00"), ("SOAP-4", "Olive oil soap, set of 3", "15.00"),
)  # fmt: skip
_PRAISE = {
    "en": ["Lovely mug, fast delivery.", "Great quality, will order again!", "Everything perfect, thanks."],
    "ru": ["Отличная кружка, быстрая доставка.", "Всё понравилось, закажу ещё!", "Спасибо, всё идеально."],
    "ro": ["Cană superbă, livrare rapidă.", "Calitate foarte bună, mai comand!", "Totul perfect, mulțumesc."],
    "sv": ["Fin mugg, snabb leverans.", "Toppenkvalitet, beställer igen!", "Allt perfekt, tack."],
}  # fmt: skip
_NEUTRAL = {
    "en": ["It was fine.", "OK, the packaging could be better."],
    "ru": ["Нормально.", "В целом неплохо, упаковка могла быть лучше."],
    "ro": ["A fost în regulă.", "OK, ambalajul putea fi mai bun."],
    "sv": ["Helt okej.", "Bra, men förpackningen kunde varit bättre."],
}  # fmt: skip
_COMPLAINTS = {
    "en": ["The parcel arrived broken.", "Still waiting, it never arrived.",
           "Wrong size, and nobody answered."],
    "ru": ["Посылка пришла разбитой.", "Заказ так и не пришел, жду уже две недели.",
           "Прислали не тот размер."],
    "ro": ["Coletul a venit spart.", "Nu a ajuns nici acum, încă aștept.", "Produs greșit, sunt dezamăgită."],
    "sv": ["Paketet kom trasigt.", "Paketet har inte kommit än.", "Fel storlek och ingen svarade."],
}  # fmt: skip


@dataclass(frozen=True)
class RawRecord:
    """A record published as is (a malformed one, so a service puts it into its dead-letter topic)."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Step:
    """What the storefront published in one step: its kind and the records, in order."""

    kind: str
    records: list[Event | RawRecord]


@dataclass
class _Customer:
    customer_id: str
    email: str
    locale: str
    device_id: str
    ip_address: str
    orders: list[tuple[str, Decimal, str]] = field(default_factory=list)  # id, total, currency
    refunded: set[str] = field(default_factory=set)
    referred: bool = False  # signed up with a friend's code


def to_record(item: Event | RawRecord) -> RawRecord:
    """The record to publish for an event (CloudEvents binary mode) or a raw record."""
    if isinstance(item, RawRecord):
        return item
    record = encode(item, source=SOURCE)
    return RawRecord(record.topic, record.key, record.value, list(record.headers))


class Storefront:
    """A deterministic shop: `step()` returns the next thing that happens in it."""

    def __init__(self, seed: int = 7, run: str = "demo", clock: Callable[[], datetime] | None = None) -> None:
        self.random = random.Random(seed)
        self.run = run
        self.clock = clock or (lambda: datetime.now(UTC))
        self.customers: list[_Customer] = []
        self.codes: dict[str, str] = {}
        self.erased: set[str] = set()
        self._serial = 0

    def learn_code(self, customer_id: str, code: str) -> None:
        """Remember a customer's referral code (read from `referrals.code.issued.v1`)."""
        if any(c.customer_id == customer_id for c in self.customers):
            self.codes[customer_id] = code

    def step(self) -> Step:
        """The next step: a kind chosen by weight; a kind that cannot happen yet becomes a sign-up."""
        kind = self.random.choices(KINDS, weights=list(_WEIGHTS.values()))[0]
        records = getattr(self, f"_{kind}")()
        if records is None:
            kind, records = "registration", self._registration()
        return Step(kind, records)

    # the kinds of traffic

    def _next_id(self, prefix: str) -> str:
        self._serial += 1
        return f"{self.run}-{prefix}-{self._serial:05d}"

    def _live(self) -> list[_Customer]:
        return [c for c in self.customers if c.customer_id not in self.erased]

    def _register(self, *, code: str | None = None, like: _Customer | None = None) -> CustomerRegisteredV1:
        rnd = self.random
        locale = like.locale if like else rnd.choice(LOCALES)
        firsts, lasts = _NAMES[locale]
        first, last = rnd.choice(firsts), rnd.choice(lasts)
        customer_id = self._next_id("c")
        if like is not None:  # the same person again: same device, IP and (normalised) mailbox
            user, domain = like.email.split("@")
            email, device, ip = (
                f"{user.split('+')[0]}+{rnd.randint(2, 99)}@{domain}",
                like.device_id,
                like.ip_address,
            )
        else:
            handle = f"{first}.{last}".lower().translate(_TRANSLIT)
            domain = rnd.choice(["example.com", "example.org", "example.net"])
            email = f"{handle}.{customer_id.rsplit('-', 1)[1]}@{domain}"
            device, ip = (
                f"dev-{rnd.getrandbits(40):010x}",
                f"10.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
            )
        today = self.clock().date()
        birthday = None
        if rnd.random() < 0.15:  # a birthday today
            year = rnd.randint(1960, 2004)
            birthday = date(year, today.month, 28 if (today.month, today.day) == (2, 29) else today.day)
        elif rnd.random() < 0.6:
            birthday = date(rnd.randint(1960, 2004), rnd.randint(1, 12), rnd.randint(1, 28))
        customer = _Customer(customer_id, email, locale, device, ip, referred=code is not None)
        self.customers.append(customer)
        return CustomerRegisteredV1(
            customer_id=customer_id, email=email, first_name=first, last_name=last, locale=locale,
            timezone=_TIMEZONES[locale], birthday=birthday, registered_at=self.clock(), referral_code=code,
            marketing_consent=rnd.random() < 0.85, ip_address=ip, device_id=device,
        )  # fmt: skip

    def _order(self, customer: _Customer) -> OrderCompletedV1:
        rnd = self.random
        currency = _CURRENCY[customer.locale]
        factor = Decimal({"RON": "5", "SEK": "11"}.get(currency, "1"))
        items = []
        for sku, name, price in rnd.sample(_PRODUCTS, rnd.randint(1, 3)):
            unit = Money(amount=Decimal(price) * factor, currency=currency)
            items.append(OrderItem(sku=sku, name=name, quantity=rnd.randint(1, 3), unit_price=unit))
        total = sum((i.unit_price.amount * i.quantity for i in items), Decimal(0))
        order_id = self._next_id("o")
        customer.orders.append((order_id, total, currency))
        return OrderCompletedV1(
            customer_id=customer.customer_id, order_id=order_id, total=Money(amount=total, currency=currency),
            items=items, completed_at=self.clock(), channel=rnd.choice(["web", "web", "app"]),
            payment_fingerprint=f"card-{customer.device_id}",
        )  # fmt: skip

    def _registration(self) -> list[Event | RawRecord]:
        return [self._register()]

    def _referred_registration(self) -> list[Event | RawRecord] | None:
        advocates = [c for c in self._live() if c.customer_id in self.codes]
        if not advocates:
            return None
        advocate = self.random.choice(advocates)
        return [self._register(code=self.codes[advocate.customer_id])]

    def _first_order(self) -> list[Event | RawRecord] | None:
        new = [c for c in self._live() if not c.orders]
        return [self._order(self.random.choice(new))] if new else None

    def _repeat_order(self) -> list[Event | RawRecord] | None:
        buyers = [c for c in self._live() if c.orders]
        return [self._order(self.random.choice(buyers))] if buyers else None

    def _refund(
        self, full: bool, candidates: list[tuple[_Customer, tuple[str, Decimal, str]]] | None = None
    ) -> list[Event | RawRecord] | None:
        if candidates is None:
            candidates = [(c, o) for c in self._live() for o in c.orders if o[0] not in c.refunded]
        if not candidates:
            return None
        customer, (order_id, total, currency) = self.random.choice(candidates)
        customer.refunded.add(order_id)
        amount = (
            total
            if full
            else (total * Decimal(self.random.choice(["0.25", "0.4", "0.5"]))).quantize(Decimal("0.01"))
        )
        reason = "not as described" if full else "one item damaged"
        return [OrderRefundedV1(
            customer_id=customer.customer_id, refund_id=self._next_id("r"), order_id=order_id,
            amount=Money(amount=amount, currency=currency), reason=reason, refunded_at=self.clock(),
        )]  # fmt: skip

    def _partial_refund(self) -> list[Event | RawRecord] | None:
        return self._refund(full=False)

    def _full_refund(self) -> list[Event | RawRecord] | None:
        return self._refund(full=True)

    def _friend_returns(self) -> list[Event | RawRecord] | None:
        """A referred friend sends back the first order soon after (inside the hold, if it is
        one of the last few): the referral is reversed."""
        recent = [
            (c, c.orders[0])
            for c in self._live()
            if c.referred and c.orders and c.orders[0][0] not in c.refunded
        ]
        return self._refund(full=True, candidates=recent[-3:])

    def _response(self, customer: _Customer, score: int, comment: str | None) -> ResponseSubmittedV1:
        return ResponseSubmittedV1(
            customer_id=customer.customer_id, response_id=self._next_id("s"), order_id=customer.orders[-1][0],
            kind="nps", score=score, comment=comment, locale=customer.locale, channel="email",
            submitted_at=self.clock(),
        )  # fmt: skip

    def _survey(self) -> list[Event | RawRecord] | None:
        buyers = [c for c in self._live() if c.orders]
        if not buyers:
            return None
        rnd, customer = self.random, self.random.choice(buyers)
        mood = rnd.random()
        if mood < 0.55:  # promoters
            score, texts, say = rnd.choice([9, 10, 10]), _PRAISE, 0.5
        elif mood < 0.80:  # passives
            score, texts, say = rnd.choice([7, 8]), _NEUTRAL, 0.4
        else:  # detractors, most of them with a clear complaint
            score, texts, say = rnd.randint(0, 6), _COMPLAINTS, 0.8
        comment = rnd.choice(texts[customer.locale]) if rnd.random() < say else None
        return [self._response(customer, score, comment)]

    def _fraud_referral(self) -> list[Event | RawRecord] | None:
        advocates = [c for c in self._live() if c.customer_id in self.codes]
        if not advocates:
            return None
        advocate = self.random.choice(advocates)
        registered = self._register(code=self.codes[advocate.customer_id], like=advocate)
        return [registered, self._order(self.customers[-1])]

    def _malformed_json(self) -> list[Event | RawRecord] | None:
        buyers = [c for c in self._live() if c.orders]
        if not buyers:
            return None
        valid = to_record(self._order(self.random.choice(buyers)))
        return [RawRecord(valid.topic, valid.key, valid.value[: len(valid.value) // 2], valid.headers)]

    def _score_out_of_range(self) -> list[Event | RawRecord] | None:
        buyers = [c for c in self._live() if c.orders]
        if not buyers:
            return None
        valid = to_record(self._response(self.random.choice(buyers), 10, None))
        data = json.loads(valid.value)
        data["score"] = 11
        return [RawRecord(valid.topic, valid.key, json.dumps(data).encode(), valid.headers)]

    def _erasure(self) -> list[Event | RawRecord] | None:
        live = self._live()
        if len(live) < 20:
            return None
        customer = self.random.choice(live)
        self.erased.add(customer.customer_id)
        return [CustomerErasedV1(customer_id=customer.customer_id, requested_at=self.clock())]

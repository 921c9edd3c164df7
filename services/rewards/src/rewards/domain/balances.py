"""Balances are sums of ledger entries, per unit and status; never stored apart from them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from wom_contracts import Balance, Money

__all__ = ["POINTS", "Balances", "as_money", "tidy"]

POINTS = "points"  # the unit of points; store credit's unit is its currency code


def tidy(amount: Decimal, unit: str) -> Decimal:
    """An amount as people read it: whole points; money with two decimals unless it needs more."""
    if unit == POINTS:
        return Decimal(int(amount))
    cents = amount.quantize(Decimal("0.01"))
    return cents if cents == amount else amount.normalize()


def as_money(amount: Decimal, currency: str) -> Money:
    """Money for events and answers, its amount tidied."""
    return Money(amount=tidy(amount, currency), currency=currency)


@dataclass
class Balances:
    """One customer's totals per (unit, status), kept current as entries are added."""

    totals: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Iterable[tuple[str, str, Decimal]]) -> Balances:
        """The balances of entries given as (unit, status, amount)."""
        balances = cls()
        for unit, status, amount in entries:
            balances.add(unit, status, amount)
        return balances

    def add(self, unit: str, status: str, amount: Decimal) -> None:
        """Account for one entry."""
        key = (unit, status)
        self.totals[key] = self.totals.get(key, 0) + amount

    def points(self, status: str) -> int:
        """Points in `status` (available, pending)."""
        return int(self.totals.get((POINTS, status), 0))

    def credit(self, status: str) -> list[Money]:
        """Store credit in `status`, one amount per currency (currencies at zero left out)."""
        return [
            as_money(Decimal(amount), unit)
            for (unit, entry_status), amount in sorted(self.totals.items())
            if entry_status == status and len(unit) == 3 and unit.isupper() and amount > 0
        ]

    def to_event(self) -> Balance:
        """The balance as events carry it."""
        return Balance(
            points_available=self.points("available"),
            points_pending=self.points("pending"),
            credit_available=self.credit("available"),
        )

"""Points expire oldest first: each grant is a lot; spending takes from the oldest lots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Debit", "Lot", "expiring", "remaining_by_lot"]


@dataclass(frozen=True)
class Lot:
    """Available points from one grant, and when they expire."""

    entry_id: str
    points: int
    granted_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Debit:
    """Points taken from the balance; `lot_id` when it takes from one grant (a clawback, a
    revocation, an expiry), None when it spends whatever is oldest (a redemption)."""

    points: int
    lot_id: str | None = None


def remaining_by_lot(lots: Sequence[Lot], debits: Sequence[Debit]) -> dict[str, int]:
    """Points still unspent in each lot: debits aimed at a lot take from it, the rest (and
    whatever an aimed debit could not find in its lot) from the oldest lots first."""
    remaining = {lot.entry_id: lot.points for lot in lots}
    loose = 0
    for debit in debits:
        if debit.lot_id in remaining:
            taken = min(remaining[debit.lot_id], debit.points)
            remaining[debit.lot_id] -= taken
            loose += debit.points - taken
        else:
            loose += debit.points
    for lot in sorted(lots, key=lambda lot: (lot.expires_at, lot.granted_at, lot.entry_id)):
        taken = min(remaining[lot.entry_id], loose)
        remaining[lot.entry_id] -= taken
        loose -= taken
    return remaining


def expiring(lots: Sequence[Lot], debits: Sequence[Debit], until: datetime) -> list[tuple[Lot, int]]:
    """The lots that expire at or before `until` with points left in them, and how many."""
    remaining = remaining_by_lot(lots, debits)
    return [
        (lot, remaining[lot.entry_id])
        for lot in sorted(lots, key=lambda lot: (lot.expires_at, lot.granted_at, lot.entry_id))
        if lot.expires_at <= until and remaining[lot.entry_id] > 0
    ]

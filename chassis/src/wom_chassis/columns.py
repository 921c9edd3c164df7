"""Column types shared by every service's tables."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["ExactDecimal", "UtcDateTime", "exact_decimal_column", "new_id", "numeric_column", "utcnow"]


def new_id() -> str:
    """A new row id: 32 hex characters (fits every id column and the contracts' id syntax),
    time-ordered (the millisecond first, then 80 random bits) so that new rows land at the end
    of their index rather than on a random page of it."""
    return f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}"


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite forgets the zone on its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def driver_processor(self, dialect: Dialect) -> Callable[[datetime], Any]:
        """What `process_bind_param` and the dialect's own conversion do together, in one call,
        for the raw driver's writes: on SQLite the text SQLAlchemy stores
        (`YYYY-MM-DD HH:MM:SS.ffffff`, UTC)."""
        if dialect.name != "sqlite":
            return self._aware_utc
        return self._sqlite_text

    @staticmethod
    def _aware_utc(value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC)

    @staticmethod
    def _sqlite_text(value: datetime) -> str:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class ExactDecimal(TypeDecorator[Decimal]):
    """A decimal with a fixed number of places, exact on every backend and in SQL sums: stored
    as a scaled integer (SQLite has no exact decimal type of its own)."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int = 4) -> None:
        super().__init__()
        self.places = places

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        scaled = Decimal(value).scaleb(self.places)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.places)


def exact_decimal_column(table: str, column: str, *, nullable: bool, places: int = 4) -> None:
    """Migrate a `Numeric(18, places)` column to `ExactDecimal(places)`, its value scaled by
    10^places and rounded, in an Alembic migration. PostgreSQL converts in the ALTER; on SQLite,
    whose NUMERIC column held floats, the values are scaled first, for the table's rebuild casts
    them to integers."""
    from alembic import op

    scaled = f"ROUND({column} * {10**places})"
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f"UPDATE {table} SET {column} = CAST({scaled} AS INTEGER) WHERE {column} IS NOT NULL")
    with op.batch_alter_table(table) as batch:
        batch.alter_column(
            column,
            type_=BigInteger(),
            existing_type=Numeric(18, places),
            existing_nullable=nullable,
            postgresql_using=f"{scaled}::bigint",
        )


def numeric_column(table: str, column: str, *, nullable: bool, places: int = 4) -> None:
    """`exact_decimal_column` undone: the scaled integer back to `Numeric(18, places)`."""
    from alembic import op

    with op.batch_alter_table(table) as batch:
        batch.alter_column(
            column,
            type_=Numeric(18, places),
            existing_type=BigInteger(),
            existing_nullable=nullable,
            postgresql_using=f"({column} / {10**places}.0)::numeric(18, {places})",
        )
    if op.get_bind().dialect.name != "postgresql":
        op.execute(f"UPDATE {table} SET {column} = {column} / {10**places}.0 WHERE {column} IS NOT NULL")

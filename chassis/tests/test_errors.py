"""Errors as codes: what reaches logs, rows, events and dead letters names no address, no value."""

from __future__ import annotations

import sqlite3

import aiosmtplib
import asyncpg
import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from wom_chassis.errors import Reported, error_code, smtp_reply_code

ADDRESS = "anna.karlsson@example.com"


def raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (
            aiosmtplib.SMTPRecipientRefused(550, f"5.1.1 <{ADDRESS}>: Recipient address rejected", ADDRESS),
            "SMTPRecipientRefused: smtp 550 5.1.1 (permanent)",
        ),
        (
            aiosmtplib.SMTPResponseException(451, f"4.7.1 Greylisted, try {ADDRESS} later"),
            "SMTPResponseException: smtp 451 4.7.1 (transient)",
        ),
        (aiosmtplib.SMTPDataError(554, f"rejected for {ADDRESS}"), "SMTPDataError: smtp 554 (permanent)"),
        (aiosmtplib.SMTPServerDisconnected(f"lost {ADDRESS}"), "SMTPServerDisconnected"),
        (
            ConnectionRefusedError(111, "Connect call failed"),
            "ConnectionRefusedError: errno 111 (ECONNREFUSED)",
        ),
        (TimeoutError(ADDRESS), "TimeoutError"),
        (Reported("the queue has no webhook any more"), "Reported: the queue has no webhook any more"),
    ],
)
def test_an_error_becomes_its_codes_and_nothing_of_its_text(error: BaseException, code: str) -> None:
    assert error_code(error) == code
    assert ADDRESS not in error_code(error)


def test_a_postgresql_error_keeps_its_sqlstate_and_names_not_its_detail() -> None:
    error = asyncpg.UniqueViolationError('duplicate key value violates unique constraint "uq_contact_email"')
    error.detail = f"Key (email)=({ADDRESS}) already exists."
    error.sqlstate, error.constraint_name, error.table_name = "23505", "uq_contact_email", "contacts"
    assert ADDRESS in str(error)  # what asyncpg's own text says
    wrapped = IntegrityError("INSERT INTO contacts ...", None, error)
    assert error_code(wrapped) == (
        "IntegrityError: UniqueViolationError sqlstate 23505 constraint uq_contact_email table contacts"
    )
    assert error_code(error).startswith("UniqueViolationError: sqlstate 23505")


def test_a_sqlite_error_keeps_its_code_and_what_it_names() -> None:
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE TABLE contacts (email TEXT UNIQUE)")
        db.execute("INSERT INTO contacts VALUES (?)", (ADDRESS,))
        with pytest.raises(sqlite3.IntegrityError) as failure:
            db.execute("INSERT INTO contacts VALUES (?)", (ADDRESS,))
    assert error_code(failure.value) == (
        "IntegrityError: SQLITE_CONSTRAINT_UNIQUE: UNIQUE constraint failed: contacts.email"
    )


def test_an_http_status_is_kept_and_the_answer_is_not() -> None:
    request = httpx.Request("POST", "https://hooks.example.com/t0ken")
    response = httpx.Response(422, text=f"bad {ADDRESS}", request=request)
    error = httpx.HTTPStatusError(f"422 for {ADDRESS}", request=request, response=response)
    assert error_code(error) == "HTTPStatusError: http 422"


def test_anything_else_says_where_it_was_raised_not_what_it_said() -> None:
    code = error_code(raised(ValueError(f"no contact {ADDRESS}")))
    assert code.startswith("ValueError at test_errors.py:") and code.endswith("in raised")
    assert error_code(ValueError(ADDRESS)) == "ValueError raised without a traceback"


def test_an_smtp_reply_without_an_enhanced_code() -> None:
    assert smtp_reply_code(421, "mx.example.com closing") == "smtp 421 (transient)"
    assert smtp_reply_code(250, "2.0.0 Ok") == "smtp 250 2.0.0 (success)"

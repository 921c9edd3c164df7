"""Errors as codes: what went wrong, without the words a server or a library put around it.

An SMTP server's reply quotes the recipient ("550 5.1.1 <anna@example.com>: user unknown"), a
PostgreSQL error its DETAIL ("Key (email)=(anna@example.com) already exists") and sometimes the
value in its message, a webhook's answer whatever the receiver echoed, a validation error the input.
Logs, the rows that record an attempt, events and dead letters outlive an erasure, so what goes
into them is `error_code(error)`: the exception's type and the codes that say what to do about it —
an SMTP reply code with its enhanced status code and class (RFC 3463: 4 transient, 5 permanent),
an HTTP status, an errno, a SQLSTATE with the constraint, table and column it names — and, for
anything else, where it was raised. An error whose message wom wrote itself and keeps free of
personal data is a `Reported` one: its message is kept.
"""

from __future__ import annotations

import errno as errnos
import re
import sqlite3
import traceback
from pathlib import Path

import aiosmtplib
import asyncpg
import httpx
from sqlalchemy.exc import DBAPIError

__all__ = ["Reported", "error_code", "smtp_reply_code"]

_ENHANCED = re.compile(r"\s*([245]\.\d{1,3}\.\d{1,3})\b")
_CLASSES = {2: "success", 4: "transient", 5: "permanent"}


class Reported(Exception):
    """An error whose message wom wrote and keeps free of personal data: `error_code` keeps it."""


def smtp_reply_code(code: int, text: str) -> str:
    """`smtp 550 5.1.1 (permanent)` of a reply: its code, the enhanced status code its text opens
    with, the class; never the text."""
    enhanced = _ENHANCED.match(text or "")
    shown = f" {enhanced[1]}" if enhanced else ""
    return f"smtp {code}{shown} ({_CLASSES.get(code // 100, 'unexpected')})"


def _database(error: BaseException) -> str:
    if isinstance(error, asyncpg.PostgresError):
        named = [
            f"{what} {value}"
            for what in ("constraint", "table", "column")
            if (value := getattr(error, f"{what}_name", None))
        ]
        return " ".join([f"sqlstate {error.sqlstate}", *named])
    if isinstance(error, sqlite3.Error):
        # SQLite's messages name tables, columns and constraints, never a bound value
        return f"{getattr(error, 'sqlite_errorname', 'SQLITE_ERROR')}: {error}"
    return _where(error)


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "raised without a traceback"
    last = frames[-1]
    return f"at {Path(last.filename).name}:{last.lineno} in {last.name}"


def error_code(error: BaseException) -> str:
    """What `error` was, with nothing a server, a database or an input put into its text."""
    name = type(error).__name__
    if isinstance(error, Reported):
        return f"{name}: {error}"
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"{name}: {smtp_reply_code(error.code, error.message)}"
    if isinstance(error, DBAPIError):
        orig = error.orig
        return f"{name}: {type(orig).__name__} {_database(orig)}" if orig is not None else name
    if isinstance(error, asyncpg.PostgresError | sqlite3.Error):
        return f"{name}: {_database(error)}"
    if isinstance(error, httpx.HTTPStatusError):
        return f"{name}: http {error.response.status_code}"
    if isinstance(error, OSError) and error.errno:
        return f"{name}: errno {error.errno} ({errnos.errorcode.get(error.errno, 'unknown')})"
    if isinstance(error, TimeoutError | httpx.TimeoutException | aiosmtplib.SMTPException):
        return name
    return f"{name} {_where(error)}"

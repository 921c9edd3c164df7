"""Console agents from the YAML file named by `FEEDBACK_AGENTS_FILE`, with scrypt password hashes.

The file is a list of `{login, name, password_hash, role?, queues?, compensation_limit?}`. An
`agent` (the default) works the queues listed (none listed: every queue) and compensates up to
its `compensation_limit` per currency (none: without a limit); a `supervisor` works every queue,
takes over a case another agent claimed, and has no limit. Make a hash with
`python -m feedback.console.agents hash` (reads the password from stdin, prints the hash)."""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    field_validator,
    model_validator,
)
from wom_chassis import load_rules_file
from wom_contracts import Money

__all__ = ["Agent", "Agents", "Role", "hash_password", "load_agents", "main", "verify_password"]

Role = Literal["agent", "supervisor"]

# scrypt's cost: 2**14 × 8 × 128 bytes = 16 MiB and ~50 ms per check, OWASP's minimum for scrypt
_N, _R, _P = 2**14, 8, 1
_MAX_N, _MAX_R, _MAX_P = 2**17, 16, 4  # a hash asking for more would let a file exhaust memory
_MAXMEM = 128 * _MAX_N * _MAX_R + 2**20
_SALT_BYTES, _KEY_BYTES = 16, 32

Login = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
QueueName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,63}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """A self-describing scrypt hash of `password`: `scrypt$n$r$p$salt_b64$hash_b64`."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_KEY_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def _parsed(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """The parameters, salt and key of a hash; ValueError when it is not one this module makes."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("expected scrypt$n$r$p$salt_b64$hash_b64")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("n, r and p must be integers, salt and hash base64") from None
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= _MAX_R and 0 < p <= _MAX_P):
        raise ValueError(f"n must be a power of two up to {_MAX_N}, r 1–{_MAX_R}, p 1–{_MAX_P}")
    if len(salt) < 8 or len(key) < 16:
        raise ValueError("salt or hash too short")
    return n, r, p, salt, key


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches the hash (constant-time comparison); False for a malformed hash."""
    try:
        n, r, p, salt, key = _parsed(encoded)
    except ValueError:
        return False
    given = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=len(key))
    return hmac.compare_digest(given, key)


class _AgentEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    login: Login
    name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    password_hash: str
    role: Role = "agent"
    queues: list[QueueName] | None = None
    compensation_limit: (
        dict[Currency, Annotated[Decimal, Field(ge=0, max_digits=11, decimal_places=2)]] | None
    ) = None

    @field_validator("password_hash")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        _parsed(value)
        return value

    @model_validator(mode="after")
    def _supervisors_work_everything(self) -> _AgentEntry:
        if self.role == "supervisor" and (self.queues is not None or self.compensation_limit is not None):
            raise ValueError(
                f"{self.login}: a supervisor works every queue without a limit (no queues, no limit)"
            )
        return self


class _AgentsFile(RootModel[list[_AgentEntry]]):
    @model_validator(mode="after")
    def _unique(self) -> _AgentsFile:
        logins = [entry.login for entry in self.root]
        if len(set(logins)) != len(logins):
            raise ValueError("logins must be unique")
        return self


@dataclass(frozen=True)
class Agent:
    """A support agent who may log in to the console; `queues` None means every queue, a
    `compensation_limit` None no limit (per currency otherwise: a currency not listed, none)."""

    login: str
    name: str
    password_hash: str = field(repr=False)
    queues: frozenset[str] | None = None
    role: Role = "agent"
    compensation_limit: MappingProxyType[str, Decimal] | None = None

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"

    def may_work(self, queue: str) -> bool:
        """Whether the agent may see and work cases of `queue`."""
        return self.supervisor or self.queues is None or queue in self.queues

    def may_compensate(self, compensation: Money) -> bool:
        """Whether the agent may grant `compensation` alone (beyond it, a supervisor does)."""
        if self.supervisor or self.compensation_limit is None:
            return True
        return compensation.amount <= self.compensation_limit.get(compensation.currency, Decimal(0))

    def limit_text(self, currency: str) -> str | None:
        """The agent's limit in `currency` as the page says it, None without one."""
        if self.supervisor or self.compensation_limit is None:
            return None
        return f"{self.compensation_limit.get(currency, Decimal(0)):.2f} {currency}"


# Checked when the login does not exist, so an unknown login costs the same time as a wrong password.
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))


class Agents:
    """The agents who may log in, by login."""

    def __init__(self, agents: list[Agent]) -> None:
        self._by_login = {agent.login: agent for agent in agents}

    def __len__(self) -> int:
        return len(self._by_login)

    def get(self, login: str) -> Agent | None:
        """The agent with this login, if any."""
        return self._by_login.get(login)

    def authenticate(self, login: str, password: str) -> Agent | None:
        """The agent when login and password match; None otherwise, in the same time either way."""
        agent = self._by_login.get(login.strip().lower())
        matches = verify_password(password, agent.password_hash if agent else _DECOY_HASH)
        return agent if agent is not None and matches else None


def load_agents(path: Path | None) -> Agents:
    """Read and validate the agents file (none: no agents, nobody can log in); a `RulesError`
    naming the bad key when it is invalid."""
    if path is None:
        return Agents([])
    entries = load_rules_file(path, _AgentsFile).root
    return Agents(
        [
            Agent(
                login=entry.login,
                name=entry.name,
                password_hash=entry.password_hash,
                queues=None if entry.queues is None else frozenset(entry.queues),
                role=entry.role,
                compensation_limit=None
                if entry.compensation_limit is None
                else MappingProxyType(dict(entry.compensation_limit)),
            )
            for entry in entries
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m feedback.console.agents hash`: read a password from stdin, print its hash."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["hash"]:
        print("usage: python -m feedback.console.agents hash  (password on stdin)", file=sys.stderr)
        return 2
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("an empty password cannot be hashed", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

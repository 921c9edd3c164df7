"""API credentials for the services' tokens files: a new token per client, shown once, and the
entry that admits it (its name, the SHA-256 of the token, its scopes)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from wom_chassis.auth import read_tokens_file, token_digest
from wom_chassis.settings import ApiTokenEntry

__all__ = ["Issued", "add_to_file", "issue"]

TOKEN_BYTES = 32
"""Random bytes in a token: what a guess online would have to find (the services refuse shorter
`API_TOKEN`s, and a tokens file stores only a fast hash, which is enough for this much entropy)."""


@dataclass(frozen=True)
class Issued:
    token: str
    entry: ApiTokenEntry

    def toml(self) -> str:
        """The entry as a `[[tokens]]` table of a tokens file."""
        return (
            f"[[tokens]]\nname = {json.dumps(self.entry.name)}\nsha256 = {json.dumps(self.entry.sha256)}\n"
            f"scopes = {json.dumps(list(self.entry.scopes))}\n"
        )


def issue(name: str, scopes: list[str]) -> Issued:
    """A new random token for `name` with `scopes`; `pydantic.ValidationError` on a bad name or
    an unknown scope."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return Issued(token, ApiTokenEntry(name=name, sha256=token_digest(token), scopes=tuple(scopes)))


def add_to_file(issued: Issued, path: Path) -> int:
    """Append the entry to the tokens file at `path` (made, readable by its owner only, if
    missing), only if the result reads as a service reads it (`SecretsRefused` otherwise, and the
    file is left as it was); how many entries it holds then."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    separator = "" if not existing else "\n" if existing.endswith("\n") else "\n\n"
    draft = path.with_name(f".{path.name}.new")
    draft.write_text(existing + separator + issued.toml(), encoding="utf-8")
    try:
        draft.chmod(path.stat().st_mode if path.exists() else 0o600)
        entries = read_tokens_file(draft)
    except BaseException:
        draft.unlink()
        raise
    draft.replace(path)
    return len(entries)

"""Classification of an answer: its category by score, and clear negative signals in its
comment in en, ru, ro and sv (an offline lexicon), so "10 — but the parcel arrived broken" is
not read as delight."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import yaml

__all__ = [
    "LANGUAGES",
    "Lexicon",
    "SignalPatterns",
    "category",
    "is_negative",
    "load_lexicon",
    "negative_signals",
    "signal_patterns",
    "signals_in",
]

LANGUAGES = ("en", "ru", "ro", "sv")
LEXICON_FILE = Path(__file__).with_name("lexicon.yaml")

Lexicon = Mapping[str, Mapping[str, Sequence[str]]]
"""language → signal → phrases"""


def category(kind: str, score: int) -> str:
    """NPS 9–10 promoter, 7–8 passive, 0–6 detractor; CSAT and reviews 4–5 positive, 3 neutral,
    1–2 negative."""
    if kind == "nps":
        return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    return "positive" if score >= 4 else "neutral" if score == 3 else "negative"


def is_negative(answer_category: str, signals: Sequence[str]) -> bool:
    """A detractor or negative answer, or any answer whose comment carries a negative signal."""
    return answer_category in ("detractor", "negative") or bool(signals)


def _fold(text: str) -> str:
    # one form for matching: lower case, no diacritics (ș/ş/s, ё/е, å/a), single spaces
    if text.isascii():  # nothing to decompose: the same form, without a pass per character
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.replace("’", "'").split())


def _pattern(phrase: str) -> str:
    # the phrase from where a word starts: `_compiled` puts the `(?<!\w)` in front of them all
    stem = phrase.endswith("*")
    words = [re.escape(word) for word in _fold(phrase.rstrip("*")).split()]
    body = r"\s+".join(words)
    return body + (r"\w*" if stem else r"(?!\w)")


@cache
def _compiled(
    lexicon_items: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    # `(?<!\w)(?:a|b)` matches where `(?<!\w)a|(?<!\w)b` does, an order of magnitude faster
    return tuple(
        (signal, re.compile(r"(?<!\w)(?:" + "|".join(_pattern(p) for p in phrases) + ")"))
        for signal, phrases in lexicon_items
    )


def load_lexicon(extra: Lexicon | None = None) -> dict[str, dict[str, list[str]]]:
    """The shipped lexicon with `extra` phrases added (language → signal → phrases)."""
    shipped: dict[str, dict[str, list[str]]] = yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))
    for language, signals in (extra or {}).items():
        for signal, phrases in signals.items():
            shipped.setdefault(language, {}).setdefault(signal, []).extend(phrases)
    return shipped


SignalPatterns = tuple[tuple[str, re.Pattern[str]], ...]
"""signal → the compiled pattern of its phrases in every language"""


def signal_patterns(lexicon: Lexicon) -> SignalPatterns:
    """The lexicon's phrases merged across languages and compiled, one pattern per signal, in
    the order of the signals' names: build them once, read many comments with `signals_in`."""
    merged: dict[str, set[str]] = {}
    for signals in lexicon.values():
        for signal, phrases in signals.items():
            merged.setdefault(signal, set()).update(phrases)
    return _compiled(tuple(sorted((signal, tuple(sorted(phrases))) for signal, phrases in merged.items())))


def signals_in(comment: str | None, patterns: SignalPatterns) -> list[str]:
    """The negative signals in a comment, sorted (as `negative_signals`, patterns built once)."""
    if not comment:
        return []
    text = _fold(comment)
    return sorted(signal for signal, pattern in patterns if pattern.search(text))


def negative_signals(comment: str | None, lexicon: Lexicon) -> list[str]:
    """The negative signals in a comment, sorted; every language is read, because the answer's
    locale does not always say which language the customer wrote in."""
    if not comment:
        return []
    return signals_in(comment, signal_patterns(lexicon))

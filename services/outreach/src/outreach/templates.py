"""Localised message templates: Jinja2 in a sandbox, subject, plain text and HTML."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateNotFound, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from wom_chassis.l10n import install_filters, locale_within

__all__ = ["TEMPLATE_DIR", "Rendered", "Templates", "locale_chain"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
_LINE = re.compile(r"[ \t\r\n]+")


@dataclass(frozen=True)
class Rendered:
    """A rendered message in one locale."""

    locale: str
    subject: str
    text: str
    html: str


def locale_chain(locale: str, default: str = "en") -> list[str]:
    """Locales to try, most specific first: `ro-MD` → `ro` → `en`."""
    parts = locale.replace("_", "-").split("-")
    chain = ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]
    chain = [c.lower() if "-" not in c else f"{c.split('-')[0].lower()}-{c.split('-', 1)[1]}" for c in chain]
    return [*dict.fromkeys([*chain, default])]


class Templates:
    """Renders a message kind in a customer's locale, falling back along the locale chain.

    Templates live in `templates/<kind>/<locale>.subject.txt|txt|html`; HTML ones extend
    `_layout.html`, and marketing ones end with the unsubscribe footer of their language
    (`_footer/<locale>.html|txt`). Every variable must be given (StrictUndefined). Templates are
    files of the package: each is compiled once, and the locale a kind falls back to is looked
    up once per kind and locale (no file is looked at again)."""

    def __init__(self, directory: Path = TEMPLATE_DIR, default_locale: str = "en") -> None:
        self.default_locale = default_locale
        self.env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        install_filters(self.env)  # money, number, day, plural: Babel in the rendering locale
        self._chosen: dict[tuple[str, str], tuple[str, list[Template]]] = {}

    def render(self, kind: str, locale: str, context: dict[str, Any]) -> Rendered:
        """Render `kind` in the first locale of the chain that has it; numbers, money and dates
        as the customer's locale writes them where it is of the template's language (`ro-MD`
        for a Romanian template), else as the template's language does."""
        candidate, templates = self._choose(kind, locale)
        values = {**context, "lang": candidate, "locale": locale_within(locale, candidate)}
        subject, text, html = (template.render(values) for template in templates)
        # one line of single spaces; a no-break space the CLDR writes ("15,00 €") stays
        return Rendered(candidate, _LINE.sub(" ", subject).strip(" "), text, html)

    def _choose(self, kind: str, locale: str) -> tuple[str, list[Template]]:
        chosen = self._chosen.get((kind, locale))
        if chosen is None:
            chosen = self._chosen[kind, locale] = self._find(kind, locale)
        return chosen

    def _find(self, kind: str, locale: str) -> tuple[str, list[Template]]:
        for candidate in locale_chain(locale, self.default_locale):
            try:
                parts = ("subject.txt", "txt", "html")
                return candidate, [self.env.get_template(f"{kind}/{candidate}.{part}") for part in parts]
            except TemplateNotFound:
                continue
        raise LookupError(f"no template for {kind!r} in {locale!r} or its fallbacks")

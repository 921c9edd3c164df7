"""The README lists every message kind with its class."""

from __future__ import annotations

import re
from pathlib import Path

from outreach.kinds import KINDS, sample_context
from outreach.templates import Templates

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_kind_is_documented_with_its_class_and_an_example() -> None:
    for name, kind in KINDS.items():
        assert f"| `{name}` | {kind.message_class} |" in README, name
        assert f"### `{name}`" in README, name


def test_each_example_is_what_the_templates_render_now() -> None:
    """The README's example of a kind is its English rendering of the sample data (numbers, money
    and dates as Babel writes them), and its subjects are those of the four languages."""
    templates = Templates()
    for name in KINDS:
        section = README.split(f"### `{name}`\n", 1)[1].split("\n### ", 1)[0]
        for locale in ("en", "ru", "ro", "sv"):
            subject = templates.render(name, locale, sample_context(name)).subject
            assert f"- {locale}: *{subject}*" in section, (name, locale)
        example = re.search(r"```text\n(.*?)```", section, flags=re.S)
        assert example is not None, name
        assert example.group(1).rstrip("\n") == templates.render(
            name, "en", sample_context(name)
        ).text.rstrip("\n")

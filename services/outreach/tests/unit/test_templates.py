import pytest
from jinja2.exceptions import SecurityError, UndefinedError
from outreach.kinds import sample_context
from outreach.templates import Templates, locale_chain

CONTEXT = {**sample_context("purchase_thank_you"), "order_id": "o-1"}


def test_locale_chain_falls_back_to_language_then_default() -> None:
    assert locale_chain("ro-MD") == ["ro-MD", "ro", "en"]
    assert locale_chain("sv_SE") == ["sv-SE", "sv", "en"]
    assert locale_chain("EN") == ["en"]


@pytest.mark.parametrize(
    ("locale", "used", "word"),
    [
        ("en", "en", "thank you"),
        ("ro-MD", "ro", "Mulțumim"),
        ("ru", "ru", "Спасибо"),
        ("sv-FI", "sv", "Tack"),
        ("de-AT", "en", "thank you"),
    ],
)
def test_the_thank_you_renders_in_the_customers_language(locale: str, used: str, word: str) -> None:
    rendered = Templates().render("purchase_thank_you", locale, CONTEXT)
    assert rendered.locale == used
    assert word in rendered.subject and "Anna" in rendered.subject
    assert "42" in rendered.text and "o-1" in rendered.text
    assert "<strong>o-1</strong>" in rendered.html


def test_html_is_escaped_and_text_is_not() -> None:
    rendered = Templates().render("purchase_thank_you", "en", {**CONTEXT, "first_name": "<b>Bo & Co</b>"})
    assert "&lt;b&gt;Bo &amp; Co&lt;/b&gt;" in rendered.html
    assert "<b>Bo & Co</b>" in rendered.text


def test_missing_data_is_an_error_not_a_blank(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UndefinedError):
        Templates().render("purchase_thank_you", "en", {"first_name": "Anna"})


def test_templates_run_in_a_sandbox(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "evil").mkdir()
    for part in ("subject.txt", "txt", "html"):
        (tmp_path / "evil" / f"en.{part}").write_text("{{ x.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        Templates(tmp_path).render("evil", "en", {"x": "a"})


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(LookupError, match="no template for 'nope'"):
        Templates().render("nope", "en", {})

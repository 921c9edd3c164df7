"""The rules file: the shipped one and the README's example load; mistakes name their key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from referrals.rules import DEFAULT_RULES_FILE, RulesError, load_rules

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_shipped_rules_load() -> None:
    rules = load_rules(DEFAULT_RULES_FILE)
    assert rules.attribution.window_days == 60 and set(rules.share.messages) == {"en", "ru", "ro", "sv"}


def test_the_readme_example_loads(tmp_path: Path) -> None:
    example = re.search(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert example is not None
    path = tmp_path / "rules.yaml"
    path.write_text(example.group(1), encoding="utf-8")
    rules = load_rules(path)
    assert rules.fraud.self_referral_same_ip.action == "review"
    assert "throwaway.example" in rules.disposable_domains()


EN = "\nshare: {messages: {en: {subject: s, text: '{url}'}}}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "share: {messages: {en: {subject: s, text: no link}}}",
            "share.messages.en: Value error, text must contain {url}",
        ),
        ("share: {messages: {sv: {subject: s, text: '{url}'}}}", "messages.en is required"),
        (
            "attribution: {window_days: 0}" + EN,
            "attribution.window_days",
        ),
        (
            "fraud: {self_referral_same_ip: {action: score}}" + EN,
            "fraud.self_referral_same_ip: Value error, action 'score' needs a weight above 0",
        ),
        (
            "fraud: {score: {review_at: 80, reject_at: 50}}" + EN,
            "reject_at must not be below review_at",
        ),
        (
            "fraud: {velocity_daily: {action: review}}" + EN,
            "fraud.velocity_daily.limit",
        ),
        (
            "fraud: {self_referal_same_ip: {action: off}}" + EN,
            "fraud.self_referal_same_ip: Extra inputs are not permitted",
        ),
        (
            "fraud: {disposable_domains_file: /nope.txt}" + EN,
            "cannot read disposable domains file /nope.txt",
        ),
        ("codes: [", "not valid YAML"),
    ],
)
def test_mistakes_name_their_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as error:
        load_rules(path)
    assert message in str(error.value)

"""Share links: one URL per channel, with an invitation in the customer's language."""

from __future__ import annotations

from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from referrals.rules import ShareMessage, ShareRules

__all__ = ["CHANNELS", "locale_chain", "message_for", "share_link", "share_links", "with_query"]

CHANNELS = ("email", "whatsapp", "telegram", "facebook", "x", "sms")


def locale_chain(locale: str | None) -> list[str]:
    """`ro-MD` → [`ro-MD`, `ro`, `en`]: the most specific first, English last."""
    chain: list[str] = []
    parts = (locale or "en").split("-")
    for end in range(len(parts), 0, -1):
        tag = "-".join(parts[:end])
        if tag.lower() not in (known.lower() for known in chain):
            chain.append(tag)
    return [*chain, "en"] if "en" not in (tag.lower() for tag in chain) else chain


def message_for(locale: str | None, rules: ShareRules) -> tuple[str, ShareMessage]:
    """The invitation of the first language in the customer's fallback chain that has one."""
    by_lower = {tag.lower(): tag for tag in rules.messages}
    for tag in locale_chain(locale):
        if tag.lower() in by_lower:
            found = by_lower[tag.lower()]
            return found, rules.messages[found]
    return "en", rules.messages["en"]


def share_link(base_url: str, code: str, channel: str | None = None) -> str:
    """The public link of a code (`…/r/ANNA-7K3Q`), tagged with the channel it was shared on."""
    link = f"{base_url.rstrip('/')}/r/{quote(code)}"
    return f"{link}?{urlencode({'via': channel})}" if channel else link


def share_links(base_url: str, code: str, locale: str | None, rules: ShareRules) -> dict[str, str]:
    """A ready-to-open share URL per channel, the invitation prefilled."""
    _, message = message_for(locale, rules)
    subject = message.subject.format(shop=rules.shop_name)
    links: dict[str, str] = {}
    for channel in CHANNELS:
        url = share_link(base_url, code, channel)
        text = message.text.format(shop=rules.shop_name, url=url)
        links[channel] = {
            "email": f"mailto:?{urlencode({'subject': subject, 'body': text}, quote_via=quote)}",
            "whatsapp": f"https://wa.me/?{urlencode({'text': text}, quote_via=quote)}",
            "telegram": "https://t.me/share/url?"
            + urlencode({"url": url, "text": text.replace(url, "").strip()}, quote_via=quote),
            "facebook": f"https://www.facebook.com/sharer/sharer.php?{urlencode({'u': url})}",
            "x": f"https://x.com/intent/post?{urlencode({'text': text}, quote_via=quote)}",
            "sms": f"sms:?&{urlencode({'body': text}, quote_via=quote)}",
        }[channel]
    return links


def with_query(url: str, **params: str) -> str:
    """`url` with `params` added to its query string (existing parameters kept)."""
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit(parts._replace(query=query))

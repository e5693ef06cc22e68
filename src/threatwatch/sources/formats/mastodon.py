"""Mastodon Status entities as the REST and streaming APIs return them.

A file may hold one status, an array of statuses (a timeline page), or one status per line.
`content` is HTML; it becomes plain text here (paragraphs and <br> → newlines, links → their
full text — the spans Mastodon hides with CSS included — entities unescaped) with the stdlib parser, so no HTML ever reaches the judge.
A boost (`reblog`) stands for the boosted status: that status is the post (the store drops
ids it has already seen).
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

from ...post import Post, Reject, make_id
from ._common import RecordError, check_size, each_item, invalid, missing, parse_time, reject

_BLOCK = {"p", "div", "blockquote", "li", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}


class _TextExtractor(HTMLParser):
    """Collects the visible text of Mastodon's limited HTML subset."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self._block_break()
        elif tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK:
            self._block_break()
        elif tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def _block_break(self) -> None:
        if self.parts and not "".join(self.parts[-2:]).endswith("\n\n"):
            self.parts.append("\n\n")

    def text(self) -> str:
        return "".join(self.parts).strip()


def html_to_text(html: str) -> str:
    """Mastodon status HTML → plain text."""
    if "<" not in html and "&" not in html:
        return html
    p = _TextExtractor()
    p.feed(html)
    p.close()
    return p.text()


def _status_to_post(st: dict, source: str) -> Post:
    if isinstance(st.get("reblog"), dict):
        st = st["reblog"]
    uri = st.get("uri") or st.get("url")
    if not uri:
        raise missing("uri", "status")
    if "content" not in st:
        raise missing("content", "status")
    content = st.get("content") or ""
    if not isinstance(content, str):
        raise invalid("content", content)
    text = html_to_text(content)
    spoiler = st.get("spoiler_text") or ""
    if isinstance(spoiler, str) and spoiler.strip():
        text = f"{spoiler.strip()}\n\n{text}" if text else spoiler.strip()
    check_size(text)
    created = parse_time(st.get("created_at"), "created_at")
    acct = None
    account = st.get("account")
    if isinstance(account, dict) and account.get("acct"):
        acct = "@" + str(account["acct"])
    quote_of = None
    q = st.get("quote")
    if isinstance(q, dict):  # Mastodon 4.4+: {"state": ..., "quoted_status": Status | null}
        qs = q.get("quoted_status") if "quoted_status" in q else q
        if isinstance(qs, dict):
            quote_of = qs.get("uri") or qs.get("url")
    reply_to = st.get("in_reply_to_id")
    return Post(
        id=make_id("mastodon", uri),
        platform="mastodon",
        text=text,
        created_at=created,
        url=st.get("url") or uri,
        author=acct,
        lang=st.get("language") or None,
        reply_to=str(reply_to) if reply_to else None,
        quote_of=quote_of,
        source=source,
    )


def parse_mastodon_status(obj: dict, source: str, line: int) -> Post | Reject | None:
    """One Status entity (REST or streaming `update` payload) → Post, or a Reject saying why."""
    if not isinstance(obj, dict):
        return reject(source, line, RecordError("invalid-field", "a status must be a JSON object"), obj)
    try:
        return _status_to_post(obj, source)
    except RecordError as e:
        return reject(source, line, e, obj)


def records(obj: object, source: str, line: int | None) -> Iterator[Post | Reject]:
    """A decoded JSON value: one status or an array of them."""
    yield from each_item(obj, source, line, parse_mastodon_status)  # type: ignore[arg-type]

"""Reddit: listing JSON (`.json` of a subreddit or thread page) and Pushshift-style dumps.

Listing: `{"kind": "Listing", "data": {"children": [{"kind": "t1"|"t3", "data": {...}}]}}`, and
a thread page is the pair `[post_listing, comments_listing]` with replies nested under each
comment's `replies`. Dumps (Pushshift / Arctic Shift, NDJSON, often `.zst`) hold one bare
comment (`body`) or submission (`title` + `selftext`) per line. Removed or deleted bodies
carry no text and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...post import Post, Reject, make_id
from ._common import RecordError, as_str, check_size, invalid, missing, parse_time, reject

_GONE = {"[removed]", "[deleted]"}


def _thing_to_post(d: dict, kind: str, source: str) -> Post | None:
    rid = as_str(d.get("id"))
    name = as_str(d.get("name"))
    if not name:
        if not rid:
            raise missing("id", "reddit item")
        name = f"{kind}_{rid}"
    rid = rid or name.split("_", 1)[-1]
    if kind == "t1":
        if "body" not in d:
            raise missing("body", "comment")
        text = d.get("body")
        if not isinstance(text, str):
            raise invalid("body", text)
        if text.strip() in _GONE:
            return None
    else:
        title = d.get("title")
        if not isinstance(title, str):
            raise missing("title", "submission")
        body = d.get("selftext") or ""
        if not isinstance(body, str):
            raise invalid("selftext", body)
        text = title if not body.strip() or body.strip() in _GONE else f"{title}\n\n{body}"
    check_size(text)
    created = parse_time(d.get("created_utc", d.get("created")), "created_utc")
    author = d.get("author")
    author = f"u/{author}" if isinstance(author, str) and author and author not in _GONE else None
    permalink = d.get("permalink")
    if isinstance(permalink, str) and permalink:
        url = permalink if permalink.startswith("http") else "https://www.reddit.com" + permalink
    elif kind == "t1" and isinstance(d.get("link_id"), str):
        url = f"https://www.reddit.com/comments/{d['link_id'].split('_', 1)[-1]}/_/{rid}/"
    else:
        url = f"https://www.reddit.com/comments/{rid}/" if kind == "t3" else None
    parent = as_str(d.get("parent_id")) if kind == "t1" else None
    cross = as_str(d.get("crosspost_parent")) if kind == "t3" else None
    return Post(
        id=make_id("reddit", name),
        platform="reddit",
        text=text,
        created_at=created,
        url=url,
        author=author,
        lang=None,
        reply_to=make_id("reddit", parent) if parent else None,
        quote_of=make_id("reddit", cross) if cross else None,
        source=source,
    )


class _Counter:
    def __init__(self) -> None:
        self.n = 0


def _walk(obj: object, source: str, line: int | None, c: _Counter) -> Iterator[Post | Reject]:
    if isinstance(obj, list):
        for item in obj:
            yield from _walk(item, source, line, c)
        return
    if not isinstance(obj, dict):
        c.n += 1
        yield reject(source, line or c.n, RecordError("invalid-field", "expected a Reddit listing or item"), obj)
        return
    kind = obj.get("kind")
    if kind == "Listing":
        data = obj.get("data")
        children = data.get("children") if isinstance(data, dict) else None
        if not isinstance(children, list):
            c.n += 1
            yield reject(source, line or c.n, missing("data.children", "Listing"), obj)
            return
        yield from _walk(children, source, line, c)
        return
    if kind in ("t1", "t3") and isinstance(obj.get("data"), dict):
        d = obj["data"]
    elif kind == "more":
        return
    elif "kind" not in obj:  # a bare dump record
        d = obj
        kind = "t1" if "body" in d else "t3"
    else:
        return  # t2 (accounts), t5 (subreddits) ...: not posts
    c.n += 1
    try:
        post = _thing_to_post(d, kind, source)
    except RecordError as e:
        yield reject(source, line or c.n, e, d)
    else:
        if post is not None:
            yield post
    replies = d.get("replies")
    if isinstance(replies, dict):
        yield from _walk(replies, source, line, c)


def records(obj: object, source: str, line: int | None) -> Iterator[Post | Reject]:
    """A decoded JSON value: a listing, a thread page pair, a thing, or a dump record."""
    yield from _walk(obj, source, line, _Counter())

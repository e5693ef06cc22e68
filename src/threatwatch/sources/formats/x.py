"""X (Twitter) API v2 responses: `{"data": [...], "includes": {"users", "tweets"}, "meta"}`.

A file may hold one response page, an array of pages, or one page (or one bare tweet object)
per line, as collectors write them. The author handle comes from `includes.users` by
`author_id` (the v2 tweet itself has only the numeric id); long posts carry their full text in
`note_tweet.text`; `referenced_tweets` gives reply / quote links. A retweet stands for the
retweeted tweet when the page includes it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...post import Post, Reject, make_id
from ._common import RecordError, as_str, check_size, invalid, missing, parse_time, reject


def _tweet_to_post(tw: dict, users: dict[str, str], source: str) -> Post:
    tid = as_str(tw.get("id"))
    if not tid:
        raise missing("id", "tweet")
    note = tw.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) and isinstance(note.get("text"), str) else tw.get("text")
    if text is None:
        raise missing("text", "tweet")
    if not isinstance(text, str):
        raise invalid("text", text)
    check_size(text)
    created = parse_time(tw.get("created_at"), "created_at")
    author_id = as_str(tw.get("author_id"))
    username = users.get(author_id) if author_id else None
    if username is None and isinstance(tw.get("author"), dict):  # some collectors inline the user
        username = tw["author"].get("username")
    reply_to = quote_of = None
    for ref in tw.get("referenced_tweets") or []:
        if not isinstance(ref, dict) or not ref.get("id"):
            continue
        if ref.get("type") == "replied_to":
            reply_to = make_id("x", as_str(ref["id"]) or "")
        elif ref.get("type") == "quoted":
            quote_of = make_id("x", as_str(ref["id"]) or "")
    url = f"https://x.com/{username}/status/{tid}" if username else f"https://x.com/i/web/status/{tid}"
    return Post(
        id=make_id("x", tid),
        platform="x",
        text=text,
        created_at=created,
        url=url,
        author=f"@{username}" if username else None,
        lang=tw.get("lang") or None,
        reply_to=reply_to,
        quote_of=quote_of,
        source=source,
    )


def _page(page: dict, source: str, line: int | None, start: int) -> Iterator[Post | Reject]:
    inc = page.get("includes") if isinstance(page.get("includes"), dict) else {}
    users = {as_str(u.get("id")) or "": u.get("username") for u in inc.get("users") or [] if isinstance(u, dict)}
    included = {as_str(t.get("id")): t for t in inc.get("tweets") or [] if isinstance(t, dict)}
    data = page.get("data")
    tweets = data if isinstance(data, list) else [data]
    for i, tw in enumerate(tweets, start=start):
        where = line if line is not None else i
        if not isinstance(tw, dict):
            yield reject(source, where, RecordError("invalid-field", "'data' entries must be tweet objects"), tw)
            continue
        for ref in tw.get("referenced_tweets") or []:
            if isinstance(ref, dict) and ref.get("type") == "retweeted" and as_str(ref.get("id")) in included:
                tw = included[as_str(ref.get("id"))]
                break
        try:
            yield _tweet_to_post(tw, users, source)  # type: ignore[arg-type]
        except RecordError as e:
            yield reject(source, where, e, tw)


def records(obj: object, source: str, line: int | None) -> Iterator[Post | Reject]:
    """A decoded JSON value: a response page, an array of pages, or a bare tweet."""
    items = obj if isinstance(obj, list) else [obj]
    n = 1
    for item in items:
        if not isinstance(item, dict):
            yield reject(source, line or n, RecordError("invalid-field", "expected an API v2 page or tweet"), item)
            n += 1
            continue
        if "data" in item:
            if item.get("data") is None:  # an empty result page ("meta": {"result_count": 0})
                continue
            count = len(item["data"]) if isinstance(item["data"], list) else 1
            yield from _page(item, source, line, n)
            n += count
        elif "id" not in item and ("meta" in item or "errors" in item):
            continue  # an empty page, or one holding only API errors: nothing to read
        else:
            yield from _page({"data": item}, source, line, n)
            n += 1

"""The one record that flows through every stage: a public post as published.

Every source turns its platform's format into a `Post`; every later stage reads it.
`id` is globally unique ("platform:native_id") so that re-ingesting a post is detected.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

MAX_TEXT_BYTES = 100_000  # posts larger than this are rejected, not truncated


class Post(msgspec.Struct, kw_only=True):
    """A public post. `text` is kept exactly as published; folding happens elsewhere."""

    id: str  # "<platform>:<native id>", e.g. "bluesky:at://did:plc:x/app.bsky.feed.post/3k"
    platform: str  # bluesky | mastodon | x | reddit | telegram | rss | csv | jsonl ...
    text: str
    created_at: datetime  # timezone-aware, UTC
    url: str | None = None
    author: str | None = None  # the public handle as shown (never resolved further)
    lang: str | None = None  # as declared by the platform, or detected in normalise
    reply_to: str | None = None  # id/uri of the parent post, if a reply
    quote_of: str | None = None  # id/uri of the quoted post, if a quote
    source: str = ""  # where it came from: a file path or a stream name
    received_at: float | None = None  # unix time the pipeline saw it (for latency)


def make_id(platform: str, native_id: str | int) -> str:
    """Build the global post id used for de-duplication."""
    return f"{platform}:{native_id}"


def utc(dt: datetime) -> datetime:
    """Return `dt` as an aware UTC datetime (naive times are taken as UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


class Reject(msgspec.Struct, kw_only=True):
    """An input that could not become a Post; kept with where it was and why."""

    source: str  # file path or stream name
    line: int | None  # 1-based line (or record index) where the bad input sits
    reason: str  # short machine-friendly reason, e.g. "malformed-json"
    detail: str = ""  # human message naming the field / problem
    sample: str = ""  # the first bytes of the bad input, for debugging

"""Bluesky Jetstream event lines (the JSON the Jetstream websocket sends, one event a line).

Only `commit` events that `create` an `app.bsky.feed.post` become posts; identity, account,
delete, like, follow... events are skipped, not rejected (a Jetstream dump holds them all).
Lines are decoded straight into typed structs with msgspec — this is the hot path of the
throughput benchmark — and only a line that fails is decoded again generically to say why.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import msgspec

from ...post import Post, Reject, make_id
from ._common import RecordError, check_size, each_item, from_unix, missing, parse_time, reject

POST_COLLECTION = "app.bsky.feed.post"


class StrongRef(msgspec.Struct):
    """com.atproto.repo.strongRef: a link to one version of a record."""

    uri: str | None = None
    cid: str | None = None


class ReplyRef(msgspec.Struct):
    root: StrongRef | None = None
    parent: StrongRef | None = None


class EmbedRecord(msgspec.Struct):
    """app.bsky.embed.record ({record: strongRef}) and recordWithMedia ({record: {record: strongRef}})."""

    uri: str | None = None
    record: StrongRef | None = None


class Embed(msgspec.Struct):
    type: str | None = msgspec.field(default=None, name="$type")
    record: EmbedRecord | None = None


class PostRecord(msgspec.Struct):
    """The app.bsky.feed.post lexicon fields we use (others are ignored)."""

    type: str | None = msgspec.field(default=None, name="$type")
    text: str | None = None
    createdAt: str | None = None
    langs: list[str] | None = None
    reply: ReplyRef | None = None
    embed: Embed | None = None


class Commit(msgspec.Struct):
    rev: str | None = None
    operation: str | None = None
    collection: str | None = None
    rkey: str | None = None
    record: PostRecord | None = None
    cid: str | None = None


class Event(msgspec.Struct):
    did: str | None = None
    time_us: int | None = None
    kind: str | None = None
    commit: Commit | None = None


_DECODER = msgspec.json.Decoder(Event)


def _quote_uri(embed: Embed | None) -> str | None:
    if embed is None or embed.record is None:
        return None
    rec = embed.record
    if rec.uri:  # app.bsky.embed.record
        return rec.uri
    if rec.record is not None and rec.record.uri:  # app.bsky.embed.recordWithMedia
        return rec.record.uri
    return None


def _utc_iso(s: str) -> datetime | None:
    """Fast path for the form nearly every post carries ("2026-11-07T19:39:16.294Z"): the same
    datetime `parse_time` returns, without its checks for other forms; None for anything else."""
    if len(s) < 20 or s[-1] != "Z" or s[4:5] != "-" or not s[:1].isdigit():
        return None
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return None


def event_to_post(ev: Event, source: str) -> Post | None:
    """Turn a decoded event into a Post, None for events that are not new posts.

    Raises RecordError when a post-create event lacks what a post needs.
    """
    if ev.kind != "commit":
        return None
    c = ev.commit
    if c is None:
        raise missing("commit", "commit event")
    if c.collection != POST_COLLECTION or c.operation != "create":
        return None
    did = ev.did
    if not did:
        raise missing("did", "event")
    if not c.rkey:
        raise missing("commit.rkey", "event")
    r = c.record
    if r is None:
        raise missing("commit.record", "create event")
    if r.text is None:
        raise missing("commit.record.text", "post record")
    check_size(r.text)
    created: datetime | None = None
    if r.createdAt:
        created = _utc_iso(r.createdAt)
        if created is None:
            try:
                created = parse_time(r.createdAt, "commit.record.createdAt")
            except RecordError:
                created = None  # client-declared and sometimes bogus; fall back to the relay time
    if created is None:
        if ev.time_us is None:
            raise missing("commit.record.createdAt", "post record")
        created = from_unix(ev.time_us / 1e6)
    uri = f"at://{did}/{POST_COLLECTION}/{c.rkey}"
    reply = r.reply
    return Post(
        id=make_id("bluesky", uri),
        platform="bluesky",
        text=r.text,
        created_at=created,
        url=f"https://bsky.app/profile/{did}/post/{c.rkey}",
        author=did,  # Jetstream carries no handle; the DID is the public account id as shown
        lang=r.langs[0] if r.langs else None,
        reply_to=reply.parent.uri if reply is not None and reply.parent is not None else None,
        quote_of=_quote_uri(r.embed),
        source=source,
    )


def parse_jetstream_line(raw: bytes, source: str, line: int) -> Post | Reject | None:
    """Fast path for one event line; JSON-level failures are raised to the caller.

    Raises msgspec.DecodeError / UnicodeDecodeError for lines that are not JSON, so the file
    reader can tell malformed, truncated and invalid-UTF-8 lines apart in one place.
    """
    try:
        ev = _DECODER.decode(raw)
    except msgspec.ValidationError as e:
        return Reject(source=source, line=line, reason="invalid-field", detail=f"Jetstream event: {e}",
                      sample=raw[:200].decode("utf-8", "replace"))
    try:
        return event_to_post(ev, source)
    except RecordError as e:
        return reject(source, line, e, raw)


def parse_jetstream_event(obj: dict, source: str, line: int) -> Post | Reject | None:
    """One already-decoded Jetstream event (as the live client receives it) → Post / Reject / None."""
    if not isinstance(obj, dict):
        return reject(source, line, RecordError("invalid-field", "Jetstream event must be a JSON object"), obj)
    try:
        ev = msgspec.convert(obj, Event)
    except msgspec.ValidationError as e:
        return reject(source, line, RecordError("invalid-field", f"Jetstream event: {e}"), obj)
    try:
        return event_to_post(ev, source)
    except RecordError as e:
        return reject(source, line, e, obj)


def records(obj: object, source: str, line: int | None) -> Iterator[Post | Reject]:
    """A decoded JSON value holding one event or a list of events."""
    yield from each_item(obj, source, line, parse_jetstream_event)  # type: ignore[arg-type]

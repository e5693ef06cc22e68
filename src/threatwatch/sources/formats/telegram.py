"""Telegram Desktop "Export chat history" JSON (`result.json`).

Scope: only PUBLIC channels and groups (`public_channel`, `public_supergroup`) — what anyone
can read without joining. Exports of private chats, private groups, bots or saved messages
are refused with one `not-public` reject: the product does not process non-public content.
Both the single-chat export (`{"name", "type", "id", "messages": [...]}`) and the full-account
export (`{"chats": {"list": [...]}}`, of which only public chats are read) are accepted.
Service messages (joins, pins...) are skipped. `text` is a string or a list of strings and
entity objects; it is flattened to plain text.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...post import Post, Reject, make_id
from ._common import RecordError, as_str, check_size, from_unix, invalid, missing, parse_time, reject

PUBLIC_TYPES = {"public_channel", "public_supergroup"}


def flatten_text(value: object) -> str:
    """Telegram's `text` (str, or list of str / {"type", "text"} entities) → plain text."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        out: list[str] = []
        for part in value:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                out.append(part["text"])
        return "".join(out)
    raise invalid("text", value)


def _message_to_post(m: dict, chat_id: str, chat_name: str | None, source: str) -> Post | None:
    if m.get("type", "message") != "message":
        return None  # service messages
    mid = as_str(m.get("id"))
    if not mid:
        raise missing("id", "message")
    if "text" not in m and "text_entities" not in m:
        raise missing("text", "message")
    if "text" in m:
        text = flatten_text(m.get("text"))
    else:
        text = flatten_text(m.get("text_entities"))
    if not text.strip():
        return None  # a photo / sticker with no caption: nothing to read
    check_size(text)
    if m.get("date_unixtime") not in (None, ""):
        try:
            created = from_unix(float(m["date_unixtime"]))
        except (TypeError, ValueError):
            raise invalid("date_unixtime", m["date_unixtime"]) from None
    else:
        created = parse_time(m.get("date"), "date")  # local time of the exporting machine; taken as UTC
    author = m.get("from") if isinstance(m.get("from"), str) else chat_name
    reply = as_str(m.get("reply_to_message_id"))
    return Post(
        id=make_id("telegram", f"{chat_id}/{mid}"),
        platform="telegram",
        text=text,
        created_at=created,
        url=None,  # the export does not carry the channel's public username
        author=author,
        lang=None,
        reply_to=make_id("telegram", f"{chat_id}/{reply}") if reply else None,
        source=source,
    )


def _chat(chat: dict, source: str, where: int) -> Iterator[Post | Reject]:
    ctype = chat.get("type")
    name = chat.get("name") if isinstance(chat.get("name"), str) else None
    if ctype not in PUBLIC_TYPES:
        # the chat's name is left out on purpose: a private chat's name is not ours to record
        yield Reject(source=source, line=where, reason="not-public",
                     detail=f"Telegram chat of type {ctype!r} skipped; only public channels and groups "
                            f"({', '.join(sorted(PUBLIC_TYPES))}) are read")
        return
    chat_id = as_str(chat.get("id"))
    if not chat_id:
        yield reject(source, where, missing("id", "Telegram chat"), {k: chat.get(k) for k in ("name", "type")})
        return
    msgs = chat.get("messages")
    if not isinstance(msgs, list):
        yield reject(source, where, missing("messages", "Telegram chat"), {"name": name})
        return
    for i, m in enumerate(msgs, start=1):
        if not isinstance(m, dict):
            yield reject(source, i, RecordError("invalid-field", "messages must be objects"), m)
            continue
        try:
            post = _message_to_post(m, chat_id, name, source)
        except RecordError as e:
            yield reject(source, i, e, m)
            continue
        if post is not None:
            yield post


def records(obj: object, source: str, line: int | None) -> Iterator[Post | Reject]:
    """A decoded export document. Rejects inside a chat carry the message's index (1-based)."""
    if not isinstance(obj, dict):
        yield reject(source, line or 1, RecordError("invalid-field", "a Telegram export is a JSON object"), obj)
        return
    chats = obj.get("chats")
    if isinstance(chats, dict) and isinstance(chats.get("list"), list):
        skipped = 0
        for i, chat in enumerate(chats["list"], start=1):
            if isinstance(chat, dict):
                if chat.get("type") in PUBLIC_TYPES:
                    yield from _chat(chat, source, i)
                else:
                    skipped += 1
        if skipped:
            yield Reject(source=source, line=None, reason="not-public",
                         detail=f"{skipped} non-public chat(s) in this account export skipped; only public "
                                f"channels and groups ({', '.join(sorted(PUBLIC_TYPES))}) are read")
        return
    yield from _chat(obj, source, line or 1)

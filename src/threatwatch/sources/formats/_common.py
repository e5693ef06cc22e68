"""Helpers every format parser shares: times, size limits and reject construction.

Kept in one place so that every format names problems the same way (reason codes are
what the closing summary and the store group by).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import msgspec

from ...post import MAX_TEXT_BYTES, Post, Reject

SAMPLE_BYTES = 200


class RecordError(Exception):
    """A record that cannot become a Post; carries the reject reason and a detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def missing(field: str, what: str = "record") -> RecordError:
    """The record lacks a required field; `field` is named in the detail."""
    return RecordError("missing-field", f"{what} has no '{field}' field (required)")


def invalid(field: str, value: object) -> RecordError:
    """A field is present but unusable (wrong type, unparseable time...)."""
    return RecordError("invalid-field", f"field '{field}' is invalid: {str(value)[:80]!r}")


def sample_of(raw: bytes | str | object) -> str:
    """First bytes of a bad input, as readable text, for the reject's `sample`."""
    if isinstance(raw, bytes):
        return raw[:SAMPLE_BYTES].decode("utf-8", errors="replace")
    if isinstance(raw, str):
        return raw[:SAMPLE_BYTES]
    try:
        return msgspec.json.encode(raw)[:SAMPLE_BYTES].decode("utf-8", errors="replace")
    except (TypeError, msgspec.EncodeError):
        return repr(raw)[:SAMPLE_BYTES]


def reject(source: str, line: int | None, err: RecordError, raw: object = b"") -> Reject:
    """Build a Reject from a RecordError."""
    return Reject(source=source, line=line, reason=err.reason, detail=err.detail, sample=sample_of(raw))


def check_size(text: str) -> None:
    """Raise `too-large` if the post text is over MAX_TEXT_BYTES of UTF-8."""
    if len(text) * 4 > MAX_TEXT_BYTES:  # cheap bound first; encode only when it could be over
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > MAX_TEXT_BYTES:
            raise RecordError("too-large", f"post text is {size} bytes, over the {MAX_TEXT_BYTES}-byte limit")


_UNIX_RE = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


def from_unix(value: float) -> datetime:
    """Unix time in seconds, milliseconds or microseconds (told apart by size) → UTC."""
    v = float(value)
    if abs(v) > 1e14:
        v /= 1e6
    elif abs(v) > 1e11:
        v /= 1e3
    return datetime.fromtimestamp(v, tz=UTC)


def parse_time(value: object, field: str) -> datetime:
    """Parse the time formats platforms and exports use into an aware UTC datetime.

    Accepts ISO 8601 / RFC 3339 (with 'Z' or an offset; naive = UTC), unix seconds / ms / µs
    as numbers or digit strings, RFC 2822 and the old Twitter 'Wed Oct 10 20:19:24 +0000 2018'.
    """
    if value is None or value == "":
        raise missing(field)
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        if isinstance(value, (int, float)):
            return from_unix(value)
        if isinstance(value, datetime):
            dt = value
        elif isinstance(value, str):
            s = value.strip()
            if _UNIX_RE.match(s):
                return from_unix(float(s))
            try:
                dt = datetime.fromisoformat(s)
            except ValueError:
                try:
                    dt = datetime.strptime(s, "%a %b %d %H:%M:%S %z %Y")
                except ValueError:
                    dt = parsedate_to_datetime(s)
        else:
            raise ValueError(value)
    except (ValueError, TypeError, OverflowError, OSError):
        raise invalid(field, value) from None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def as_str(value: object) -> str | None:
    """A field value as a string id (ints become digits), or None when absent/empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


__all__ = [
    "Post", "RecordError", "Reject", "as_str", "check_size", "from_unix", "invalid",
    "missing", "parse_time", "reject", "sample_of",
]


def each_item(obj: object, source: str, line: int | None,
              parse: Callable[[object, str, int], Post | Reject | None]) -> Iterator[Post | Reject]:
    """A decoded JSON value holding one record or a list of them, each parsed by `parse`; a
    record in a list is numbered by its position when the value has no line of its own."""
    items = obj if isinstance(obj, list) else [obj]
    for i, item in enumerate(items, start=1):
        res = parse(item, source, line if line is not None else i)
        if res is not None:
            yield res

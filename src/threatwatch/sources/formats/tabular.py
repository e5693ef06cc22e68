"""Generic CSV and JSONL with a column mapping (the CLI's --text-col, --id-col ... flags).

For data from tools that already flattened posts. A record without an id gets a stable id
hashed from its content (so re-ingesting the file is still idempotent); a record without a
usable time is rejected naming the column — a guessed time would corrupt the weekly counts.
JSONL columns may be dotted paths ("user.screen_name").
"""

from __future__ import annotations

import hashlib

import msgspec

from ...post import Post, make_id
from ._common import RecordError, as_str, check_size, invalid, missing, parse_time


class ColumnMapping(msgspec.Struct, kw_only=True):
    """Which column holds each Post field. `platform` is a fixed label for every row."""

    id: str = "id"
    text: str = "text"
    created_at: str = "created_at"
    author: str = "author"
    url: str = "url"
    lang: str = "lang"
    platform: str | None = None  # None → "csv" / "jsonl"; e.g. "x" for an exported tweet table


def _get(row: dict, col: str) -> object:
    if col in row:
        return row[col]
    if "." in col:
        cur: object = row
        for part in col.split("."):
            if not isinstance(cur, dict) or part not in cur:
                return None
            cur = cur[part]
        return cur
    return None


def has_column(row: dict, col: str) -> bool:
    return _get(row, col) is not None or col in row


def row_to_post(row: dict, m: ColumnMapping, fmt: str, source: str, raw: bytes | str) -> Post:
    """One CSV row (header → value) or JSONL object → Post; RecordError names the column."""
    platform = m.platform or fmt
    text = _get(row, m.text)
    if text is None or (not has_column(row, m.text)):
        raise missing(m.text, f"{fmt} record")
    if not isinstance(text, str):
        raise invalid(m.text, text)
    check_size(text)
    created = _get(row, m.created_at)
    if created is None or created == "":
        raise missing(m.created_at, f"{fmt} record")
    created_at = parse_time(created, m.created_at)
    native = as_str(_get(row, m.id))
    if native is None:
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        native = "h" + hashlib.sha1(data.strip()).hexdigest()[:16]
    author = as_str(_get(row, m.author))
    url = as_str(_get(row, m.url))
    lang = as_str(_get(row, m.lang))
    return Post(
        id=make_id(platform, native),
        platform=platform,
        text=text,
        created_at=created_at,
        url=url,
        author=author,
        lang=lang,
        source=source,
    )




def mapping_from_options(*, text: str | None = None, id: str | None = None, created_at: str | None = None,
                         author: str | None = None, url: str | None = None, lang: str | None = None,
                         platform: str | None = None) -> ColumnMapping:
    """A ColumnMapping from CLI flags; flags left unset keep the default column names."""
    given = {"text": text, "id": id, "created_at": created_at, "author": author, "url": url, "lang": lang}
    m = ColumnMapping(**{k: v for k, v in given.items() if v})  # type: ignore[arg-type]
    m.platform = platform or None
    return m


__all__ = ["ColumnMapping", "RecordError", "mapping_from_options", "row_to_post"]

"""File sources: every platform's export / API format, sniffed from the first bytes.

`read_file` turns one file (or stdin, "-") into a stream of `Post` and `Reject`; a bad line
never stops the run — it becomes a Reject with the file, the 1-based line (or record index
in whole-document formats) and a reason code:

    unreadable, empty-file, unknown-format, malformed-json, malformed-csv, invalid-utf8,
    missing-field, invalid-field, too-large, truncated, not-public

Line formats (Jetstream, NDJSON of statuses / X pages / Reddit dump records, JSONL, CSV) are
streamed line by line in binary with a bounded line length (MAX_LINE_BYTES), so multi-GB
dumps (plain, `.zst` or `.gz`, told by their magic bytes) run in constant memory; a
compressed file cut short yields what it holds and then a `truncated` reject. Whole-document JSON (a pretty-printed Telegram
export, X response page, Mastodon timeline array, Reddit listing) is loaded whole, up to
MAX_DOCUMENT_BYTES. A file whose first non-blank line is a complete JSON value is read as
one JSON value per line; otherwise as one document.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from ..post import Post, Reject
from .formats import jetstream, mastodon, reddit, telegram, x
from .formats._common import RecordError, reject, sample_of
from .formats.jetstream import parse_jetstream_event, parse_jetstream_line
from .formats.mastodon import parse_mastodon_status
from .formats.tabular import ColumnMapping, mapping_from_options, row_to_post

FORMATS = ("jetstream", "mastodon", "x", "reddit", "telegram", "csv", "jsonl")
HEAD_BYTES = 64 * 1024
MAX_LINE_BYTES = 16 * 1024 * 1024  # a longer line is rejected as too-large without parsing it
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024  # whole-document JSON larger than this is rejected
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"
STDIN_NAME = "<stdin>"

_RECORDS: dict[str, Callable[[object, str, int | None], Iterator[Post | Reject]]] = {
    "jetstream": jetstream.records,
    "mastodon": mastodon.records,
    "x": x.records,
    "reddit": reddit.records,
    "telegram": telegram.records,
}


# --------------------------------------------------------------------------- detection


def _sniff_obj(o: object) -> str | None:
    if isinstance(o, list):
        # The first item may itself be the bad one (a status without content): look further.
        return next((f for f in map(_sniff_obj, o[:20]) if f), None)
    if not isinstance(o, dict):
        return None
    if "did" in o and ("kind" in o or "time_us" in o):
        return "jetstream"
    kind = o.get("kind")
    if kind == "Listing" or (kind in ("t1", "t3") and isinstance(o.get("data"), dict)):
        return "reddit"
    if "subreddit" in o and ("body" in o or "title" in o):
        return "reddit"
    if ("messages" in o and ("type" in o or "name" in o)) or isinstance(o.get("chats"), dict):
        return "telegram"
    if "data" in o and ({"includes", "meta", "matching_rules"} & o.keys() or _sniff_obj(o["data"]) == "x"):
        return "x"
    if "author_id" in o or "edit_history_tweet_ids" in o:
        return "x"
    if "account" in o and "content" in o:
        return "mastodon"
    if "reblog" in o and "uri" in o:
        return "mastodon"
    if "text" in o:
        return "jsonl"
    return None


_BYTE_RULES: list[tuple[str, list[re.Pattern[bytes]]]] = [
    ("telegram", [re.compile(rb'"messages"\s*:\s*\['), re.compile(rb'"type"\s*:\s*"\w+_(channel|supergroup|group|chat)"')]),
    ("telegram", [re.compile(rb'"chats"\s*:\s*\{')]),
    ("reddit", [re.compile(rb'"kind"\s*:\s*"Listing"')]),
    ("jetstream", [re.compile(rb'"did"\s*:'), re.compile(rb'"time_us"\s*:')]),
    ("x", [re.compile(rb'"author_id"\s*:|"edit_history_tweet_ids"\s*:|"includes"\s*:\s*\{')]),
    ("mastodon", [re.compile(rb'"account"\s*:\s*\{'), re.compile(rb'"content"\s*:')]),
    ("reddit", [re.compile(rb'"subreddit"\s*:'), re.compile(rb'"(body|selftext)"\s*:')]),
    ("jsonl", [re.compile(rb'"text"\s*:')]),
]


def _first_line(head: bytes) -> tuple[int, bytes]:
    """(1-based line number, content) of the first non-blank line in `head`."""
    for i, ln in enumerate(head.split(b"\n"), start=1):
        if ln.strip():
            return i, ln.strip()
    return 0, b""


def detect_format(path: str, head: bytes) -> str | None:
    """Guess a file's format from its name and first (decompressed) bytes; None if unknown."""
    name = os.path.basename(path).lower()
    for ext in (".zst", ".gz"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    if name.endswith((".csv", ".tsv")):
        return "csv"
    head = head.removeprefix(b"\xef\xbb\xbf")
    _, first = _first_line(head)
    if not first:
        return None
    if first[:1] in (b"{", b"["):
        try:
            obj = msgspec.json.decode(first)
        except (msgspec.DecodeError, UnicodeDecodeError):
            obj = None
        if obj is not None:
            return _sniff_obj(obj)
        for fmt, pats in _BYTE_RULES:
            if all(p.search(head) for p in pats):
                return fmt
        return None
    if not name.endswith((".json", ".jsonl", ".ndjson")):
        try:
            header = next(csv.reader([first.decode("utf-8")], delimiter="\t" if b"\t" in first else ","))
        except (UnicodeDecodeError, csv.Error, StopIteration):
            return None
        if len(header) > 1 and any(h.strip().lower() in ("text", "body", "content", "message") for h in header):
            return "csv"
    return None


# --------------------------------------------------------------------------- byte streams


class _Raw(io.RawIOBase):
    """Serves `head` then the rest of a byte source; remembers why the source ended early."""

    def __init__(self, head: bytes, read: Callable[[int], bytes]) -> None:
        self._buf = memoryview(head)
        self._read = read
        self.truncated = False
        self.error: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview) -> int:  # type: ignore[override]
        if not self._buf:
            try:
                self._buf = memoryview(self._read(len(b)))
            except EOFError:
                self.truncated = True
                return 0
            except (OSError, ValueError) as e:  # zstd / gzip corruption, I/O errors
                if "truncat" in str(e).lower() or "end of" in str(e).lower():
                    self.truncated = True
                else:
                    self.error = str(e)
                return 0
            if not self._buf:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class _Decompressed:
    """Streaming decompression of concatenated frames (zstd) or members (gzip) that flags input
    ending mid-frame. Done by hand rather than with GzipFile or a stream reader so that the
    data before a cut is still served."""

    def __init__(self, f: io.BufferedIOBase, new: Callable[[], Any], errors: tuple[type[BaseException], ...],
                 what: str, unit: str) -> None:
        self._f = f
        self._new = new
        self._errors = errors
        self._what, self._unit = what, unit
        self._d = new()
        self._fed = False
        self._pending = b""

    def read(self, n: int) -> bytes:
        while True:
            chunk = self._pending or self._f.read(1 << 20)
            self._pending = b""
            if not chunk:
                if self._fed and not self._d.eof:
                    raise EOFError(f"{self._what} stream ends mid-{self._unit}")
                return b""
            self._fed = True
            try:
                out = self._d.decompress(chunk)
            except self._errors as e:
                raise ValueError(f"{self._what} data is corrupt: {e}") from None
            if self._d.eof:
                self._pending = self._d.unused_data
                self._d = self._new()
                self._fed = False
            if out:
                return out


def _zstd(f: io.BufferedIOBase) -> _Decompressed:
    import zstandard

    dctx = zstandard.ZstdDecompressor(max_window_size=2**31)
    return _Decompressed(f, dctx.decompressobj, (zstandard.ZstdError,), "zstd", "frame")


def _gzip(f: io.BufferedIOBase) -> _Decompressed:
    return _Decompressed(f, lambda: zlib.decompressobj(wbits=31), (zlib.error,), "gzip", "member")


def _open(path: str) -> tuple[Callable[[int], bytes], Callable[[], None]]:
    """A read function over the file's decompressed bytes, and a close function."""
    f: io.BufferedIOBase = sys.stdin.buffer if path == "-" else open(path, "rb")  # type: ignore[assignment]
    close = (lambda: None) if path == "-" else f.close
    magic = f.peek(4)[:4] if hasattr(f, "peek") else b""
    low = path.lower()
    if magic == _ZSTD_MAGIC or (low.endswith(".zst") and not magic):
        return _zstd(f).read, close
    if magic[:2] == _GZIP_MAGIC:
        return _gzip(f).read, close
    return f.read, close


# --------------------------------------------------------------------------- readers


def _bad_json(source: str, line: int, raw: bytes, exc: Exception, last: bool) -> Reject:
    """Say precisely why a JSON line failed."""
    if isinstance(exc, UnicodeDecodeError):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as ue:
            exc = ue
        return Reject(source=source, line=line, reason="invalid-utf8",
                      detail=f"invalid UTF-8 at byte {exc.start} of the line", sample=sample_of(raw))
    msg = str(exc)
    if "truncated" in msg and last:
        return Reject(source=source, line=line, reason="truncated",
                      detail="the file ends in the middle of a JSON value (last line cut)", sample=sample_of(raw))
    if "truncated" in msg:
        msg = "the line ends in the middle of a JSON value"
    return Reject(source=source, line=line, reason="malformed-json", detail=msg, sample=sample_of(raw))


def _lines(stream: io.BufferedReader, source: str, start_line: int) -> Iterator[tuple[int, bytes, bool] | Reject]:
    """(line number, line, is-last-without-newline) for non-blank lines; over-long lines → Reject."""
    readline = stream.readline
    lineno = 0
    while True:
        raw = readline(MAX_LINE_BYTES)
        if not raw:
            return
        lineno += 1
        if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
            size = len(raw)
            while True:  # skip the rest of the over-long line
                more = readline(MAX_LINE_BYTES)
                size += len(more)
                if not more or more.endswith(b"\n"):
                    break
            if lineno > start_line:
                yield Reject(source=source, line=lineno, reason="too-large",
                             detail=f"line is {size} bytes, over the {MAX_LINE_BYTES}-byte line limit",
                             sample=sample_of(raw))
            continue
        if lineno <= start_line or raw.isspace():
            continue
        yield lineno, raw, not raw.endswith(b"\n")


def _read_json_lines(stream: io.BufferedReader, fmt: str, source: str, start_line: int,
                     mapping: ColumnMapping) -> Iterator[Post | Reject]:
    decode = msgspec.json.decode
    for item in _lines(stream, source, start_line):
        if isinstance(item, Reject):
            yield item
            continue
        lineno, raw, last = item
        if fmt == "jetstream":
            try:
                res = parse_jetstream_line(raw, source, lineno)
            except (msgspec.DecodeError, UnicodeDecodeError) as e:
                yield _bad_json(source, lineno, raw, e, last)
                continue
            if res is not None:
                yield res
            continue
        try:
            obj = decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            yield _bad_json(source, lineno, raw, e, last)
            continue
        if fmt == "jsonl":
            yield from _jsonl_records(obj, mapping, source, lineno, raw)
        else:
            yield from _RECORDS[fmt](obj, source, lineno)


def _jsonl_records(obj: object, mapping: ColumnMapping, source: str, line: int | None,
                   raw: bytes | None) -> Iterator[Post | Reject]:
    items = obj if isinstance(obj, list) else [obj]
    for i, row in enumerate(items, start=1):
        where = line if line is not None else i
        # Several records on one line (a JSON array): say which one, or the rejects look like repeats.
        item = f"item {i} of the array: " if line is not None and isinstance(obj, list) else ""
        if not isinstance(row, dict):
            yield reject(source, where, RecordError("invalid-field", f"{item}a JSONL record must be a JSON object"), row)
            continue
        try:
            yield row_to_post(row, mapping, "jsonl", source, raw if raw is not None and len(items) == 1
                              else msgspec.json.encode(row))
        except RecordError as e:
            if item:
                e = RecordError(e.reason, item + e.detail)
            yield reject(source, where, e, raw if raw is not None else row)


def _complete(line: bytes) -> bool:
    try:
        msgspec.json.decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return False
    return True


def _read_document(stream: io.BufferedReader, fmt: str, source: str, start_line: int,
                   mapping: ColumnMapping) -> Iterator[Post | Reject]:
    data = stream.read(MAX_DOCUMENT_BYTES + 1).removeprefix(b"\xef\xbb\xbf")
    if len(data) > MAX_DOCUMENT_BYTES:
        yield Reject(source=source, line=None, reason="too-large",
                     detail=f"a whole-document {fmt} JSON file must be under {MAX_DOCUMENT_BYTES} bytes; "
                            "split it or convert it to one JSON value per line")
        return
    try:
        obj = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        if isinstance(e, UnicodeDecodeError):
            pos = e.start
        else:
            m = re.search(r"\(byte (\d+)\)", str(e))
            pos = int(m.group(1)) if m else len(data)
        lines = [ln for ln in data.split(b"\n", 3)[:3] if ln.strip()]
        if len(lines) >= 2 and _complete(lines[1]):
            # NDJSON whose first line is cut: read it line by line after all
            yield from _read_json_lines(io.BufferedReader(io.BytesIO(data)), fmt, source, start_line, mapping)  # type: ignore[arg-type]
            return
        line = data.count(b"\n", 0, pos) + 1
        start = data.rfind(b"\n", 0, pos) + 1
        end = data.find(b"\n", pos)
        yield _bad_json(source, line, data[start: end if end >= 0 else len(data)], e, "truncated" in str(e))
        return
    del data
    items = _jsonl_records(obj, mapping, source, None, None) if fmt == "jsonl" else _RECORDS[fmt](obj, source, None)
    for n, item in enumerate(items, start=1):
        if n > start_line:
            yield item


def _absent_columns(header: list[str], mapping: ColumnMapping) -> list[str]:
    """Required columns (text, time) that the CSV header lacks, quoted for the message."""
    return [repr(c) for c in (mapping.text, mapping.created_at) if c not in header]


def _read_csv(stream: io.BufferedReader, source: str, start_line: int, mapping: ColumnMapping,
              delimiter: str | None) -> Iterator[Post | Reject]:
    csv.field_size_limit(MAX_LINE_BYTES)
    rejects: list[Reject] = []
    state = {"line": 0}

    def text_lines() -> Iterator[str]:
        for raw in iter(lambda: stream.readline(MAX_LINE_BYTES), b""):
            state["line"] += 1
            try:
                yield raw.decode("utf-8-sig" if state["line"] == 1 else "utf-8")
            except UnicodeDecodeError as e:
                rejects.append(Reject(source=source, line=state["line"], reason="invalid-utf8",
                                      detail=f"invalid UTF-8 at byte {e.start} of the line", sample=sample_of(raw)))

    lines = text_lines()
    reader = csv.reader(lines, delimiter=delimiter or ",", strict=True)
    header: list[str] | None = None
    prev_end = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            yield from rejects
            rejects.clear()
            at_eof = "end of data" in str(e) or "EOF" in str(e)
            yield Reject(source=source, line=prev_end + 1, reason="truncated" if at_eof else "malformed-csv",
                         detail=f"CSV: {e}")
            prev_end = state["line"]
            continue
        yield from rejects
        rejects.clear()
        row_line, prev_end = prev_end + 1, state["line"]
        if header is None:
            header = [h.strip() for h in row]
            absent = _absent_columns(header, mapping)
            if absent:
                # One reject for the file, not one per row: a wrong --text-col on a million-row
                # export would otherwise fill the rejects table with the same message.
                yield Reject(source=source, line=row_line, reason="missing-column",
                             detail=f"the header has no {' and no '.join(absent)} column; columns are: "
                                    f"{', '.join(header) or '(none)'} (map them with --text-col / --time-col)",
                             sample=sample_of(",".join(row)))
                return
            continue
        if not row or all(not c.strip() for c in row):
            continue
        if row_line <= start_line:
            continue
        if len(row) > len(header):
            yield Reject(source=source, line=row_line, reason="malformed-csv",
                         detail=f"row has {len(row)} fields, the header has {len(header)}", sample=sample_of(",".join(row)))
            continue
        rec = dict(zip(header, row, strict=False))
        try:
            yield row_to_post(rec, mapping, "csv", source, "\x1f".join(row))
        except RecordError as e:
            yield reject(source, row_line, e, ",".join(row))
    yield from rejects


def read_file(path: str, fmt: str | None = None, *, mapping: ColumnMapping | None = None,
              start_line: int = 0, skip_items: int = 0) -> Iterator[Post | Reject]:
    """Read one file ("-" = stdin) as `fmt` (sniffed when None) → Posts and Rejects.

    Resuming after a checkpoint, two ways: `start_line` skips lines up to and including it
    without parsing them (for whole-document formats: that many yielded records); `skip_items`
    drops the first N yielded Posts/Rejects — exact whatever the format, for a checkpoint
    that counts records (one line may hold many posts, e.g. an X page).
    """
    items = _read_file(path, fmt, mapping, start_line)
    if skip_items > 0:
        items = itertools.islice(items, skip_items, None)
    return items


def _read_file(path: str, fmt: str | None, mapping: ColumnMapping | None,
               start_line: int) -> Iterator[Post | Reject]:
    source = STDIN_NAME if path == "-" else path
    mapping = mapping or ColumnMapping()
    if fmt is not None and fmt not in FORMATS:
        yield Reject(source=source, line=None, reason="unknown-format",
                     detail=f"format {fmt!r} is not one of {', '.join(FORMATS)}")
        return
    try:
        read, close = _open(path)
    except OSError as e:
        yield Reject(source=source, line=None, reason="unreadable", detail=f"cannot open: {e.strerror or e}")
        return
    try:
        raw = _Raw(b"", read)
        try:
            head = b""
            while len(head) < HEAD_BYTES:
                chunk = raw.read(HEAD_BYTES - len(head))
                if not chunk:
                    break
                head += chunk
        except OSError as e:
            yield Reject(source=source, line=None, reason="unreadable", detail=f"cannot read: {e.strerror or e}")
            return
        if raw.error:
            yield Reject(source=source, line=None, reason="unreadable", detail=raw.error)
            return
        if not head.strip():
            if raw.truncated:
                yield Reject(source=source, line=None, reason="truncated", detail="compressed data ends early")
            else:
                yield Reject(source=source, line=None, reason="empty-file", detail="the file has no content")
            return
        detected = fmt or detect_format(path if path != "-" else "", head)
        if detected is None:
            first_no, first = _first_line(head.removeprefix(b"\xef\xbb\xbf"))
            yield Reject(source=source, line=first_no or 1, reason="unknown-format",
                         detail=f"cannot tell the format from the first line; pass --format "
                                f"({', '.join(FORMATS)})", sample=sample_of(first))
            return
        raw2 = _Raw(head, raw.read)
        stream = io.BufferedReader(raw2, buffer_size=1 << 20)
        if detected == "csv":
            name = path.lower().removesuffix(".zst").removesuffix(".gz")
            delim = "\t" if name.endswith(".tsv") else None
            if delim is None:
                _, first = _first_line(head)
                if b"\t" in first and b"," not in first:
                    delim = "\t"
            yield from _read_csv(stream, source, start_line, mapping, delim)
        else:
            first = _first_line(head.removeprefix(b"\xef\xbb\xbf"))[1]
            try:
                msgspec.json.decode(first)
                whole = False
            except (msgspec.DecodeError, UnicodeDecodeError) as e:
                # an incomplete value on the first line: a pretty-printed document follows
                whole = "truncated" in str(e)
            if detected == "jetstream":
                whole = False
            if whole:
                yield from _read_document(stream, detected, source, start_line, mapping)
            else:
                yield from _read_json_lines(stream, detected, source, start_line, mapping)
        if raw.truncated or raw2.truncated:
            yield Reject(source=source, line=None, reason="truncated",
                         detail="compressed data ends in the middle of a frame; the end of the file is missing")
        elif raw.error or raw2.error:
            yield Reject(source=source, line=None, reason="unreadable", detail=str(raw.error or raw2.error))
    finally:
        close()


def _expand(paths: list[str]) -> Iterator[str]:
    for p in paths:
        if p != "-" and os.path.isdir(p):
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if not f.startswith("."):
                        yield os.path.join(root, f)
        else:
            yield p


def read_inputs(paths: list[str], fmt: str | None = None, *, mapping: ColumnMapping | None = None
                ) -> Iterator[Post | Reject]:
    """Read several inputs in order (directories are walked, sorted); each file sniffed alone."""
    for p in _expand(paths):
        yield from read_file(p, fmt, mapping=mapping)


__all__ = [
    "FORMATS", "MAX_DOCUMENT_BYTES", "MAX_LINE_BYTES", "ColumnMapping", "detect_format", "mapping_from_options",
    "parse_jetstream_event", "parse_mastodon_status", "read_file", "read_inputs",
]

"""Bluesky full relay firehose: `com.atproto.sync.subscribeRepos`, resumable by sequence number.

For users who need the complete, signed stream rather than Jetstream's JSON digest. Every
websocket message is a DAG-CBOR frame (header + body, decoded with the atproto library's
`Frame`); `#commit` bodies carry a CAR file of blocks (decoded with `libipld`, the atproto
library's codec) and a list of ops; each `create` of an `app.bsky.feed.post` becomes a Post
(through the same record mapping as Jetstream, so both sources yield identical posts and
ids). The checkpoint is the relay's `seq`; a restart asks for `cursor=seq` and the store
drops the overlap. Reconnects back off with jitter. Several relays may be listed for
failover, but sequence numbers are per relay, so a failover resumes live on the next relay.

Note: we parse bodies as plain dicts rather than atproto's pydantic models, which are too
slow for the full firehose on two cores; commit signatures are not verified here.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

import libipld
import websockets
from atproto_subscription.frames import ErrorFrame, Frame

from ..post import Post, Reject
from .formats.jetstream import POST_COLLECTION, parse_jetstream_event
from .jetstream import Backoff, websocket_urls

DEFAULT_URL = "wss://bsky.network"
NSID = "com.atproto.sync.subscribeRepos"
_SAMPLE = 120


def subscribe_url(base: str, cursor: int | None) -> str:
    parts = urlsplit(base)
    path = parts.path.rstrip("/")
    if not path.endswith(NSID):
        path = (path if path.endswith("/xrpc") else path + "/xrpc") + "/" + NSID
    query = urlencode({"cursor": cursor}) if cursor is not None else ""
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def _time_us(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp() * 1e6)
    except ValueError:
        return None


class FirehoseSource:
    """A resumable subscribeRepos subscription yielding new posts."""

    def __init__(self, urls: Sequence[str] = (DEFAULT_URL,), *, backoff: Backoff | None = None,
                 open_timeout: float = 10.0, name: str | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.urls = websocket_urls(urls, "FirehoseSource needs at least one relay URL", "firehose")
        self.name = name or f"firehose:{self.urls[0]}"
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self.reconnects = 0
        self.frames = 0
        self.host = self.urls[0]
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))

    def _reject(self, why: str, raw: bytes | str) -> Reject:
        sample = raw[:_SAMPLE].hex() if isinstance(raw, bytes) else raw[:_SAMPLE]
        return Reject(source=self.name, line=self.frames, reason="malformed-frame",
                      detail=f"frame {self.frames} from {self.host}: {why}", sample=sample)

    def commit_posts(self, body: dict) -> list[Post | Reject]:
        """The posts a #commit body creates (other ops and collections are skipped)."""
        ops = body.get("ops") or []
        creates = [op for op in ops if isinstance(op, dict) and op.get("action") == "create"
                   and str(op.get("path", "")).startswith(POST_COLLECTION + "/")]
        if not creates:
            return []
        repo = body.get("repo")
        blocks_raw = body.get("blocks")
        if not isinstance(repo, str) or not isinstance(blocks_raw, bytes):
            return [self._reject("#commit without 'repo' or 'blocks'", repr(body)[:_SAMPLE])]
        try:
            _hdr, blocks = libipld.decode_car(blocks_raw)
        except Exception as e:
            return [self._reject(f"#commit blocks are not a CAR file ({e})", blocks_raw)]
        out: list[Post | Reject] = []
        t_us = _time_us(body.get("time"))
        for op in creates:
            record = blocks.get(op.get("cid")) if isinstance(op.get("cid"), bytes) else None
            if not isinstance(record, dict):
                out.append(self._reject(f"op {op.get('path')}: record block missing from the CAR", repr(op)[:_SAMPLE]))
                continue
            rkey = str(op["path"]).split("/", 1)[1]
            ev = {"did": repo, "time_us": t_us, "kind": "commit",
                  "commit": {"operation": "create", "collection": POST_COLLECTION, "rkey": rkey, "record": record,
                             "rev": body.get("rev")}}
            res = parse_jetstream_event(ev, self.name, self.frames)
            if res is not None:
                out.append(res)
        return out

    async def stream(self, start: str | None) -> AsyncIterator[tuple[object, str | None]]:
        """Yield (Post | Reject | None, seq) forever, reconnecting as needed."""
        cursor: int | None = None
        if start:
            try:
                cursor = int(start)
            except ValueError:
                self.log(f"{self.name}: stored checkpoint {start!r} is not a sequence number; starting live")
        host_i = 0
        while True:
            self.host = self.urls[host_i % len(self.urls)]
            got_any = False
            try:
                async with websockets.connect(subscribe_url(self.host, cursor), open_timeout=self.open_timeout,
                                              max_size=2 ** 24, ping_interval=20, ping_timeout=20,
                                              close_timeout=2, compression=None) as ws:
                    # dead peers are detected by websocket pings (20 s), not by a per-message
                    # timeout: that would also fire while we wait on backpressure
                    async for msg in ws:
                        self.frames += 1
                        if not got_any:
                            got_any = True
                            self.backoff.reset()
                        if isinstance(msg, str):
                            yield self._reject("text frame; subscribeRepos sends binary DAG-CBOR", msg), None
                            continue
                        try:
                            frame = Frame.from_bytes(msg)
                        except Exception as e:
                            yield self._reject(f"not a DAG-CBOR frame ({type(e).__name__}: {e})", msg), None
                            continue
                        if isinstance(frame, ErrorFrame):
                            err = getattr(frame.body, "error", "?")
                            self.log(f"{self.name}: relay error {err}: {getattr(frame.body, 'message', '')}")
                            if err == "FutureCursor":
                                cursor = None  # our cursor is ahead of the relay: take it live
                            break
                        body = frame.body
                        seq = body.get("seq") if isinstance(body, dict) else None
                        pos = None
                        if isinstance(seq, int) and not isinstance(seq, bool):
                            cursor = seq
                            pos = str(seq)
                        if frame.type != "#commit":
                            yield None, pos  # #identity, #account, #sync, #info: nothing to judge
                            continue
                        items = self.commit_posts(body)
                        if not items:
                            yield None, pos
                        for k, item in enumerate(items):
                            yield item, pos if k == len(items) - 1 else None
                    self.log(f"{self.name}: {self.host} closed the stream")
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as e:
                why = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                self.log(f"{self.name}: connection to {self.host} lost ({why})")
            self.reconnects += 1
            if not got_any and len(self.urls) > 1:
                host_i += 1
                if cursor is not None:
                    # sequence numbers are per relay: another relay's cursor means nothing
                    self.log(f"{self.name}: failing over to {self.urls[host_i % len(self.urls)]}; "
                             f"seq {cursor} is not valid there, resuming live (posts in the gap are missed)")
                    cursor = None
            delay = self.backoff.next()
            self.log(f"{self.name}: reconnecting in {delay:.1f}s" + (f" from seq {cursor}" if cursor is not None else ""))
            await asyncio.sleep(delay)

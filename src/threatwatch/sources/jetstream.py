"""Bluesky Jetstream, live: a websocket client of `/subscribe` that resumes from a cursor.

Jetstream sends one JSON event per websocket message; `time_us` (microseconds) is the cursor.
The position we checkpoint is the `time_us` of the last event read (post or not), so a
restart resumes there, rewound `rewind_s` seconds because Jetstream hosts stamp events on
their own clocks and a few events around the cut may not have been stored; the store drops
posts it already counted, so the overlap costs nothing but a little work.

Reconnects use exponential backoff with full jitter (so many clients do not reconnect in
step) and fail over across the given hosts. With `compress=true` Jetstream sends binary zstd
frames made with its own dictionary; pass that dictionary's bytes (`--zstd-dict FILE`, the
`zstd_dictionary` file from the Jetstream repository) to enable it. Without it we ask for
plain JSON.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
import websockets

from ..post import Reject
from .formats.jetstream import POST_COLLECTION, parse_jetstream_event

DEFAULT_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
PUBLIC_HOSTS = (
    "wss://jetstream1.us-east.bsky.network/subscribe",
    "wss://jetstream2.us-east.bsky.network/subscribe",
    "wss://jetstream1.us-west.bsky.network/subscribe",
    "wss://jetstream2.us-west.bsky.network/subscribe",
)
_SAMPLE = 200


class Backoff:
    """Exponential backoff with full jitter: delay in [base*2^n/2, base*2^n], capped."""

    def __init__(self, base: float = 0.5, cap: float = 60.0, rand: Callable[[], float] = random.random) -> None:
        self.base, self.cap, self.rand, self.attempt = base, cap, rand, 0

    def next(self) -> float:
        d = min(self.cap, self.base * (2 ** self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return d * (0.5 + 0.5 * self.rand())

    def reset(self) -> None:
        self.attempt = 0


def subscribe_url(base: str, *, cursor: int | None, collections: Sequence[str], dids: Sequence[str],
                  compress: bool) -> str:
    """The /subscribe URL with our query (keeps any query the user put on the base URL)."""
    parts = urlsplit(base)
    path = parts.path if parts.path and parts.path != "/" else "/subscribe"
    q = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("cursor", "compress")]
    have = {k for k, _ in q}
    if "wantedCollections" not in have:
        q += [("wantedCollections", c) for c in collections]
    q += [("wantedDids", d) for d in dids]
    if compress:
        q.append(("compress", "true"))
    if cursor is not None:
        q.append(("cursor", str(cursor)))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(q), ""))


def websocket_urls(urls: Sequence[str], empty: str, label: str) -> list[str]:
    """The source's host list, checked at construction so a typo fails before any connect."""
    if not urls:
        raise ValueError(empty)
    for u in urls:
        if not u.startswith(("ws://", "wss://")):
            raise ValueError(f"{label} URL {u!r} must start with ws:// or wss://")
    return list(urls)


class JetstreamSource:
    """A resumable Jetstream subscription across one or more hosts."""

    def __init__(self, urls: Sequence[str] = (DEFAULT_URL,), *, wanted_dids: Sequence[str] = (),
                 collections: Sequence[str] = (POST_COLLECTION,), zstd_dict: bytes | None = None,
                 rewind_s: float = 5.0, backoff: Backoff | None = None, open_timeout: float = 10.0,
                 name: str | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.urls = websocket_urls(urls, "JetstreamSource needs at least one URL", "Jetstream")
        self.name = name or f"jetstream:{self.urls[0].split('?')[0]}"
        self.wanted_dids = list(wanted_dids)
        self.collections = list(collections)
        self.rewind_us = int(rewind_s * 1_000_000)
        self.backoff = backoff or Backoff()
        self.open_timeout = open_timeout
        self.reconnects = 0
        self.frames = 0
        self.host = self.urls[0]
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))
        self._decompress = None
        if zstd_dict is not None:
            import zstandard

            d = zstandard.ZstdCompressionDict(zstd_dict)
            dctx = zstandard.ZstdDecompressor(dict_data=d)
            self._decompress = lambda b: dctx.decompressobj().decompress(b)

    def _decode(self, msg: bytes | str) -> tuple[dict | None, Reject | None]:
        """One websocket message → the event dict, or a Reject saying why not."""
        self.frames += 1
        raw: bytes
        if isinstance(msg, str):
            raw = msg.encode("utf-8", "surrogatepass")
        elif self._decompress is not None:
            try:
                raw = self._decompress(msg)
            except Exception as e:
                return None, Reject(source=self.name, line=self.frames, reason="malformed-frame",
                                    detail=f"frame {self.frames} from {self.host}: zstd: {e}",
                                    sample=msg[:_SAMPLE].hex())
        else:
            raw = msg
        try:
            obj = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError) as e:
            return None, Reject(source=self.name, line=self.frames, reason="malformed-frame",
                                detail=f"frame {self.frames} from {self.host}: not JSON ({e})",
                                sample=raw[:_SAMPLE].decode("utf-8", "replace"))
        if not isinstance(obj, dict):
            return None, Reject(source=self.name, line=self.frames, reason="malformed-frame",
                                detail=f"frame {self.frames} from {self.host}: event is not a JSON object",
                                sample=raw[:_SAMPLE].decode("utf-8", "replace"))
        return obj, None

    async def stream(self, start: str | None) -> AsyncIterator[tuple[object, str | None]]:
        """Yield (Post | Reject | None, cursor) forever, reconnecting as needed."""
        cursor: int | None = None
        if start:
            try:
                cursor = max(0, int(start) - self.rewind_us)
            except ValueError:
                self.log(f"{self.name}: stored checkpoint {start!r} is not a time_us cursor; starting live")
        host_i = 0
        rewind_next = False
        while True:
            self.host = self.urls[host_i % len(self.urls)]
            if rewind_next and cursor is not None:
                cursor = max(0, cursor - self.rewind_us)  # another host's clock: overlap a little
            rewind_next = False
            url = subscribe_url(self.host, cursor=cursor, collections=self.collections, dids=self.wanted_dids,
                                compress=self._decompress is not None)
            got_any = False
            try:
                async with websockets.connect(url, open_timeout=self.open_timeout, max_size=2 ** 23,
                                              ping_interval=20, ping_timeout=20, close_timeout=2,
                                              compression=None) as ws:
                    # dead peers are detected by websocket pings (20 s), not by a per-message
                    # timeout: that would also fire while we wait on backpressure
                    async for msg in ws:
                        if not got_any:
                            got_any = True
                            self.backoff.reset()
                        obj, rej = self._decode(msg)
                        if rej is not None:
                            yield rej, None
                            continue
                        assert obj is not None
                        t = obj.get("time_us")
                        pos = None
                        if isinstance(t, int) and not isinstance(t, bool):
                            cursor = t
                            pos = str(t)
                        res = parse_jetstream_event(obj, self.name, self.frames)
                        if isinstance(res, Reject):
                            res.detail = f"{res.detail} (frame {self.frames}, time_us {t})"
                        yield res, pos
                    self.log(f"{self.name}: {self.host} closed the stream")
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as e:
                why = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                self.log(f"{self.name}: connection to {self.host} lost ({why})")
            self.reconnects += 1
            if not got_any and len(self.urls) > 1:
                host_i += 1  # this host did not serve us: try the next one
                rewind_next = True
            delay = self.backoff.next()
            self.log(f"{self.name}: reconnecting to {self.urls[host_i % len(self.urls)]} in {delay:.1f}s"
                     + (f" from cursor {cursor}" if cursor is not None else ""))
            await asyncio.sleep(delay)

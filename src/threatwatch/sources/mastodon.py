"""Mastodon, live: the streaming API (server-sent events) with REST gap-fill on reconnect.

Streams: `public` (federated), `public/local`, `hashtag?tag=` (and `hashtag/local`). Each
`event: update` carries a Status JSON; `delete`, `status.update` and other events are read
and skipped. The checkpoint is the highest status id read. On every (re)connect the stream
is opened first and then the REST timeline is read from that id onwards (`min_id`, pages of
40, oldest first) before the stream's events are consumed, so nothing published while we
were away or connecting is missed; overlaps are dropped by the store (ids are post ids).

Limits worth knowing: Mastodon ids are time-ordered snowflakes, so a remote status that
reaches the instance long after it was written can sort below the checkpoint and is not
gap-filled (the stream still delivers it live). Gap-fill reads at most `max_gap_pages`
pages per reconnect (default 50 = 2,000 statuses) so a week-long outage does not stall the
stream; the rest is reported in the log. Many instances require an access token for the
public streams: pass one (`--token-env VAR`), it is sent as a Bearer header.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from urllib.parse import quote

import httpx
import msgspec

from ..post import Reject
from .formats.mastodon import parse_mastodon_status
from .jetstream import Backoff

_SAMPLE = 200


def _id_key(sid: str) -> tuple[int, str]:
    """Order status ids numerically when they are numbers (Mastodon's are)."""
    return (int(sid), "") if sid.isdigit() else (0, sid)


def newer(a: str | None, b: str | None) -> str | None:
    """The larger of two status ids (None counts as smallest)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if _id_key(a) >= _id_key(b) else b


class MastodonSource:
    """A resumable Mastodon stream: public, local or hashtag."""

    def __init__(self, instance: str, *, stream: str = "public", tag: str | None = None, token: str | None = None,
                 backoff: Backoff | None = None, max_gap_pages: int = 50, read_timeout: float = 90.0,
                 name: str | None = None, log: Callable[[str], None] | None = None) -> None:
        if stream not in ("public", "public/local", "hashtag", "hashtag/local"):
            raise ValueError(f"Mastodon stream {stream!r}: use public, public/local, hashtag or hashtag/local")
        if stream.startswith("hashtag") and not tag:
            raise ValueError("a Mastodon hashtag stream needs a tag")
        base = instance if instance.startswith(("http://", "https://")) else f"https://{instance}"
        self.base = base.rstrip("/")
        self.stream_base: str | None = None  # discovered at first connect
        self.stream_kind = stream
        self.tag = tag.lstrip("#") if tag else None
        self.token = token
        self.backoff = backoff or Backoff(base=1.0, cap=120.0)
        self.max_gap_pages = max_gap_pages
        self.read_timeout = read_timeout  # Mastodon sends a heartbeat comment every ~15 s
        host = self.base.split("://", 1)[1]
        suffix = f"#{self.tag}" if self.tag else ""
        suffix += "/local" if stream.endswith("local") else ""
        self.name = name or f"mastodon:{host}{suffix}"
        self.reconnects = 0
        self.events = 0
        self.gap_filled = 0
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))

    @classmethod
    def from_spec(cls, spec: str, *, token: str | None = None, **kw: object) -> MastodonSource:
        """'INSTANCE', 'INSTANCE/local', 'INSTANCE#tag', 'INSTANCE#tag/local' (INSTANCE may be a URL)."""
        local = spec.endswith("/local")
        spec = spec.removesuffix("/local")
        inst, _, tag = spec.partition("#")
        if not inst:
            raise ValueError(f"mastodon:{spec}: no instance given")
        if tag:
            return cls(inst, stream="hashtag/local" if local else "hashtag", tag=tag, token=token, **kw)  # type: ignore[arg-type]
        return cls(inst, stream="public/local" if local else "public", token=token, **kw)  # type: ignore[arg-type]

    # -- HTTP ---------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        h = {"User-Agent": "threatwatch (+self-hosted monitor)"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h

    async def _discover_streaming(self, client: httpx.AsyncClient) -> None:
        """Big instances serve streaming from another host (e.g. streaming.mastodon.social);
        /api/v2/instance says which. Any failure keeps the instance's own host."""
        if self.stream_base is not None:
            return
        self.stream_base = self.base
        try:
            r = await client.get(f"{self.base}/api/v2/instance")
            if r.status_code == 200:
                url = ((r.json().get("configuration") or {}).get("urls") or {}).get("streaming")
                if isinstance(url, str) and url.startswith(("wss://", "ws://", "https://", "http://")):
                    url = url.replace("wss://", "https://", 1).replace("ws://", "http://", 1).rstrip("/")
                    if url != self.base:
                        self.log(f"{self.name}: streaming served from {url}")
                    self.stream_base = url
        except (httpx.HTTPError, ValueError, AttributeError):
            pass

    def _stream_url(self) -> str:
        url = f"{self.stream_base or self.base}/api/v1/streaming/{self.stream_kind}"
        return f"{url}?tag={quote(self.tag)}" if self.tag else url

    def _timeline_url(self) -> tuple[str, dict[str, str]]:
        local = self.stream_kind.endswith("local")
        if self.tag:
            return f"{self.base}/api/v1/timelines/tag/{quote(self.tag)}", ({"local": "true"} if local else {})
        return f"{self.base}/api/v1/timelines/public", ({"local": "true"} if local else {})

    async def _gap_fill(self, client: httpx.AsyncClient, since: str) -> AsyncIterator[tuple[object, str | None]]:
        """Statuses newer than `since`, oldest first, page by page."""
        url, params = self._timeline_url()
        cursor = since
        for page in range(self.max_gap_pages):
            r = await client.get(url, params={**params, "min_id": cursor, "limit": "40"})
            r.raise_for_status()
            try:
                items = msgspec.json.decode(r.content)
            except msgspec.DecodeError as e:
                yield Reject(source=self.name, line=None, reason="malformed-frame",
                             detail=f"gap-fill page {page + 1} from {url}: not JSON ({e})",
                             sample=r.content[:_SAMPLE].decode("utf-8", "replace")), None
                return
            if not isinstance(items, list) or not items:
                return
            items = [s for s in items if isinstance(s, dict) and isinstance(s.get("id"), str)]
            items.sort(key=lambda s: _id_key(s["id"]))
            for st in items:
                self.gap_filled += 1
                cursor = newer(cursor, st["id"]) or cursor
                yield parse_mastodon_status(st, self.name, self.events), cursor
            if len(items) < 40:
                return
        self.log(f"{self.name}: gap-fill stopped after {self.max_gap_pages} pages; older statuses are skipped")

    async def stream(self, start: str | None) -> AsyncIterator[tuple[object, str | None]]:
        """Yield (Post | Reject | None, last status id) forever, reconnecting and gap-filling."""
        last = start
        timeout = httpx.Timeout(connect=15.0, read=self.read_timeout, write=15.0, pool=15.0)
        while True:
            try:
                async with httpx.AsyncClient(headers=self._headers(), timeout=timeout, follow_redirects=True) as client:
                    await self._discover_streaming(client)
                    async with client.stream("GET", self._stream_url(),
                                             headers={"Accept": "text/event-stream"}) as resp:
                        if resp.status_code != 200:
                            body = (await resp.aread())[:200].decode("utf-8", "replace")
                            hint = " (this instance needs an access token: --token-env VAR)" \
                                if resp.status_code in (401, 403) else ""
                            raise httpx.HTTPStatusError(f"HTTP {resp.status_code} from {self._stream_url()}: "
                                                        f"{body}{hint}", request=resp.request, response=resp)
                        if last is not None:
                            async for item in self._gap_fill(client, last):
                                last = newer(last, item[1])
                                yield item
                        self.backoff.reset()
                        async for item in self._events(resp):
                            last = newer(last, item[1])
                            yield item[0], last if item[1] is not None else None
            except asyncio.CancelledError:
                raise
            except (httpx.HTTPError, OSError) as e:
                self.log(f"{self.name}: stream lost ({type(e).__name__}: {e})")
            self.reconnects += 1
            delay = self.backoff.next()
            self.log(f"{self.name}: reconnecting in {delay:.1f}s" + (f", then gap-fill from id {last}" if last else ""))
            await asyncio.sleep(delay)

    async def _events(self, resp: httpx.Response) -> AsyncIterator[tuple[object, str | None]]:
        """Parse the SSE stream: `event:` / `data:` lines, a blank line ends an event."""
        event, data = "", []
        async for line in resp.aiter_lines():
            if line == "":
                if data:
                    item = self._dispatch(event or "message", "\n".join(data))
                    if item is not None:
                        yield item
                event, data = "", []
                continue
            if line.startswith(":"):
                continue  # heartbeat comment
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)

    def _dispatch(self, event: str, payload: str) -> tuple[object, str | None] | None:
        self.events += 1
        if event != "update":
            return None  # delete, status.update, notification, filters_changed...
        try:
            obj = msgspec.json.decode(payload)
        except msgspec.DecodeError as e:
            return Reject(source=self.name, line=self.events, reason="malformed-frame",
                          detail=f"stream event {self.events} ({event}): data is not JSON ({e})",
                          sample=payload[:_SAMPLE]), None
        sid = obj.get("id") if isinstance(obj, dict) else None
        res = parse_mastodon_status(obj, self.name, self.events)
        if isinstance(res, Reject):
            res.detail = f"{res.detail} (stream event {self.events})"
        return res, sid if isinstance(sid, str) else None

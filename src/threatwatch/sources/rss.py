"""RSS 2.0 / Atom feeds, polled politely with ETag / If-Modified-Since.

Each poll sends the validators of the last good answer; a 304 costs the server nothing.
Every entry becomes a Post (platform `rss`, text = title + summary as plain text, the entry
link, its published/updated time). The checkpoint is a small JSON object: the validators
plus the ids of the most recent entries already read (bounded), so a restart neither
re-reads a whole feed nor misses entries. The validators are saved only with the poll's last
entry: if the watcher dies mid-poll, the next poll asks again and the store drops what it
already counted.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import feedparser
import httpx

from ..post import Post, Reject, make_id
from .formats._common import RecordError, check_size
from .formats.mastodon import html_to_text
from .jetstream import Backoff

SEEN_MAX = 1000  # entry ids remembered per feed (feeds hold tens of entries)


def _entry_time(e: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        t = e.get(key)
        if t:
            return datetime.fromtimestamp(calendar.timegm(t), tz=UTC)
    return None


def entry_to_post(e: feedparser.FeedParserDict, feed_url: str, source: str, index: int) -> Post | Reject:
    """One feed entry → Post, or a Reject naming the missing field."""
    eid = e.get("id") or e.get("guid") or e.get("link")
    if not eid:
        return Reject(source=source, line=index, reason="missing-field",
                      detail=f"feed entry {index} of {feed_url} has no id/guid/link", sample=str(e.get("title", ""))[:200])
    title = html_to_text(e.get("title") or "").strip()
    summary = ""
    if e.get("summary"):
        summary = html_to_text(e["summary"])
    elif e.get("content"):
        summary = html_to_text(e["content"][0].get("value", ""))
    text = f"{title}\n\n{summary}".strip() if summary and summary != title else title
    if not text:
        return Reject(source=source, line=index, reason="missing-field",
                      detail=f"feed entry {eid} of {feed_url} has neither title nor summary", sample=str(eid)[:200])
    try:
        check_size(text)
    except RecordError as err:
        return Reject(source=source, line=index, reason=err.reason, detail=err.detail, sample=text[:200])
    created = _entry_time(e) or datetime.now(UTC)
    return Post(id=make_id("rss", eid), platform="rss", text=text, created_at=created,
                url=e.get("link"), author=e.get("author") or None,
                lang=(e.get("language") or None), source=source)


class FeedSource:
    """Polls one feed every `interval` seconds; resumable from its JSON checkpoint."""

    def __init__(self, url: str, *, interval: float = 300.0, timeout: float = 30.0, name: str | None = None,
                 backoff: Backoff | None = None, log: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.name = name or f"rss:{url}"
        self.backoff = backoff or Backoff(base=30.0, cap=3600.0)
        self.reconnects = 0
        self.polls = 0
        self.not_modified = 0
        self.log = log or (lambda m: print(m, file=sys.stderr, flush=True))

    @staticmethod
    def _load(start: str | None) -> dict:
        if not start:
            return {"etag": None, "modified": None, "seen": []}
        try:
            cp = json.loads(start)
            return {"etag": cp.get("etag"), "modified": cp.get("modified"), "seen": list(cp.get("seen", []))}
        except (ValueError, AttributeError):
            return {"etag": None, "modified": None, "seen": []}

    async def poll_once(self, client: httpx.AsyncClient, cp: dict) -> AsyncIterator[tuple[object, str | None]]:
        """One conditional GET; yields new entries, then the checkpoint with fresh validators."""
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if cp["etag"]:
            headers["If-None-Match"] = cp["etag"]
        if cp["modified"]:
            headers["If-Modified-Since"] = cp["modified"]
        self.polls += 1
        r = await client.get(self.url, headers=headers)
        if r.status_code == 304:
            self.not_modified += 1
            return
        r.raise_for_status()
        parsed = feedparser.parse(r.content, response_headers={k.lower(): v for k, v in r.headers.items()})
        if parsed.bozo and not parsed.entries:
            yield Reject(source=self.name, line=None, reason="malformed-feed",
                         detail=f"{self.url}: not a usable RSS/Atom document ({parsed.get('bozo_exception')})",
                         sample=r.content[:200].decode("utf-8", "replace")), None
            return
        seen = list(cp["seen"])
        seen_set = set(seen)
        lang = parsed.feed.get("language")
        for i, e in enumerate(parsed.entries, start=1):
            key = e.get("id") or e.get("guid") or e.get("link")
            if key and key in seen_set:
                continue
            res = entry_to_post(e, self.url, self.name, i)
            if isinstance(res, Post) and res.lang is None and lang:
                res.lang = lang.split("-")[0].lower()
            if key:
                seen.append(key)
                seen_set.add(key)
            seen = seen[-SEEN_MAX:]
            yield res, json.dumps({"etag": cp["etag"], "modified": cp["modified"], "seen": seen})
        cp["seen"] = seen
        cp["etag"] = r.headers.get("etag")
        cp["modified"] = r.headers.get("last-modified")
        yield None, json.dumps(cp)

    async def stream(self, start: str | None) -> AsyncIterator[tuple[object, str | None]]:
        cp = self._load(start)
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=True,
                                     headers={"User-Agent": "threatwatch-feed/1 (+self-hosted monitor)"}) as client:
            while True:
                t0 = time.monotonic()
                try:
                    async for item in self.poll_once(client, cp):
                        yield item
                    self.backoff.reset()
                    wait = self.interval - (time.monotonic() - t0)
                except asyncio.CancelledError:
                    raise
                except (httpx.HTTPError, OSError) as e:
                    self.reconnects += 1
                    wait = max(self.interval, self.backoff.next())
                    self.log(f"{self.name}: poll failed ({type(e).__name__}: {e}); next try in {wait:.0f}s")
                await asyncio.sleep(max(0.0, wait))

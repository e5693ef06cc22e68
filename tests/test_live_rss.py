"""RSS/Atom polling against a local feed server honouring ETag / If-Modified-Since."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx

from threatwatch.post import Post, Reject
from threatwatch.sources.jetstream import Backoff
from threatwatch.sources.rss import FeedSource

FIX = Path(__file__).parent / "fixtures" / "live"
sys.path.insert(0, str(FIX))
from live_servers import FeedServer, atom_document, rss_document  # noqa: E402

ITEMS = [("a1", "Riverside School District budget approved", "The board voted 5-2 on Monday."),
         ("a2", "Snow closes Riverside schools", "All campuses closed &amp; buses cancelled."),
         ("a3", "Local bakery wins prize", "Nothing about schools.")]


def quiet(_m: str) -> None:
    pass


async def poll(src: FeedSource, cp: dict) -> tuple[list[object], str | None]:
    out, last = [], None
    async with httpx.AsyncClient() as client:
        async for rec, pos in src.poll_once(client, cp):
            if rec is not None:
                out.append(rec)
            last = pos or last
    return out, last


def test_conditional_polling_new_entries_only_and_resume() -> None:
    srv = FeedServer().start()
    try:
        srv.set("news.xml", rss_document(ITEMS))
        src = FeedSource(srv.url("news.xml"), log=quiet)
        cp = FeedSource._load(None)
        got, pos = asyncio.run(poll(src, cp))
        assert [p.id for p in got] == ["rss:a1", "rss:a2", "rss:a3"]  # type: ignore[union-attr]
        p = got[1]
        assert isinstance(p, Post) and p.platform == "rss" and p.url == "https://news.example/a2"
        assert p.text == "Snow closes Riverside schools\n\nAll campuses closed & buses cancelled."
        assert p.created_at.isoformat() == "2025-11-18T10:01:00+00:00"
        # unchanged feed: the validators come back and the server answers 304
        got, _ = asyncio.run(poll(src, cp))
        assert got == [] and src.not_modified == 1
        assert srv.requests[-1][1]["if-none-match"].startswith('"')
        # two new entries on top: only they are read
        srv.set("news.xml", rss_document([("a5", "Riverside School District hires", "x"),
                                          ("a4", "Riverside schools reopen", "y"), *ITEMS]))
        got, pos = asyncio.run(poll(src, cp))
        assert sorted(p.id for p in got) == ["rss:a4", "rss:a5"]  # type: ignore[union-attr]
        # a restart from the stored checkpoint asks with the same validators: nothing new
        src2 = FeedSource(srv.url("news.xml"), log=quiet)
        got, _ = asyncio.run(poll(src2, FeedSource._load(pos)))
        assert got == [] and src2.not_modified == 1
    finally:
        srv.stop()


def test_atom_feed_and_malformed_feed_and_retry() -> None:
    srv = FeedServer().start()
    try:
        srv.set("blog.atom", atom_document(ITEMS[:2]))
        src = FeedSource(srv.url("blog.atom"), log=quiet)
        got, _ = asyncio.run(poll(src, FeedSource._load(None)))
        assert [p.id for p in got] == ["rss:urn:uuid:a1", "rss:urn:uuid:a2"]  # type: ignore[union-attr]
        assert got[0].url == "https://blog.example/a1"  # type: ignore[union-attr]
        srv.set("bad.xml", "<html><body>this is not a feed <p>")
        bad = FeedSource(srv.url("bad.xml"), log=quiet)
        got, _ = asyncio.run(poll(bad, FeedSource._load(None)))
        assert len(got) == 1 and isinstance(got[0], Reject) and got[0].reason == "malformed-feed"
        assert srv.url("bad.xml") in got[0].detail

        # a failing server is retried by the stream loop, which goes on when it recovers
        srv.status_override["news.xml"] = 500
        srv.set("news.xml", rss_document(ITEMS))
        logs: list[str] = []
        flaky = FeedSource(srv.url("news.xml"), interval=0.01, backoff=Backoff(base=0.01, cap=0.02), log=logs.append)

        async def recover() -> None:
            while flaky.reconnects < 2:
                await asyncio.sleep(0.01)
            srv.status_override.pop("news.xml", None)

        async def run() -> list[object]:
            out: list[object] = []
            fixer = asyncio.create_task(recover())
            async for rec, _pos in flaky.stream(None):
                if isinstance(rec, Post):
                    out.append(rec)
                if len(out) == 3:
                    break
            await fixer
            return out
        got = asyncio.run(asyncio.wait_for(run(), 20))
        assert len(got) == 3 and flaky.reconnects >= 1 and any("500" in m for m in logs)
    finally:
        srv.stop()

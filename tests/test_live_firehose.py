"""Relay firehose (subscribeRepos) against a local relay sending real DAG-CBOR + CAR frames."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from threatwatch.config import load_watchlist
from threatwatch.judge import load_judge
from threatwatch.live import LiveRunner, PipelineSink, parse_source
from threatwatch.pipeline import Pipeline
from threatwatch.post import Post
from threatwatch.sources.firehose import FirehoseSource, subscribe_url
from threatwatch.sources.formats.jetstream import parse_jetstream_event
from threatwatch.sources.jetstream import Backoff
from threatwatch.store import open_store

FIX = Path(__file__).parent / "fixtures" / "live"
sys.path.insert(0, str(FIX))
from live_servers import (  # noqa: E402
    FirehoseReplay,
    firehose_commit,
    firehose_frame,
    firehose_identity,
    jetstream_post_event,
)

WATCHLIST = FIX / "watchlist.toml"


def quiet(_m: str) -> None:
    pass


def make_pipeline(db: Path) -> Pipeline:
    return Pipeline(load_watchlist(WATCHLIST), open_store(str(db)), load_judge("lexicon"))


def state(store) -> tuple:
    return (sorted(r[0] for r in store.query("SELECT key FROM seen")),
            sorted(store.query("SELECT target, hour, sentiment, lang, platform, n FROM agg")),
            sorted(store.query("SELECT post_id, target FROM alerts")))


def run_until(runner: LiveRunner, cond, timeout: float = 30.0) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        deadline = time.monotonic() + timeout

        def tick(_r: LiveRunner) -> None:
            if cond() or time.monotonic() > deadline:
                stop.set()
        await runner.run(stop, on_status=tick, status_every=0.05)
    asyncio.run(main())


def frames(n: int) -> list[tuple[int, bytes]]:
    out = []
    seq = 1000
    for i in range(n):
        seq += 1
        out.append((seq, firehose_commit(seq, i, extra_like=(i % 5 == 0))))
        if i % 10 == 9:
            seq += 1
            out.append((seq, firehose_identity(seq)))
    return out


def test_url() -> None:
    assert subscribe_url("wss://bsky.network", 5) == "wss://bsky.network/xrpc/com.atproto.sync.subscribeRepos?cursor=5"
    assert subscribe_url("ws://h:1/xrpc/com.atproto.sync.subscribeRepos", None).endswith("subscribeRepos")
    assert isinstance(parse_source("firehose"), FirehoseSource)


def test_commit_frames_become_the_same_posts_as_jetstream() -> None:
    src = FirehoseSource(["ws://unused"], log=quiet)
    from atproto_subscription.frames import Frame

    fr = Frame.from_bytes(firehose_commit(7, 3, extra_like=True))
    (p,) = src.commit_posts(fr.body)  # the like in the same commit is skipped
    want = parse_jetstream_event(jetstream_post_event(3), "x", 1)
    assert isinstance(p, Post) and isinstance(want, Post)
    assert (p.id, p.text, p.created_at, p.lang, p.url) == (want.id, want.text, want.created_at, want.lang, want.url)


def test_drop_malformed_restart_exactly_once(tmp_path: Path) -> None:
    fr = frames(300)
    bad = {40: b"\xff\x00not cbor", 41: firehose_frame({"op": 1, "t": "#commit"},
                                                        {"seq": 1, "repo": "did:plc:x", "blocks": b"notacar",
                                                         "ops": [{"action": "create", "path": "app.bsky.feed.post/a",
                                                                  "cid": b"\x01q"}]})}
    srv = FirehoseReplay(fr, drop_after=120, malformed=bad).start()
    db = tmp_path / "f.sqlite"
    last = str(fr[-1][0])
    try:
        pipe = make_pipeline(db)
        src = FirehoseSource([srv.url], backoff=Backoff(base=0.05, cap=0.1), log=quiet)
        run_until(LiveRunner([src], PipelineSink(pipe), batch_size=50, log=quiet),
                  lambda: pipe.store.get_checkpoint(src.name) == last)
        assert src.reconnects >= 1 and "cursor=" in srv.connections[1]
        assert pipe.store.get_checkpoint(src.name) == last
        rej = pipe.store.rejects()
        assert len(rej) == 2 and all(r["reason"] == "malformed-frame" for r in rej)
        assert any("DAG-CBOR" in r["detail"] for r in rej) and any("CAR" in r["detail"] for r in rej)
        pipe.store.close()
        # a restart resumes after the stored seq: nothing new, nothing counted twice
        pipe = make_pipeline(db)
        src = FirehoseSource([srv.url], log=quiet)
        runner = LiveRunner([src], PipelineSink(pipe), log=quiet)
        run_until(runner, lambda: len(srv.connections) >= 3, timeout=10)
        assert srv.connections[-1].endswith(f"cursor={last}")
        ref = make_pipeline(tmp_path / "ref.sqlite")
        ref.process_batch([p for i in range(300) if isinstance(p := parse_jetstream_event(jetstream_post_event(i), "r", i), Post)])
        assert state(pipe.store) == state(ref.store)
    finally:
        srv.stop()

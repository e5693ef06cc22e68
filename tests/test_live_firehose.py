"""Relay firehose (subscribeRepos) against a local relay sending real DAG-CBOR + CAR frames,
with commits signed in the test and keys served by a local PLC directory."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from threatwatch.config import load_watchlist
from threatwatch.judge import load_judge
from threatwatch.live import LiveRunner, PipelineSink, parse_source
from threatwatch.pipeline import Pipeline
from threatwatch.post import Post, Reject
from threatwatch.sources.firehose import FirehoseSource, subscribe_url
from threatwatch.sources.formats.jetstream import parse_jetstream_event
from threatwatch.sources.identity import DidKeyResolver
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

from test_sources_identity import Key, PlcDirectory, identity_frame, signed_commit  # noqa: E402

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
    src = parse_source("firehose")
    assert isinstance(src, FirehoseSource) and src.verify and src.urls == ["wss://bsky.network"]
    # verification is on by default; ?verify=0 turns it off without changing the checkpoint name
    off = parse_source("firehose:ws://h:1?verify=0")
    assert isinstance(off, FirehoseSource) and not off.verify and off.name == "firehose:ws://h:1"
    assert parse_source("firehose:ws://h:1").name == off.name
    assert not parse_source("firehose:?verify=0").verify  # type: ignore[attr-defined]
    two = parse_source("firehose:ws://a:1,ws://b:2?verify=1&plc=http://127.0.0.1:7")
    assert isinstance(two, FirehoseSource) and two.urls == ["ws://a:1", "ws://b:2"] and two.verify
    assert two.resolver is not None and two.resolver.plc_url == "http://127.0.0.1:7"
    try:
        parse_source("firehose:ws://h:1?verify=maybe")
        raise AssertionError("a bad verify value must be refused")
    except ValueError as e:
        assert "verify" in str(e)


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
        # these fixture commits are unsigned: this test runs with verification off (the speed switch)
        src = FirehoseSource([srv.url], backoff=Backoff(base=0.05, cap=0.1), log=quiet, verify=False)
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
        src = FirehoseSource([srv.url], log=quiet, verify=False)
        runner = LiveRunner([src], PipelineSink(pipe), log=quiet)
        run_until(runner, lambda: len(srv.connections) >= 3, timeout=10)
        assert srv.connections[-1].endswith(f"cursor={last}")
        ref = make_pipeline(tmp_path / "ref.sqlite")
        ref.process_batch([p for i in range(300) if isinstance(p := parse_jetstream_event(jetstream_post_event(i), "r", i), Post)])
        assert state(pipe.store) == state(ref.store)
    finally:
        srv.stop()


# -- verification --------------------------------------------------------------------------------
A, B = "did:plc:alice", "did:plc:bob"


@pytest.fixture(name="plc")
def _plc():
    d = PlcDirectory().start()
    yield d
    d.stop()


def collect(src: FirehoseSource, last: str, timeout: float = 20.0) -> list[tuple[object, str | None]]:
    """Read src.stream until the item at position `last`, then close it."""
    async def go() -> list[tuple[object, str | None]]:
        out: list[tuple[object, str | None]] = []
        agen = src.stream(None)
        try:
            async with asyncio.timeout(timeout):
                async for item, pos in agen:  # type: ignore[attr-defined]
                    out.append((item, pos))
                    if pos == last:
                        break
        finally:
            await agen.aclose()  # type: ignore[attr-defined]
            if src.resolver is not None:
                await src.resolver.aclose()
        return out
    return asyncio.run(go())


def test_bad_commits_are_rejected_and_the_stream_goes_on(plc: PlcDirectory) -> None:
    ka, kb, stranger = Key("k256"), Key("p256"), Key("k256")
    plc.set(A, ka)
    plc.set(B, kb)
    plc.hang.add("did:plc:slow")
    bad = [  # (commit, expected reject reason)
        (signed_commit(3, 2, ka, did=A, tamper=True), "bad-block"),  # record bytes ≠ CID
        (signed_commit(4, 3, stranger, did=A), "bad-signature"),  # signed with the wrong key
        (signed_commit(5, 4, ka, did="did:plc:nobody"), "unresolved-did"),  # the directory says 404
        (signed_commit(7, 6, ka, did=A, unproven=True), "bad-block"),  # the MST does not hold the record
        (signed_commit(8, 7, ka, did=A, commit_did=B), "bad-block"),  # commit for another repo
        (signed_commit(9, 8, ka, did="did:plc:slow"), "unresolved-did"),  # the directory never answers
        (signed_commit(10, 9, ka, did=A, high_s=True), "bad-signature"),  # malleable signature
    ]
    good = {1: (0, ka, A), 2: (1, kb, B)} | {seq: (seq, (ka, kb)[seq % 2], (A, B)[seq % 2]) for seq in range(11, 31)}
    frames = {seq: signed_commit(seq, i, k, did=did, extra_like=(seq % 4 == 0)) for seq, (i, k, did) in good.items()}
    frames |= {int(seq): fr for fr, _ in bad for seq in [_seq_of(fr)]}
    frames[6] = identity_frame(6, B)
    srv = FirehoseReplay(sorted(frames.items())).start()
    try:
        src = FirehoseSource([srv.url], log=quiet,
                             resolver=DidKeyResolver(plc.url, timeout=0.5, min_refetch=0))
        t0 = time.monotonic()
        got = collect(src, "30")
        took = time.monotonic() - t0
    finally:
        srv.stop()
    assert took < 10  # one directory timeout (0.5 s) does not stall the stream
    # relay order is kept (positions only grow), so a checkpoint never passes an unverified commit
    seqs = [int(p) for _, p in got if p is not None]
    assert seqs == list(range(1, 31))
    posts = [x for x, _ in got if isinstance(x, Post)]
    assert [p.id.rsplit("/", 1)[1] for p in posts] == [f"3k{good[s][0]:011d}" for s in sorted(good)]
    assert {p.id.split("/")[2] for p in posts} == {A, B}
    rejects = [x for x, _ in got if isinstance(x, Reject)]
    assert [r.reason for r in rejects] == [why for _, why in bad]
    for r, (fr, _) in zip(rejects, bad, strict=True):
        assert f"seq {_seq_of(fr)} " in r.detail and srv.url in r.detail and "repo did:plc:" in r.detail
        assert r.source == src.name
    assert "hash to its CID" in rejects[0].detail and "did not answer" in rejects[5].detail
    assert "404" in rejects[2].detail and "MST" in rejects[3].detail
    # A is looked up once, plus at most one refetch for the wrong-key commit (none if that commit
    # arrived while the first lookup was still running: it then waited for that fresh answer)
    assert 1 <= plc.requests[A] <= 2 and plc.requests["did:plc:nobody"] == 1
    assert src.verified == len(good) and src.failed == len(bad)


def _seq_of(frame: bytes) -> int:
    from atproto_subscription.frames import Frame

    return int(Frame.from_bytes(frame).body["seq"])


def test_key_rotation_refetches_once_and_identity_drops_the_key(plc: PlcDirectory) -> None:
    old_a, new_a, old_b, new_b = Key("k256"), Key("p256"), Key("p256"), Key("k256")
    now = [0.0]
    resolver = DidKeyResolver(plc.url, clock=lambda: now[0])  # min_refetch 5 s, ttl 1 h
    resolver.seed(A, old_a.did_key)  # as if fetched earlier
    resolver.seed(B, old_b.did_key)
    plc.set(A, new_a)  # both accounts have rotated their keys since
    plc.set(B, new_b)
    now[0] = 60.0
    frames = [(1, signed_commit(1, 1, old_a, did=A)),  # still the cached key: passes, no request
              (2, signed_commit(2, 2, new_a, did=A)),  # new key: cached one fails → one refetch → passes
              (3, signed_commit(3, 3, new_a, did=A)),  # cached now
              (4, identity_frame(4, B)),  # B's identity changed: its cached key is dropped
              (5, signed_commit(5, 5, new_b, did=B)),  # fresh fetch, not a refetch
              (6, signed_commit(6, 6, old_a, did=A))]  # the old key after rotation: refused, no new request
    srv = FirehoseReplay(frames).start()
    try:
        src = FirehoseSource([srv.url], log=quiet, resolver=resolver)
        got = collect(src, "6")
    finally:
        srv.stop()
    kinds = [(type(x).__name__, getattr(x, "reason", None)) for x, _ in got if x is not None]
    assert kinds == [("Post", None)] * 4 + [("Reject", "bad-signature")]
    assert plc.requests == {A: 1, B: 1} and resolver.refetches == 1
    assert resolver.cached(A) is not None and resolver.cached(A).did_key == new_a.did_key  # type: ignore[union-attr]


def test_verified_commits_reach_the_store_and_rejects_are_kept(tmp_path: Path, plc: PlcDirectory) -> None:
    ka = Key("k256")
    plc.set(A, ka)
    frames = [(s, signed_commit(s, s, ka, did=A)) for s in range(1, 41)]
    frames[9] = (10, signed_commit(10, 9, Key(), did=A))  # a forged commit in the middle
    srv = FirehoseReplay(frames, drop_after=25).start()  # and a dropped connection
    db = tmp_path / "v.sqlite"
    try:
        pipe = make_pipeline(db)
        src = FirehoseSource([srv.url], backoff=Backoff(base=0.05, cap=0.1), log=quiet,
                             resolver=DidKeyResolver(plc.url, min_refetch=0))
        run_until(LiveRunner([src], PipelineSink(pipe), batch_size=10, log=quiet),
                  lambda: pipe.store.get_checkpoint(src.name) == "40")
        assert pipe.store.get_checkpoint(src.name) == "40" and src.reconnects >= 1
        (rej,) = pipe.store.rejects()
        assert rej["reason"] == "bad-signature" and "seq 10" in rej["detail"] and A in rej["detail"]
        ref = make_pipeline(tmp_path / "ref.sqlite")
        ref.process_batch([p for i in range(1, 41) if i != 10
                           if isinstance(p := parse_jetstream_event(jetstream_post_event(i, did=A), "r", i), Post)])
        assert state(pipe.store) == state(ref.store)
    finally:
        srv.stop()

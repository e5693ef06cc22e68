"""Mastodon live source against a local server: SSE streaming API + REST gap-fill."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

from threatwatch.config import load_watchlist
from threatwatch.judge import load_judge
from threatwatch.live import CallbackSink, LiveRunner, PipelineSink, parse_source
from threatwatch.pipeline import Pipeline
from threatwatch.post import Post
from threatwatch.sources.formats.mastodon import parse_mastodon_status
from threatwatch.sources.jetstream import Backoff
from threatwatch.sources.mastodon import MastodonSource, newer
from threatwatch.store import open_store

FIX = Path(__file__).parent / "fixtures" / "live"
sys.path.insert(0, str(FIX))
from live_servers import MastodonServer, mastodon_status  # noqa: E402

WATCHLIST = FIX / "watchlist.toml"


def quiet(_m: str) -> None:
    pass


class Driver:
    """Runs a LiveRunner in a thread so the test can act on the server while it streams."""

    def __init__(self, runner: LiveRunner) -> None:
        self.runner = runner
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        await self.runner.run(self.stop)

    def __enter__(self) -> Driver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)
        assert not self.thread.is_alive()


def wait(cond, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def make_pipeline(db: Path) -> Pipeline:
    return Pipeline(load_watchlist(WATCHLIST), open_store(str(db)), load_judge("lexicon"))


def state(store) -> tuple:
    return (sorted(r[0] for r in store.query("SELECT key FROM seen")),
            sorted(store.query("SELECT target, hour, sentiment, lang, platform, n FROM agg")),
            sorted(store.query("SELECT post_id, target FROM alerts")))


def reference(statuses: list[dict], db: Path) -> tuple:
    pipe = make_pipeline(db)
    pipe.process_batch([p for s in statuses if isinstance(p := parse_mastodon_status(s, "ref", 0), Post)])
    return state(pipe.store)


def test_spec_parsing() -> None:
    s = MastodonSource.from_spec("mastodon.social#Elecciones/local", token="t")
    assert s.stream_kind == "hashtag/local" and s.tag == "Elecciones" and s.name == "mastodon:mastodon.social#Elecciones/local"
    p = parse_source("mastodon:https://social.example")
    assert isinstance(p, MastodonSource) and p.base == "https://social.example" and p.stream_kind == "public"
    assert newer("9", "10") == "10" and newer(None, "3") == "3"


def test_stream_drop_gap_fill_restart_malformed(tmp_path: Path) -> None:
    srv = MastodonServer().start()
    db = tmp_path / "m.sqlite"
    try:
        allst = [mastodon_status(i) for i in range(200)]
        pipe = make_pipeline(db)
        src = MastodonSource(srv.base, backoff=Backoff(base=0.05, cap=0.2), log=quiet)
        with Driver(LiveRunner([src], PipelineSink(pipe), batch_size=20, log=quiet)):
            wait(lambda: len(srv.stream_requests) == 1, what="stream connect")
            srv.publish(allst[:50])
            wait(lambda: pipe.store.get_checkpoint(src.name) == allst[49]["id"], what="first 50")
            srv.send_malformed("event: update\ndata: {broken json\n\n")
            srv.send_malformed("event: delete\ndata: 12345\n\n")  # other events are skipped, not rejected
            srv.drop_streams()
            srv.publish(allst[50:120])  # published while the client is reconnecting
            wait(lambda: pipe.store.get_checkpoint(src.name) == allst[119]["id"], what="gap-filled 120")
            assert src.reconnects >= 1 and src.gap_filled >= 1
            assert src.stream_base == srv.base and srv.instance_requests == 1  # discovered once
            assert any("min_id=" in u for u in srv.rest_requests)
        pipe.store.close()
        # stopped; more statuses are published; a restart gap-fills them from the checkpoint
        srv.publish(allst[120:200])
        pipe = make_pipeline(db)
        src = MastodonSource(srv.base, log=quiet)
        with Driver(LiveRunner([src], PipelineSink(pipe), log=quiet)):
            wait(lambda: pipe.store.get_checkpoint(src.name) == allst[199]["id"], what="all 200")
        rej = pipe.store.rejects()
        assert [r["reason"] for r in rej] == ["malformed-frame"] and "not JSON" in rej[0]["detail"]
        assert state(pipe.store) == reference(allst, tmp_path / "ref.sqlite")
    finally:
        srv.stop()


def test_hashtag_stream_with_token(tmp_path: Path) -> None:
    srv = MastodonServer(require_token="s3cret").start()
    try:
        got: list[Post] = []
        logs: list[str] = []
        bad = MastodonSource.from_spec(f"{srv.base}#escuelas", backoff=Backoff(base=5, cap=5), log=logs.append)
        good = MastodonSource.from_spec(f"{srv.base}#escuelas", token="s3cret", name="good",
                                        backoff=Backoff(base=0.05, cap=0.1), log=quiet)
        sink = CallbackSink(lambda s, items, p: got.extend(i for i in items if isinstance(i, Post)))
        with Driver(LiveRunner([bad, good], sink, log=quiet)):
            wait(lambda: len(srv.stream_requests) == 1 and any("401" in m for m in logs), what="connect")
            srv.publish([mastodon_status(1, "Riverside School District cierra por nieve")], tags=["escuelas"])
            srv.publish([mastodon_status(2, "off topic")], tags=["otro"])
            srv.publish([mastodon_status(3, "Riverside schools reabren")], tags=["escuelas"])
            wait(lambda: len(got) == 2, what="two tagged statuses")
        assert "tag=escuelas" in srv.stream_requests[0]
        assert [p.text for p in got] == ["Riverside School District cierra por nieve", "Riverside schools reabren"]
        assert any("access token" in m for m in logs)  # a 401 says what to do
    finally:
        srv.stop()


def _position(db: Path) -> str | None:
    import sqlite3

    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            row = con.execute("SELECT position FROM checkpoints").fetchone()
            return row[0] if row else None
        finally:
            con.close()
    except sqlite3.Error:
        return None


def test_kill_9_while_statuses_keep_coming_then_gap_fill(tmp_path: Path) -> None:
    """The watcher is killed (-9) at random points while statuses are published, some while it
    is down; after restarts the store equals one pass over everything published."""
    import os
    import random
    import signal
    import subprocess

    srv = MastodonServer().start()
    db = tmp_path / "m.sqlite"
    rng = random.Random(9)
    allst = [mastodon_status(i) for i in range(600)]
    cmd = [sys.executable, "-m", "threatwatch.cli", "watch", "-w", str(WATCHLIST), "--db", str(db),
           "--source", f"mastodon:{srv.base}", "--judge", "lexicon", "--batch-size", "25", "-q"]
    published = 0
    try:
        for k in range(4):
            proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
            n_conn = len(srv.stream_requests)
            wait(lambda c=n_conn: len(srv.stream_requests) > c, what="stream connect")
            if k == 0:  # first run: nothing to resume from, so publish only once it listens
                srv.publish(allst[:100])
                published = 100
            wait(lambda last=allst[published - 1]["id"]: _position(db) == last, what="caught up")
            chunk = rng.randint(40, 120)
            srv.publish(allst[published:published + chunk])
            published += chunk
            if k % 2:  # kill mid-stream ...
                target = allst[published - chunk // 2]["id"]
                wait(lambda t=target: (_position(db) or "0") >= t, what="progress")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            more = rng.randint(20, 60)  # ... and publish while it is down
            srv.publish(allst[published:published + more])
            published += more
        srv.publish(allst[published:])
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait(lambda: _position(db) == allst[-1]["id"], timeout=60, what="everything")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert any("min_id=" in u for u in srv.rest_requests)
        assert state(open_store(str(db))) == reference(allst, tmp_path / "ref.sqlite")
    finally:
        srv.stop()

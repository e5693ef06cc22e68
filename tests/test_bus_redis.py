"""The Redis Streams bus in one process: publishing, retention, resume, dead letters, metrics.

Runs against a real redis-server (and PostgreSQL where a store is needed), started by the
fixtures in tests/servers.py; skips only when the binaries are not installed.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import redis

from helpers import post
from servers import (  # noqa: F401  (fixtures)
    WATCHLIST,
    free_port,
    make_corpus,
    pg_server,
    pg_url,
    redis_server,
    snapshot,
)
from threatwatch.bus import (
    RedisPublisher,
    RedisPublisherSink,
    Worker,
    bus_status,
    dead_letters,
    publish_inputs,
    replay_dead_letters,
)
from threatwatch.bus import metrics as bus_metrics
from threatwatch.bus.redis_streams import dead_stream, decode, encode
from threatwatch.config import load_watchlist
from threatwatch.judge import load_judge
from threatwatch.judge.base import JudgeInput, Judgement
from threatwatch.pipeline import Pipeline
from threatwatch.post import Reject
from threatwatch.sources import read_inputs
from threatwatch.store import open_store
from threatwatch.store.schema import MIGRATIONS

WL = load_watchlist(WATCHLIST)


def test_entries_round_trip_posts_and_rejects() -> None:
    p = post(1, "ICE agents ¡hola! 🙂")
    assert decode(encode(p)) == p
    r = Reject(source="in.jsonl", line=7, reason="malformed-json", detail="cut short", sample='{"a":')
    assert decode(encode(r)) == r
    with pytest.raises(ValueError, match="cannot decode post"):
        decode({b"k": b"p", b"v": b"\x93garbage"})
    with pytest.raises(ValueError, match="unknown entry kind"):
        decode({b"k": b"x", b"v": b""})


def test_stream_length_is_bounded(redis_server) -> None:  # noqa: F811
    pub = RedisPublisher(redis_server.url, maxlen=1000)
    for k in range(0, 5000, 500):
        pub.publish([post(i, f"text {i}") for i in range(k, k + 500)])
    n = redis.Redis.from_url(redis_server.url).xlen("threatwatch:posts")
    assert 1000 <= n < 1500  # MAXLEN ~: trimmed in whole nodes, never below the bound


def test_publisher_resumes_from_its_checkpoint(tmp_path: Path, redis_server) -> None:  # noqa: F811
    corpus = make_corpus(tmp_path / "in.jsonl", 300)
    pub = RedisPublisher(redis_server.url)
    first = publish_inputs(pub, read_inputs([str(corpus)]), batch_size=64)
    assert first == {str(corpus): 309}  # 300 posts + 6 repeated + 3 malformed lines
    assert publish_inputs(pub, read_inputs([str(corpus)])) == {str(corpus): 0}
    assert redis.Redis.from_url(redis_server.url).xlen("threatwatch:posts") == 309
    pub.reset_checkpoints()
    assert publish_inputs(pub, read_inputs([str(corpus)])) == {str(corpus): 309}


def test_sink_speaks_the_live_sink_protocol(redis_server) -> None:  # noqa: F811
    sink = RedisPublisherSink(redis_server.url, stream="live")
    assert sink.checkpoint("jetstream:wss://x") is None
    sink.handle("jetstream:wss://x", [post(1, "ICE agents"), post(2, "hola")], "1732300000000000")
    assert sink.checkpoint("jetstream:wss://x") == "1732300000000000"
    assert sink.submit([post(3, "more")]) == 1
    sink.close()
    assert redis.Redis.from_url(redis_server.url).xlen("live") == 3


class PoisonJudge:
    """The lexicon judge, except that it crashes on one text (a bug a real post could hit)."""

    name = "lexicon"

    def __init__(self) -> None:
        self.inner = load_judge("lexicon")

    def judge_batch(self, items: list[JudgeInput]) -> list[Judgement]:
        if any("POISON" in it.text for it in items):
            raise RuntimeError("judge crashed on this text")
        return self.inner.judge_batch(items)


def test_poison_messages_go_to_the_dead_letter_stream(tmp_path: Path, redis_server, pg_url: str) -> None:  # noqa: F811
    """An undecodable entry is dead-lettered at once; an entry the pipeline keeps failing on is
    dead-lettered after max_deliveries; every good entry of the same batches is stored."""
    good = [post(i, f"ICE agents were here {i}") for i in range(20)]
    pub = RedisPublisher(redis_server.url)
    pub.publish(good[:10])
    r = redis.Redis.from_url(redis_server.url)
    r.xadd("threatwatch:posts", {b"k": b"p", b"v": b"not msgpack at all"})
    pub.publish([post(99, "ICE agents POISON")])
    pub.publish(good[10:])
    store = open_store(pg_url)
    w = Worker(redis_server.url, Pipeline(WL, store, PoisonJudge()), batch_size=8, claim_idle=0.05,
               max_deliveries=2, block_ms=50)
    st = w.run(exit_when_idle=0.3)
    assert st.dead_lettered == 2
    assert st.posts == 20
    dl = dead_letters(redis_server.url)
    assert [d["reason"][:20] for d in dl] == ["cannot decode post: ", "failed 2 deliveries"]
    assert decode(r.xrange(dead_stream("threatwatch:posts"))[1][1]).id == "bluesky:99"  # kept whole, replayable
    status = bus_status(redis_server.url)
    assert status["groups"][0]["pending"] == 0 and status["dead_letter"]["length"] == 2
    assert store.query("SELECT SUM(n) FROM agg") == [(20,)]
    # once the cause is fixed, the dead letters can be put back and are processed
    assert replay_dead_letters(redis_server.url) == 2
    w.pipeline.judge = load_judge("lexicon")
    st = w.run(exit_when_idle=0.3)
    assert bus_status(redis_server.url)["dead_letter"]["length"] == 1  # undecodable stays undecodable
    assert store.query("SELECT SUM(n) FROM agg") == [(21,)]
    w.close()
    store.close()


def test_metrics_endpoint(redis_server, pg_url: str) -> None:  # noqa: F811
    port = free_port()
    bus_metrics.serve(port, addr="127.0.0.1")
    RedisPublisher(redis_server.url).publish([post(i, f"ICE agents {i}") for i in range(5)])
    store = open_store(pg_url)
    w = Worker(redis_server.url, Pipeline(WL, store, load_judge("lexicon")), block_ms=50)
    w.run(exit_when_idle=0.2)
    w._gauges(force=True)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for name in ("threatwatch_bus_published_total", "threatwatch_bus_messages_total", "threatwatch_bus_pending",
                 "threatwatch_bus_lag", "threatwatch_worker_alerts_total", "threatwatch_worker_batch_seconds_bucket",
                 "threatwatch_bus_stream_length"):
        assert name in body, name
    assert 'threatwatch_bus_pending{group="workers",stream="threatwatch:posts"} 0.0' in body
    w.close()
    store.close()


def _bus_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "threatwatch.bus", *args], capture_output=True, text=True, timeout=120)


def test_cli_errors_name_the_bad_setting(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    out = _bus_cli("publish", "--bus", "http://example.org", str(tmp_path / "x.jsonl"))
    assert out.returncode == 2 and "--bus: expected a redis:// URL" in out.stderr
    out = _bus_cli("worker", "--bus", f"redis://127.0.0.1:{port}/0", "--db", str(tmp_path / "s.sqlite"),
                   "--watchlist", str(WATCHLIST))
    assert out.returncode == 2 and f"--bus redis://127.0.0.1:{port}/0: cannot reach Redis" in out.stderr
    out = _bus_cli("migrate", "--db", f"postgresql://tw@127.0.0.1:{port}/tw")
    assert out.returncode == 2 and f"--db postgresql://tw@127.0.0.1:{port}/tw: cannot connect" in out.stderr


def test_migrate_sqlite_prints_versions(tmp_path: Path) -> None:
    db = str(tmp_path / "m.sqlite")
    n = len(MIGRATIONS)
    assert _bus_cli("migrate", "--db", db).stdout.strip() == f"schema version: migrated from 0 to {n} (latest {n})"
    assert _bus_cli("migrate", "--db", db).stdout.strip() == f"schema version: already at {n} (latest {n})"


def test_entries_trimmed_while_pending_are_acked_and_counted(redis_server, pg_url: str) -> None:  # noqa: F811
    RedisPublisher(redis_server.url).publish([post(i, f"ICE agents {i}") for i in range(10)])
    r = redis.Redis.from_url(redis_server.url)
    r.xgroup_create("threatwatch:posts", "workers", id="0")
    r.xreadgroup("workers", "gone", {"threatwatch:posts": ">"}, count=10)  # a consumer that then dies
    r.xtrim("threatwatch:posts", maxlen=0)  # retention overtakes it
    store = open_store(pg_url)
    w = Worker(redis_server.url, Pipeline(WL, store, load_judge("lexicon")), claim_idle=0.01, block_ms=50)
    st = w.run(exit_when_idle=0.3)
    assert (st.trimmed, st.messages, st.dead_lettered) == (10, 0, 0)
    assert bus_status(redis_server.url)["groups"][0]["pending"] == 0
    w.close()
    store.close()

"""Scale-out end to end with real processes: the same input gives the same aggregates and
alerts on one SQLite process, one PostgreSQL process, and three bus workers; a worker killed
with SIGKILL mid-stream loses nothing and double-counts nothing; a Redis restarted from its
append-only file loses no acknowledged entry."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from servers import (  # noqa: F401  (fixtures)
    WATCHLIST,
    PostgresServer,
    make_corpus,
    pg_server,
    pg_url,
    redis_aof_server,
    redis_server,
    snapshot,
)
from threatwatch.bus import RedisPublisher, Worker, bus_status, publish_inputs
from threatwatch.config import load_watchlist
from threatwatch.judge import load_judge
from threatwatch.pipeline import Pipeline
from threatwatch.sources import read_inputs
from threatwatch.store import open_store

N_POSTS = 1500


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("bus") / "in.jsonl", N_POSTS)


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The embedded default: one process, SQLite."""
    store = open_store(str(tmp_path_factory.mktemp("ref") / "ref.sqlite"))
    stats = Pipeline(load_watchlist(WATCHLIST), store, load_judge("lexicon"), batch_size=200).run(read_inputs([str(corpus)]))
    snap = snapshot(store)
    snap["already_counted"] = stats.already_counted
    store.close()
    return snap


def bus_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "threatwatch.bus", *args]


def start_worker(bus: str, db: str, name: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        bus_cli("worker", "--bus", bus, "--db", db, "--watchlist", str(WATCHLIST), "--judge", "lexicon",
                "--name", name, "--batch-size", "50", "--block", "0.2", *extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> str:
    out, errs = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, errs[-3000:]
    return errs


def wait_for_fault(proc: subprocess.Popen[str]) -> None:
    """Block until the worker reports it hangs at its injected fault (stdout line FAULT ...)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("FAULT"), (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")


def compare(got: dict[str, object], want: dict[str, object]) -> None:
    for key in ("agg", "alerts", "groups"):
        assert got[key] == want[key], key
    assert set(got["rejects"]) == set(want["rejects"])  # type: ignore[call-overload]


def test_sqlite_postgres_and_three_workers_agree(corpus: Path, reference: dict[str, object], pg_url: str,  # noqa: F811
                                                 pg_server, redis_server) -> None:  # noqa: F811
    # one process on PostgreSQL
    pg_store = open_store(pg_url)
    Pipeline(load_watchlist(WATCHLIST), pg_store, load_judge("lexicon"), batch_size=200).run(read_inputs([str(corpus)]))
    assert snapshot(pg_store) == {k: v for k, v in reference.items() if k != "already_counted"}
    pg_store.close()

    # three workers on Redis + PostgreSQL, fed by `publish`. The workers start first and the
    # entries are published only once all three are reading, so the work is shared whatever the
    # machine's load (started after the publish, the first worker could take everything before
    # the others had loaded).
    db = pg_server.create_db()
    procs = [start_worker(redis_server.url, db, f"w{i}", "--exit-when-idle", "8") for i in range(3)]
    for p in procs:
        assert p.stderr is not None
        while "reading" not in (line := p.stderr.readline()):
            assert line, f"worker ended before reading: {p.communicate()}"
    out = subprocess.run(bus_cli("publish", "--bus", redis_server.url, str(corpus)), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"total: {N_POSTS + N_POSTS // 50 + N_POSTS // 97:,}" in out.stdout
    logs = [finish(p) for p in procs]
    shares = [int(log.rsplit("worker w", 1)[1].split(": ", 1)[1].split(" entries")[0].replace(",", "")) for log in logs]
    assert sum(shares) == N_POSTS + N_POSTS // 50 + N_POSTS // 97
    assert sum(1 for s in shares if s > 0) >= 2, shares  # the work really was shared
    store = open_store(db)
    compare(snapshot(store), reference)
    assert snapshot(store)["rejects"] == reference["rejects"]
    store.close()


def test_kill_9_mid_stream_loses_and_double_counts_nothing(corpus: Path, reference: dict[str, object],
                                                          pg_url: str, redis_server) -> None:  # noqa: F811
    pub = RedisPublisher(redis_server.url)
    publish_inputs(pub, read_inputs([str(corpus)]))
    open_store(pg_url).close()  # migrate once up front
    # worker A dies holding a batch it has read but not stored; worker B after storing a
    # batch but before acking it (so that batch is delivered twice)
    a = start_worker(redis_server.url, pg_url, "a", "--fault", "before-commit:3")
    b = start_worker(redis_server.url, pg_url, "b", "--fault", "before-ack:2")
    for p in (a, b):
        wait_for_fault(p)
        p.kill()  # SIGKILL: no cleanup, no ack
        p.wait(timeout=30)
    pending = {c["name"]: c["pending"] for c in bus_status(redis_server.url)["groups"][0]["consumers"]}
    assert pending["a"] == 50 and pending["b"] == 50
    c = start_worker(redis_server.url, pg_url, "c", "--claim-idle", "0.5", "--exit-when-idle", "1")
    log = finish(c)
    assert "100 claimed" in log
    assert bus_status(redis_server.url)["groups"][0]["pending"] == 0
    store = open_store(pg_url)
    compare(snapshot(store), reference)
    # B's stored-but-unacked batch came back and was recognised, not counted again
    read = store.query("SELECT SUM(posts) FROM checkpoints")[0][0]
    assert read > N_POSTS + N_POSTS // 50  # more posts read than the input holds: B's batch came twice ...
    assert snapshot(store)["agg"] == reference["agg"]  # ... and counted once
    store.close()


def test_redis_restart_from_aof_loses_no_acknowledged_entry(corpus: Path, reference: dict[str, object],
                                                            pg_url: str, redis_aof_server) -> None:  # noqa: F811
    srv = redis_aof_server
    pub = RedisPublisher(srv.url)
    published = sum(publish_inputs(pub, read_inputs([str(corpus)]), batch_size=100).values())
    pub.close()
    store = open_store(pg_url)
    w = Worker(srv.url, Pipeline(load_watchlist(WATCHLIST), store, load_judge("lexicon")), consumer="w1",
               batch_size=100, block_ms=100)
    w.run(max_batches=5)  # 500 entries stored and acked
    before = srv_state(srv.url)
    w.close()

    srv.kill()  # crash: SIGKILL, no shutdown save
    srv.start()  # same dir, same port: replays appendonly

    after = srv_state(srv.url)
    assert after == before
    assert after["length"] == published  # every XADD that was acknowledged is there
    assert after["acked"] == 500 and after["pending"] == 0  # and so is every XACK
    w2 = Worker(srv.url, Pipeline(load_watchlist(WATCHLIST), store, load_judge("lexicon")), consumer="w2",
                batch_size=100, block_ms=100)
    st = w2.run(exit_when_idle=0.5)
    assert st.messages == published - 500  # nothing acked was delivered again
    assert w.stats.already_counted + st.already_counted == reference["already_counted"]
    compare(snapshot(store), reference)
    w2.close()
    store.close()


def srv_state(url: str) -> dict[str, int]:
    r = redis.Redis.from_url(url)
    g = r.xinfo_groups("threatwatch:posts")[0]
    last = g["last-delivered-id"]
    delivered = len(r.xrange("threatwatch:posts", "-", last))
    state = {"length": int(r.xlen("threatwatch:posts")), "pending": int(g["pending"]),
             "acked": delivered - int(g["pending"]), "last_delivered": last}
    r.close()
    return state


def wait_until(cond, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition another thread or process will make true (bounded)."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_database_outage_is_waited_out_not_dead_lettered(corpus: Path, reference: dict[str, object],
                                                         redis_server) -> None:  # noqa: F811
    """PostgreSQL stops mid-stream and comes back: the worker waits, reconnects, and stores
    everything exactly once; no entry is dead-lettered for the outage."""
    srv = PostgresServer()
    try:
        store = open_store(srv.create_db())
        publish_inputs(RedisPublisher(redis_server.url), read_inputs([str(corpus)]))
        w = Worker(redis_server.url, Pipeline(load_watchlist(WATCHLIST), store, load_judge("lexicon")),
                   batch_size=20, block_ms=100, claim_idle=0.5, max_deliveries=2)
        done: list[object] = []
        t = threading.Thread(target=lambda: done.append(w.run(exit_when_idle=1.0)), daemon=True)
        t.start()
        wait_until(lambda: w.stats.batches >= 3)
        srv.halt()
        wait_until(lambda: not w._healthy)  # the worker noticed, and now waits
        srv.start()
        t.join(timeout=180)
        assert done, "worker did not finish"
        assert w.stats.dead_lettered == 0
        compare(snapshot(store), reference)
        store.close()
    finally:
        srv.stop()


def test_publisher_with_watchlist_sends_only_posts_about_targets(corpus: Path, reference: dict[str, object],
                                                                 pg_url: str, redis_server) -> None:  # noqa: F811
    """Filtering at the publisher changes nothing in the results, only what crosses the bus."""
    wl = load_watchlist(WATCHLIST)
    pub = RedisPublisher(redis_server.url, watchlist=wl)
    read = sum(publish_inputs(pub, read_inputs([str(corpus)])).values())
    n = redis.Redis.from_url(redis_server.url).xlen("threatwatch:posts")
    assert n == pub.published and pub.filtered > 0 and n + pub.filtered == read
    store = open_store(pg_url)
    w = Worker(redis_server.url, Pipeline(wl, store, load_judge("lexicon")), batch_size=200, block_ms=100)
    w.run(exit_when_idle=0.5)
    compare(snapshot(store), reference)
    w.close()
    store.close()

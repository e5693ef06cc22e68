"""The PostgreSQL store behaves like the SQLite one, and stays exactly-once with many writers.

Runs against a real PostgreSQL started for the session (tests/servers.py); skips only when
the PostgreSQL binaries are not installed.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from helpers import judgement, post
from servers import WATCHLIST, make_corpus, pg_server, pg_url, snapshot  # noqa: F401  (fixtures)
from threatwatch.config import load_watchlist
from threatwatch.judge import load_judge
from threatwatch.pipeline import Pipeline
from threatwatch.post import Reject
from threatwatch.sources import read_inputs
from threatwatch.store import open_store
from threatwatch.store.postgres import PostgresStore
from threatwatch.store.schema import MIGRATIONS


@pytest.fixture
def pg(pg_url: str):  # noqa: F811
    store = open_store(pg_url)
    yield store
    store.close()


def test_open_store_dispatches_on_url_and_migrates(pg) -> None:
    assert isinstance(pg, PostgresStore)
    assert pg.schema_version() == len(MIGRATIONS)
    assert pg.migrate() == len(MIGRATIONS)  # again: nothing to do


def test_batch_counts_once_and_alerts_once(pg) -> None:
    p1, p2 = post(1, "ICE agents THREAT"), post(2, "ICE agents again")
    batch = [(p1, judgement("ICE", threat="threat", score=0.9, sentiment="negative")),
             (p2, judgement("ICE", sentiment="neutral"))]
    res = pg.commit_batch(batch, [batch[0]], rejects=[Reject(source="f.jsonl", line=3, reason="malformed-json")],
                          checkpoint=("f.jsonl", "3", 2, 1), judge_name="t")
    assert (res.counted, res.duplicates, len(res.new_alert_ids)) == (2, 0, 1)
    again = pg.commit_batch(batch, [batch[0]], checkpoint=("f.jsonl", "3", 2, 0))
    assert (again.counted, again.duplicates, again.new_alert_ids) == (0, 2, [])
    assert sorted(pg.query("SELECT sentiment, n FROM agg")) == [("negative", 1), ("neutral", 1)]
    [a] = pg.alerts()
    assert (a.post_id, a.target, a.threat_score, a.status) == ("bluesky:1", "ICE", 0.9, "new")
    assert pg.rejects()[0]["reason"] == "malformed-json"
    assert pg.get_checkpoint("f.jsonl") == "3"
    assert pg.checkpoints()[0]["posts"] == 4


def test_scores_keep_double_precision(pg) -> None:
    p = post(1, "ICE THREAT")
    pg.commit_batch([(p, judgement("ICE", threat="threat", score=0.123456789))],
                    [(p, judgement("ICE", threat="threat", score=0.123456789))])
    assert pg.alerts()[0].threat_score == 0.123456789


def test_decision_is_audited_and_audit_is_append_only(pg) -> None:
    p = post(1, "ICE THREAT")
    res = pg.commit_batch([(p, judgement("ICE", threat="threat", score=0.9))], [(p, judgement("ICE", threat="threat", score=0.9))])
    got = pg.decide(res.new_alert_ids[0], "not_a_threat", reviewer="ana", reason="hyperbole")
    assert (got.status, got.reason, got.decided_by) == ("not_a_threat", "hyperbole", "ana")
    assert pg.audit_log()[0]["action"] == "decide"
    for sql in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit", "TRUNCATE audit"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            pg.execute(sql)
        pg.conn.rollback()
    assert pg.audit_log()[0]["actor"] == "ana"
    with pytest.raises(ValueError, match="reason"):
        pg.decide(res.new_alert_ids[0], "not_a_threat", reviewer="ana", reason="nope")


def test_literal_percent_and_placeholders(pg) -> None:
    assert pg.query("SELECT 'a%b' WHERE 1 = ?", (1,)) == [("a%b",)]


def test_reports_read_the_same_on_both_engines(tmp_path: Path, pg) -> None:
    corpus = make_corpus(tmp_path / "in.jsonl", 400)
    wl = load_watchlist(WATCHLIST)
    lite = open_store(str(tmp_path / "ref.sqlite"))
    for store in (lite, pg):
        Pipeline(wl, store, load_judge("lexicon"), batch_size=64).run(read_inputs([str(corpus)]))
    assert snapshot(pg) == snapshot(lite)
    assert pg.week_summary("2026-W47") == lite.week_summary("2026-W47")
    assert pg.series(start="2026-11-16T00", end="2026-11-23T00", granularity="day") == \
        lite.series(start="2026-11-16T00", end="2026-11-23T00", granularity="day")
    assert [a.post_id for a in pg.alerts(limit=1000)] == [a.post_id for a in lite.alerts(limit=1000)]
    assert pg.targets() == lite.targets()


def test_concurrent_writers_count_exactly_once(tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    """Four connections commit overlapping, differently ordered batches at the same time: every
    (post, target) is counted once, every alert stored once, and no batch fails with a deadlock."""
    corpus = make_corpus(tmp_path / "in.jsonl", 600, bad_every=0, repeat_every=0)
    wl = load_watchlist(WATCHLIST)
    items = list(read_inputs([str(corpus)]))
    ref = open_store(str(tmp_path / "ref.sqlite"))
    Pipeline(wl, ref, load_judge("lexicon")).run(items)
    stores = [open_store(pg_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def write(i: int, store) -> None:
        rng = random.Random(i)
        mine = list(items)
        rng.shuffle(mine)  # every writer sends every post, in its own order
        pipe = Pipeline(wl, store, load_judge("lexicon"))
        barrier.wait()
        try:
            for k in range(0, len(mine), 40):
                pipe.process_batch(mine[k:k + 40])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    got, want = snapshot(stores[0]), snapshot(ref)
    assert got["agg"] == want["agg"]
    assert got["alerts"] == want["alerts"]
    assert got["groups"] == want["groups"]  # one 'first' alert per re-posted text, even across writers
    assert sum(s.retried for s in stores) == 0  # sorted writes: no deadlock to retry
    for s in stores:
        s.close()


def test_concurrent_first_start_migrates_once(pg_url: str) -> None:  # noqa: F811
    """N `migrate` commands on an empty database at once: all succeed, the schema is built once."""
    procs = [subprocess.Popen([sys.executable, "-m", "threatwatch.bus", "migrate", "--db", pg_url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    said = sorted(o[0].strip() for o in outs)
    n = len(MIGRATIONS)
    assert said.count(f"schema version: migrated from 0 to {n} (latest {n})") == 1, said
    assert said.count(f"schema version: already at {n} (latest {n})") == 3, said
    with psycopg.connect(pg_url) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(n),)


def test_bad_url_names_the_database(pg_server) -> None:  # noqa: F811
    url = pg_server.url("no_such_db")
    with pytest.raises(ConnectionError, match="no_such_db"):
        open_store(url)


def test_web_desk_data_accounts_and_report_work_unchanged(tmp_path: Path, pg) -> None:
    """The desk's data layer, accounts and the weekly report run on PostgreSQL as they are and
    give what they give on SQLite."""
    from datetime import date

    from threatwatch import report
    from threatwatch.web import accounts, data

    corpus = make_corpus(tmp_path / "in.jsonl", 300)
    wl = load_watchlist(WATCHLIST)
    lite = open_store(str(tmp_path / "ref.sqlite"))
    for store in (lite, pg):
        Pipeline(wl, store, load_judge("lexicon"), batch_size=64).run(read_inputs([str(corpus)]))
        first = store.alerts(limit=1)[0]
        store.decide(first.id, "not_a_threat", reviewer="ana", reason="hyperbole")
    assert report.weekly(pg, "2026-W47") == report.weekly(lite, "2026-W47")
    assert [a.post_id for a in data.alert_queue(pg, limit=500)] == [a.post_id for a in data.alert_queue(lite, limit=500)]
    assert data.facets(pg) == data.facets(lite)
    end = date(2026, 11, 22)
    assert data.overview(pg, end=end) == data.overview(lite, end=end)
    assert data.spikes(pg, end=end) == data.spikes(lite, end=end)
    def decided(store) -> list[dict]:
        return [{k: v for k, v in d.items() if k != "decided_at"} for d in data.decisions(store)]

    assert decided(pg) == decided(lite) and len(decided(pg)) == 1

    accounts.add_user(pg, "ana", "reviewer", "correct horse battery staple")
    assert accounts.authenticate(pg, "ana", "correct horse battery staple") is not None
    assert accounts.authenticate(pg, "ana", "wrong password") is None
    token, _session = accounts.new_session(pg, accounts.get_user(pg, "ana"))
    assert accounts.get_session(pg, token) is not None
    assert pg.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # nothing left open

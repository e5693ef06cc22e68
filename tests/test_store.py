"""The SQLite store: idempotent counts, one alert per post and target, decisions, audit, reports."""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from helpers import judgement, post
from threatwatch.post import Reject
from threatwatch.store import open_store
from threatwatch.store.sql import previous_week, week_bounds


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(str(tmp_path / "t.sqlite"))
    yield s
    s.close()


def test_wal_mode(store) -> None:
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"


def test_counts_are_idempotent_per_post_and_target(store) -> None:
    p1, p2 = post(1, "a"), post(2, "b")
    batch = [(p1, judgement("ICE", sentiment="negative")), (p2, judgement("ICE", sentiment="positive"))]
    r = store.commit_batch(batch)
    assert (r.counted, r.duplicates) == (2, 0)
    r = store.commit_batch(batch)  # the same posts again
    assert (r.counted, r.duplicates) == (0, 2)
    wk = store.week_summary("2026-W47", ["ICE"])["targets"][0]
    assert (wk["mentions"], wk["negative"], wk["positive"]) == (2, 1, 1)
    # the same post toward another target is counted for that target
    assert store.commit_batch([(p1, judgement("Lincoln High School"))]).counted == 1


def test_no_post_ids_or_text_kept_for_counted_posts(store) -> None:
    store.commit_batch([(post("secret-id", "private words"), judgement("ICE"))])
    dump = "\n".join(store.conn.iterdump())
    assert "secret-id" not in dump and "private words" not in dump


def test_alert_once_per_post_and_target_and_reposts_grouped(store) -> None:
    a = (post(1, "I will hurt them at ICE"), judgement("ICE", threat="threat", score=0.9))
    r1 = store.commit_batch([a], [a])
    r2 = store.commit_batch([a], [a])
    assert len(r1.new_alert_ids) == 1 and r2.new_alert_ids == []
    repost = (post(2, "I will  HURT them at ICE"), judgement("ICE", threat="threat", score=0.9))
    (rid,) = store.commit_batch([repost], [repost]).new_alert_ids
    dup = store.get_alert(rid)
    assert dup.status == "duplicate" and dup.dup_of == r1.new_alert_ids[0]
    assert [x.id for x in store.alerts()] == r1.new_alert_ids  # queue hides duplicates


def test_alert_keeps_the_post_as_published(store) -> None:
    p = post(7, "texto original 🙂")
    (aid,) = store.commit_batch([(p, judgement("ICE", threat="incitement", score=0.8))],
                                [(p, judgement("ICE", threat="incitement", score=0.8))]).new_alert_ids
    a = store.get_alert(aid)
    assert (a.text, a.url, a.author, a.platform, a.post_id) == (p.text, p.url, p.author, "bluesky", p.id)
    assert a.created_at.startswith("2026-11-18T10:30")
    assert a.sentiment is None  # sentiment is kept only in aggregates, never per post or handle


def test_queue_order_and_decisions_are_audited(store) -> None:
    lo = (post(1, "x"), judgement("ICE", threat="threat", score=0.6))
    hi = (post(2, "y"), judgement("ICE", threat="threat", score=0.95))
    store.commit_batch([lo, hi], [lo, hi])
    q = store.alerts()
    assert [a.threat_score for a in q] == [0.95, 0.6]
    store.decide(q[0].id, "not_a_threat", reviewer="rev1", reason="hyperbole", note="song lyric")
    assert [a.threat_score for a in store.alerts()] == [0.6, 0.95]  # undecided first
    with pytest.raises(ValueError, match="reason must be one of"):
        store.decide(q[1].id, "not_a_threat", reviewer="rev1")
    with pytest.raises(ValueError, match="decision must be one of"):
        store.decide(q[1].id, "maybe", reviewer="rev1")
    log = store.audit_log()
    assert log[0]["actor"] == "rev1" and log[0]["action"] == "decide" and "hyperbole" in log[0]["detail"]


def test_audit_log_is_append_only(store) -> None:
    store.audit("admin", "login")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.execute("DELETE FROM audit")
    store.conn.rollback()
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.execute("UPDATE audit SET actor = 'x'")


def test_checkpoint_and_rejects_in_the_same_transaction(store) -> None:
    rej = Reject(source="f.jsonl", line=3, reason="malformed-json", detail="Expecting value", sample="{oops")
    store.commit_batch([], rejects=[rej], checkpoint=("f.jsonl", "10", 9, 1))
    assert store.get_checkpoint("f.jsonl") == "10"
    (r,) = store.rejects()
    assert (r["source"], r["line"], r["reason"]) == ("f.jsonl", 3, "malformed-json")
    store.commit_batch([], checkpoint=("f.jsonl", "20", 10, 0))
    (cp,) = store.checkpoints()
    assert (cp["position"], cp["posts"], cp["rejects"]) == ("20", 19, 1)


def test_week_summary_lists_every_target_and_change(store) -> None:
    store.register_targets(["ICE", "Lincoln High School"])
    w46 = datetime(2026, 11, 10, 12, tzinfo=UTC)
    w47 = datetime(2026, 11, 22, 23, 59, tzinfo=UTC)  # Sunday night, still W47
    w48 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 00:00 UTC, W48
    store.commit_batch([(post(1, "a", when=w46), judgement("ICE")),
                        (post(2, "b", when=w47), judgement("ICE", sentiment="negative")),
                        (post(3, "c", when=w47), judgement("ICE", sentiment="negative")),
                        (post(4, "d", when=w48), judgement("ICE"))])
    data = store.week_summary("2026-W47")
    assert data["week"] == "2026-W47"
    ice, lhs = data["targets"]
    assert (ice["target"], ice["mentions"], ice["negative"], ice["alerts"]) == ("ICE", 2, 2, 0)
    assert ice["previous"]["mentions"] == 1 and ice["change"]["mentions_pct"] == 100.0
    assert (lhs["target"], lhs["mentions"]) == ("Lincoln High School", 0)


def test_week_helpers() -> None:
    assert week_bounds("2026-W47") == ("2026-11-16T00", "2026-11-23T00")
    assert previous_week("2026-W01") == "2025-W52"
    with pytest.raises(ValueError, match="ISO week like 2026-W47"):
        week_bounds("2026-47")


def test_nul_characters_are_stored_visibly(store) -> None:
    p = post(8, "threat\x00 hidden")
    j = judgement("ICE", threat="threat", score=0.9)
    store.commit_batch([(p, j)], [(p, j)], rejects=[Reject(source="f", line=1, reason="invalid-utf8", sample="\x00\x01")])
    assert store.alerts()[0].text == "threat\ufffd hidden"
    assert store.rejects()[0]["sample"] == "\ufffd\x01"

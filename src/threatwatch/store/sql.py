"""The store's logic, written once in SQL that SQLite and PostgreSQL both accept.

Engine classes (sqlite.py, postgres.py) supply only the connection, the placeholder style and
type names. Writes come in batches, one transaction each, with the source checkpoint inside
the same transaction: after a crash, either a batch and its checkpoint are both stored or
neither is, so a restart neither loses nor double-counts posts.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import typer

from ..judge.base import Judgement
from ..post import Post, Reject
from .schema import MIGRATIONS


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def hour_bucket(dt: datetime) -> str:
    """UTC hour bucket key, e.g. '2026-11-18T14' (sorts as text)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H")


def seen_key(post_id: str, target: str) -> str:
    """Idempotency key: a hash of (post id, target), so the table holds no post ids."""
    return hashlib.blake2b(f"{post_id}\0{target}".encode(), digest_size=12).hexdigest()


def nul_free(value: str | None) -> str | None:
    """NUL characters shown as U+FFFD: PostgreSQL text cannot hold them, and a bad input's
    sample (kept with its reject) often has them; both engines store the same text."""
    return value.replace("\x00", "\ufffd") if value and "\x00" in value else value


def text_hash(text: str) -> str:
    """Hash of whitespace/case-normalised text, to group re-posts of the same threat."""
    flat = " ".join(text.casefold().split())
    return hashlib.blake2b(flat.encode(), digest_size=10).hexdigest()


def parse_week(week: str) -> tuple[int, int]:
    """'2026-W47' -> (2026, 47); raises ValueError with the expected form."""
    try:
        y, w = week.upper().split("-W")
        year, num = int(y), int(w)
        date.fromisocalendar(year, num, 1)
    except (ValueError, AttributeError):
        raise ValueError(f"week {week!r} is not an ISO week like 2026-W47") from None
    return year, num


def week_bounds(week: str) -> tuple[str, str]:
    """Hour-bucket bounds [start, end) of an ISO week, Monday 00:00 UTC."""
    year, num = parse_week(week)
    start = date.fromisocalendar(year, num, 1)
    end = start + timedelta(days=7)
    return start.strftime("%Y-%m-%dT00"), end.strftime("%Y-%m-%dT00")


def previous_week(week: str) -> str:
    year, num = parse_week(week)
    d = date.fromisocalendar(year, num, 1) - timedelta(days=7)
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


class AlertRow(msgspec.Struct, kw_only=True):
    """An alert as stored: the public post, the model's output, the reviewer's decision."""

    id: int
    post_id: str
    target: str
    platform: str
    url: str | None
    author: str | None
    text: str
    created_at: str
    lang: str | None
    reply_to: str | None
    quote_of: str | None
    threat: str
    threat_score: float
    subtype: str | None
    sentiment: str | None
    explanation: str | None
    cues: list[dict[str, Any]]
    judge: str | None
    dup_of: int | None
    status: str
    reason: str | None
    note: str | None
    decided_by: str | None
    decided_at: str | None
    raised_at: str
    latency_s: float | None


_ALERT_COLS = [f for f in AlertRow.__struct_fields__]
DECISIONS = ("credible", "not_a_threat", "escalated")
REASONS = ("hyperbole", "satire", "news", "quote", "off_target", "other")


class BatchResult(msgspec.Struct):
    counted: int = 0  # (post, target) pairs newly counted in aggregates
    duplicates: int = 0  # pairs already counted before (re-ingested)
    new_alert_ids: list[int] = []


class StoreError(typer.BadParameter):
    """The store cannot be opened (wrong path, not a database, read-only place). A user error:
    as a BadParameter of --db, every CLI command shows the message without a traceback (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param_hint="--db")


class SQLStore:
    """Engine-neutral store. Subclasses set `conn`, `placeholder`, `serial`, `blob`."""

    placeholder = "?"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    blob = "BLOB"
    url = ""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.conn: Any = None

    # -- plumbing -------------------------------------------------------------------------
    def q(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.lock:
            return self.conn.execute(self.q(sql), params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            cur = self.conn.execute(self.q(sql), params)
            rows = cur.fetchall()
            self._end_read()
            return rows

    def _end_read(self) -> None:
        """Hook: engines that open a transaction on read close it here."""

    def commit(self) -> None:
        self.conn.commit()

    def migrate(self) -> int:
        """Bring the schema up to date; returns the version now in force."""
        with self.lock:
            self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = self.conn.execute(self.q("SELECT value FROM meta WHERE key = ?"), ("schema_version",)).fetchone()
            version = int(row[0]) if row else 0
            for i, stmts in enumerate(MIGRATIONS[version:], start=version + 1):
                for s in stmts:
                    self.conn.execute(self.ddl(s))
                self._set_meta("schema_version", str(i))
                self.conn.commit()
            return len(MIGRATIONS)

    def ddl(self, stmt: str) -> str:
        """A migration statement in this engine's dialect ({serial}, {blob}; engines may do more)."""
        return stmt.format(serial=self.serial, blob=self.blob)

    def schema_version(self) -> int:
        """The schema version recorded in `meta` (0 for an empty database)."""
        try:
            rows = self.query("SELECT value FROM meta WHERE key = ?", ("schema_version",))
        except Exception:  # no meta table yet
            self.conn.rollback()
            return 0
        return int(rows[0][0]) if rows else 0

    def lock_alert_groups(self, groups: Sequence[tuple[str, str]]) -> None:
        """Hook: engines with concurrent writers serialise alert de-duplication per (target,
        text hash); `groups` come sorted."""

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            self.q("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
            (key, value),
        )

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self._set_meta(key, value)
            self.commit()

    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None

    # -- targets known to this store (so reports list every watched target) ---------------
    def register_targets(self, names: Iterable[str]) -> None:
        known = self.targets()
        merged = known + [n for n in names if n not in known]
        if merged != known:
            self.set_meta("targets", json.dumps(merged, ensure_ascii=False))

    def targets(self) -> list[str]:
        raw = self.get_meta("targets")
        return list(json.loads(raw)) if raw else []

    # -- the pipeline's write path ---------------------------------------------------------
    def commit_batch(
        self,
        counted: Sequence[tuple[Post, Judgement]],
        alerts: Sequence[tuple[Post, Judgement]] = (),
        *,
        rejects: Sequence[Reject] = (),
        checkpoint: tuple[str, str, int, int] | None = None,
        judge_name: str = "",
    ) -> BatchResult:
        """Count on-target judgements, store new alerts, rejects and the checkpoint, atomically.

        `checkpoint` is (source, position, posts read in this batch, rejects in this batch).
        A (post, target) pair already counted is skipped, so re-ingesting is harmless.
        """
        res = BatchResult()
        raised = now_iso()
        with self.lock:
            try:
                c = self.conn
                res.counted, res.duplicates = self._count(counted)
                if alerts:
                    self.lock_alert_groups(sorted({(j.target or "", text_hash(post.text)) for post, j in alerts}))
                for post, j in alerts:
                    new_id = self._insert_alert(post, j, raised, judge_name)
                    if new_id is not None:
                        res.new_alert_ids.append(new_id)
                if rejects:
                    c.cursor().executemany(
                        self.q("INSERT INTO rejects (source, line, reason, detail, sample, at) VALUES (?, ?, ?, ?, ?, ?)"),
                        [(nul_free(r.source), r.line, r.reason, nul_free(r.detail), nul_free(r.sample[:300]), raised)
                         for r in rejects],
                    )
                if checkpoint is not None:
                    src, pos, nposts, nrej = checkpoint
                    c.execute(
                        self.q(
                            "INSERT INTO checkpoints (source, position, updated_at, posts, rejects) VALUES (?, ?, ?, ?, ?) "
                            "ON CONFLICT (source) DO UPDATE SET position = excluded.position, "
                            "updated_at = excluded.updated_at, posts = checkpoints.posts + excluded.posts, "
                            "rejects = checkpoints.rejects + excluded.rejects"
                        ),
                        (src, pos, raised, nposts, nrej),
                    )
                self.commit()
            except BaseException:
                self.conn.rollback()
                raise
        return res

    def _count(self, counted: Sequence[tuple[Post, Judgement]]) -> tuple[int, int]:
        """Mark (post, target) pairs seen and bump the aggregates of the new ones, inside the
        caller's transaction. Returns (newly counted, already counted).

        Rows are locked in sorted key order (seen, then agg, then alert groups), so concurrent
        writers (PostgreSQL workers) cannot deadlock on each other."""
        c = self.conn
        ins_seen = self.q("INSERT INTO seen (key, hour) VALUES (?, ?) ON CONFLICT (key) DO NOTHING")
        new, dups = 0, 0
        incr: dict[tuple[str, str, str, str, str], int] = {}
        for key, hour, k in self._keyed(counted):
            cur = c.execute(ins_seen, (key, hour))
            if cur.rowcount == 1:
                incr[k] = incr.get(k, 0) + 1
                new += 1
            else:
                dups += 1
        self._bump(incr)
        return new, dups

    @staticmethod
    def _keyed(counted: Sequence[tuple[Post, Judgement]]) -> list[tuple[str, str, tuple[str, str, str, str, str]]]:
        """(seen key, hour, aggregate key) per pair, sorted by seen key."""
        out = []
        for post, j in counted:
            hour = hour_bucket(post.created_at)
            out.append((seen_key(post.id, j.target or ""), hour,
                        (j.target or "", hour, j.sentiment, post.lang or "und", post.platform)))
        out.sort(key=lambda r: r[0])
        return out

    def _bump(self, incr: dict[tuple[str, str, str, str, str], int]) -> None:
        up_agg = self.q(
            "INSERT INTO agg (target, hour, sentiment, lang, platform, n) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (target, hour, sentiment, lang, platform) DO UPDATE SET n = agg.n + excluded.n"
        )
        for k in sorted(incr):
            self.conn.execute(up_agg, (*k, incr[k]))

    def _alert_values(self, post: Post, j: Judgement, raised: str, judge_name: str) -> dict[str, Any]:
        """The stored columns of a new alert, except dup_of and status (decided at insert).
        Sentiment is not kept per post: it lives only in aggregates."""
        return {
            "post_id": post.id, "target": j.target, "platform": post.platform, "url": post.url,
            "author": nul_free(post.author), "text": nul_free(post.text), "created_at": post.created_at.astimezone(UTC).isoformat(),
            "lang": post.lang, "reply_to": post.reply_to, "quote_of": post.quote_of, "threat": j.threat,
            "threat_score": float(j.threat_score), "subtype": j.subtype, "sentiment": None,
            "explanation": j.explanation,
            "cues": json.dumps([msgspec.to_builtins(c) for c in j.cues], ensure_ascii=False),
            "judge": judge_name, "text_hash": text_hash(post.text), "raised_at": raised,
            "latency_s": (datetime.now(UTC).timestamp() - post.received_at) if post.received_at else None,
        }

    def _insert_alert(self, post: Post, j: Judgement, raised: str, judge_name: str) -> int | None:
        v = self._alert_values(post, j, raised, judge_name)
        first = self.conn.execute(
            self.q("SELECT id FROM alerts WHERE target = ? AND text_hash = ? AND dup_of IS NULL ORDER BY id LIMIT 1"),
            (j.target, v["text_hash"]),
        ).fetchone()
        v["dup_of"] = first[0] if first else None
        v["status"] = "duplicate" if v["dup_of"] else "new"
        cur = self.conn.execute(
            self.q(f"INSERT INTO alerts ({', '.join(v)}) VALUES ({', '.join('?' * len(v))}) "
                   "ON CONFLICT (post_id, target) DO NOTHING"),
            tuple(v.values()),
        )
        if cur.rowcount != 1:
            return None
        row = self.conn.execute(self.q("SELECT id FROM alerts WHERE post_id = ? AND target = ?"), (post.id, j.target)).fetchone()
        return int(row[0])

    # -- checkpoints and rejects -----------------------------------------------------------
    def get_checkpoint(self, source: str) -> str | None:
        rows = self.query("SELECT position FROM checkpoints WHERE source = ?", (source,))
        return rows[0][0] if rows else None

    def checkpoints(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT source, position, updated_at, posts, rejects FROM checkpoints ORDER BY source")
        return [dict(zip(("source", "position", "updated_at", "posts", "rejects"), r, strict=True)) for r in rows]

    def rejects(self, limit: int = 1000) -> list[dict[str, Any]]:
        rows = self.query("SELECT source, line, reason, detail, sample, at FROM rejects ORDER BY id LIMIT ?", (limit,))
        return [dict(zip(("source", "line", "reason", "detail", "sample", "at"), r, strict=True)) for r in rows]

    # -- alerts: the review queue ------------------------------------------------------------
    def _alert(self, row: Sequence[Any]) -> AlertRow:
        d = dict(zip(_ALERT_COLS, row, strict=True))
        d["cues"] = json.loads(d["cues"]) if d["cues"] else []
        return AlertRow(**d)

    def alerts(self, *, status: str | None = None, target: str | None = None, limit: int = 100,
               offset: int = 0, include_duplicates: bool = False) -> list[AlertRow]:
        """Queue order: undecided first, then highest score, then newest."""
        where, params = [], []
        if status:
            where.append("status = ?")
            params.append(status)
        elif not include_duplicates:
            where.append("status <> 'duplicate'")
        if target:
            where.append("target = ?")
            params.append(target)
        sql = f"SELECT {', '.join(_ALERT_COLS)} FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY CASE WHEN status = 'new' THEN 0 ELSE 1 END, threat_score DESC, created_at DESC, id DESC LIMIT ? OFFSET ?"
        return [self._alert(r) for r in self.query(sql, (*params, limit, offset))]

    def get_alert(self, alert_id: int) -> AlertRow | None:
        rows = self.query(f"SELECT {', '.join(_ALERT_COLS)} FROM alerts WHERE id = ?", (alert_id,))
        return self._alert(rows[0]) if rows else None

    def decide(self, alert_id: int, decision: str, *, reviewer: str, reason: str | None = None,
               note: str | None = None) -> AlertRow:
        """Record a reviewer's decision (and audit it). Raises ValueError on a bad value."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}")
        if decision == "not_a_threat" and reason not in REASONS:
            raise ValueError(f"reason must be one of {', '.join(REASONS)} for not_a_threat, got {reason!r}")
        with self.lock:
            cur = self.conn.execute(
                self.q("UPDATE alerts SET status = ?, reason = ?, note = ?, decided_by = ?, decided_at = ? WHERE id = ?"),
                (decision, reason, note, reviewer, now_iso(), alert_id),
            )
            if cur.rowcount != 1:
                self.conn.rollback()
                raise KeyError(f"no alert with id {alert_id}")
            self._audit(reviewer, "decide", f"alert:{alert_id}", json.dumps({"decision": decision, "reason": reason, "note": note}))
            self.commit()
        got = self.get_alert(alert_id)
        assert got is not None
        return got

    # -- audit log (append-only) ---------------------------------------------------------------
    def _audit(self, actor: str, action: str, obj: str | None, detail: str | None) -> None:
        self.conn.execute(self.q("INSERT INTO audit (at, actor, action, object, detail) VALUES (?, ?, ?, ?, ?)"),
                          (now_iso(), actor, action, obj, detail))

    def audit(self, actor: str, action: str, obj: str | None = None, detail: str | None = None) -> None:
        with self.lock:
            self._audit(actor, action, obj, detail)
            self.commit()

    def audit_log(self, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        rows = self.query("SELECT id, at, actor, action, object, detail FROM audit ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
        return [dict(zip(("id", "at", "actor", "action", "object", "detail"), r, strict=True)) for r in rows]

    # -- aggregates and reports ---------------------------------------------------------------
    def series(self, *, start: str, end: str, target: str | None = None, lang: str | None = None,
               platform: str | None = None, granularity: str = "day") -> list[dict[str, Any]]:
        """Mentions per bucket x target x sentiment between hour buckets [start, end)."""
        width = {"hour": 13, "day": 10}.get(granularity)
        if width is None and granularity != "week":
            raise ValueError("granularity must be hour, day or week")
        where, params = ["hour >= ?", "hour < ?"], [start, end]
        for col, val in (("target", target), ("lang", lang), ("platform", platform)):
            if val:
                where.append(f"{col} = ?")
                params.append(val)
        rows = self.query(f"SELECT target, hour, sentiment, SUM(n) FROM agg WHERE {' AND '.join(where)} "
                          "GROUP BY target, hour, sentiment ORDER BY hour", params)
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for tgt, hour, sent, n in rows:
            if granularity == "week":
                y, w, _ = date.fromisoformat(hour[:10]).isocalendar()
                bucket = f"{y}-W{w:02d}"
            else:
                bucket = hour[:width]
            rec = out.setdefault((bucket, tgt), {"bucket": bucket, "target": tgt, "negative": 0, "neutral": 0, "positive": 0})
            rec[sent] = rec.get(sent, 0) + int(n)
        for rec in out.values():
            rec["mentions"] = rec["negative"] + rec["neutral"] + rec["positive"]
        return list(out.values())

    def alert_counts(self, *, start: str, end: str, target: str | None = None) -> list[tuple[str, str, int]]:
        """(target, hour, alerts) for alerts on posts created in [start, end), duplicates excluded."""
        s = start[:10] + "T" + start[11:13] + ":00:00"
        e = end[:10] + "T" + end[11:13] + ":00:00"
        params: list[Any] = [s, e]
        sql = "SELECT target, created_at FROM alerts WHERE created_at >= ? AND created_at < ? AND status <> 'duplicate'"
        if target:
            sql += " AND target = ?"
            params.append(target)
        counts: dict[tuple[str, str], int] = {}
        for tgt, created in self.query(sql, params):
            key = (tgt, created[:13])
            counts[key] = counts.get(key, 0) + 1
        return [(t, h, n) for (t, h), n in sorted(counts.items())]

    def week_summary(self, week: str, targets: Sequence[str] | None = None) -> dict[str, Any]:
        """Per target: mentions, negative/neutral/positive, alerts in an ISO week, and the change
        from the week before. One entry per known target, zeros included."""
        names = list(targets) if targets else self.targets()
        prev = previous_week(week)

        def totals(wk: str) -> dict[str, dict[str, int]]:
            start, end = week_bounds(wk)
            t: dict[str, dict[str, int]] = {}
            for tgt, sent, n in self.query(
                "SELECT target, sentiment, SUM(n) FROM agg WHERE hour >= ? AND hour < ? GROUP BY target, sentiment",
                (start, end),
            ):
                t.setdefault(tgt, {})[sent] = int(n)
            for tgt, _h, n in self.alert_counts(start=start, end=end):
                t.setdefault(tgt, {})["alerts"] = t.get(tgt, {}).get("alerts", 0) + n
            return t

        cur, before = totals(week), totals(prev)
        for extra in sorted(set(cur) - set(names)):
            names.append(extra)
        out = []
        for name in names:
            c, b = cur.get(name, {}), before.get(name, {})
            entry: dict[str, Any] = {"target": name}
            for k in ("negative", "neutral", "positive"):
                entry[k] = c.get(k, 0)
            entry["mentions"] = entry["negative"] + entry["neutral"] + entry["positive"]
            entry["alerts"] = c.get("alerts", 0)
            pm = b.get("negative", 0) + b.get("neutral", 0) + b.get("positive", 0)
            entry["previous"] = {"mentions": pm, "negative": b.get("negative", 0), "neutral": b.get("neutral", 0),
                                 "positive": b.get("positive", 0), "alerts": b.get("alerts", 0)}
            entry["change"] = {
                "mentions": entry["mentions"] - pm,
                "mentions_pct": None if pm == 0 else round(100.0 * (entry["mentions"] - pm) / pm, 1),
                "alerts": entry["alerts"] - b.get("alerts", 0),
            }
            out.append({k: entry[k] for k in ("target", "mentions", "negative", "neutral", "positive", "alerts", "previous", "change")})
        return {"week": week, "previous_week": prev, "targets": out}

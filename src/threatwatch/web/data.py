"""Queries the desk needs beyond the store's own: the filtered alert queue, chart data and the
decisions export (labelled data for retraining)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from ..aggregate import SpikeParams, detect_spikes, detect_spikes_with_data
from ..store.sql import _ALERT_COLS, AlertRow, SQLStore

STATUSES = ("new", "credible", "not_a_threat", "escalated", "duplicate")


def alert_queue(store: SQLStore, *, status: str | None = None, target: str | None = None, lang: str | None = None,
                platform: str | None = None, limit: int = 50, offset: int = 0) -> list[AlertRow]:
    """Undecided first, then highest score, then newest; duplicates only when asked for."""
    where: list[str] = []
    params: list[Any] = []
    if status:
        where.append("status = ?")
        params.append(status)
    else:
        where.append("status <> 'duplicate'")
    for col, val in (("target", target), ("lang", lang), ("platform", platform)):
        if val:
            where.append(f"{col} = ?")
            params.append(val)
    sql = (f"SELECT {', '.join(_ALERT_COLS)} FROM alerts WHERE {' AND '.join(where)} "
           "ORDER BY CASE WHEN status = 'new' THEN 0 ELSE 1 END, threat_score DESC, created_at DESC, id DESC "
           "LIMIT ? OFFSET ?")
    return [store._alert(r) for r in store.query(sql, (*params, limit, offset))]


def facets(store: SQLStore) -> dict[str, list[str]]:
    """Values to offer in filter menus."""
    def col(sql: str) -> list[str]:
        return [r[0] for r in store.query(sql) if r[0]]
    targets = sorted(set(store.targets()) | set(col("SELECT DISTINCT target FROM agg"))
                     | set(col("SELECT DISTINCT target FROM alerts")))
    return {
        "targets": targets,
        "langs": sorted(set(col("SELECT DISTINCT lang FROM agg")) | set(col("SELECT DISTINCT lang FROM alerts"))),
        "platforms": sorted(set(col("SELECT DISTINCT platform FROM agg")) | set(col("SELECT DISTINCT platform FROM alerts"))),
        "statuses": list(STATUSES),
    }


def highlight(text: str, cues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Split `text` into segments, marking those covered by cue spans (offsets into the original
    text). Overlapping cues merge; bad offsets are ignored rather than breaking the page."""
    marks: list[tuple[int, int, str]] = []
    for c in cues:
        try:
            s, e = int(c.get("start", -1)), int(c.get("end", -1))
        except (TypeError, ValueError):
            continue
        if 0 <= s < e <= len(text):
            marks.append((s, e, f"{c.get('cue', '')} ({float(c.get('weight', 0.0)):+.2f})"))
    marks.sort()
    segs: list[dict[str, Any]] = []
    pos = 0
    for s, e, label in marks:
        if e <= pos:
            continue
        s = max(s, pos)
        if s > pos:
            segs.append({"text": text[pos:s], "cue": None})
        if segs and segs[-1]["cue"] and s == pos and pos > 0:
            segs[-1]["text"] += text[s:e]
            segs[-1]["cue"] += "; " + label
        else:
            segs.append({"text": text[s:e], "cue": label})
        pos = e
    if pos < len(text):
        segs.append({"text": text[pos:], "cue": None})
    return segs


def latest_day(store: SQLStore) -> date:
    """The last day with data (so charts of an old import are not empty), else today."""
    rows = store.query("SELECT MAX(hour) FROM agg")
    if rows and rows[0][0]:
        return date.fromisoformat(rows[0][0][:10])
    return date.today()


def overview(store: SQLStore, *, granularity: str = "day", days: int = 28, end: date | None = None,
             lang: str | None = None, platform: str | None = None) -> dict[str, Any]:
    """Chart data: per target and bucket, mentions by sentiment, alerts, and spikes.
    `granularity` day or week (weeks are ISO weeks; spikes are found on days and shown on their week)."""
    if granularity not in ("day", "week"):
        raise ValueError("granularity must be day or week")
    last = end or latest_day(store)
    end_d = last + timedelta(days=1)
    if granularity == "week":
        days = max(days, 7 * 12)
    start_d = end_d - timedelta(days=days)
    spikes, data = detect_spikes_with_data(store, start_d.isoformat(), end_d.isoformat(), granularity="day",
                                           lang=lang, platform=platform, params=SpikeParams())
    lo, hi = start_d.isoformat(), end_d.isoformat()
    data = {t: {d: c for d, c in cells.items() if lo <= d < hi} for t, cells in data.items()}

    def key(day: str) -> str:
        if granularity == "day":
            return day
        y, w, _ = date.fromisoformat(day).isocalendar()
        return f"{y}-W{w:02d}"

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for tgt, cells in data.items():
        for day, c in cells.items():
            r = rows.setdefault((tgt, key(day)), {"target": tgt, "bucket": key(day), "negative": 0, "neutral": 0,
                                                  "positive": 0, "mentions": 0, "alerts": 0})
            for k in ("negative", "neutral", "positive", "mentions", "alerts"):
                r[k] += c.get(k, 0)
    targets = sorted(set(facets(store)["targets"]) | {t for t, _ in rows})
    sp = [dict(s.as_dict(), bucket=key(s.bucket), day=s.bucket, text=s.describe()) for s in spikes]
    return {"granularity": granularity, "start": start_d.isoformat(), "end": end_d.isoformat(),
            "lang": lang, "platform": platform, "targets": targets,
            "rows": sorted(rows.values(), key=lambda r: (r["target"], r["bucket"])), "spikes": sp}


def spikes(store: SQLStore, *, granularity: str = "day", days: int = 28, end: date | None = None,
           target: str | None = None, lang: str | None = None, platform: str | None = None) -> list[dict[str, Any]]:
    last = end or latest_day(store)
    end_d = last + timedelta(days=1)
    if granularity == "hour":
        s, e = (end_d - timedelta(days=days)).isoformat() + "T00", end_d.isoformat() + "T00"
    else:
        s, e = (end_d - timedelta(days=days)).isoformat(), end_d.isoformat()
    found = detect_spikes(store, s, e, granularity=granularity, target=target, lang=lang, platform=platform)
    return [dict(x.as_dict(), text=x.describe()) for x in found]


# -- decisions as labelled data -----------------------------------------------------------------
# No sentiment column: sentiment is reported only in aggregate, never per post or per person.
EXPORT_FIELDS = ("alert_id", "post_id", "platform", "lang", "target", "text", "created_at", "threat", "threat_score",
                 "subtype", "judge", "decision", "reason", "note", "decided_by", "decided_at")


def decisions(store: SQLStore, since: str | None = None) -> Iterator[dict[str, Any]]:
    """Every decided alert with the model's outputs and the human label, oldest decision first
    (only those decided at or after `since`, an ISO time, when given: for incremental pulls).
    `label` maps the decision to the threat task: credible/escalated -> the model's threat class, not_a_threat -> none."""
    cols = ", ".join(_ALERT_COLS)
    sql = f"SELECT {cols} FROM alerts WHERE status IN ('credible', 'not_a_threat', 'escalated')"
    params: list[Any] = []
    if since:
        sql += " AND decided_at >= ?"
        params.append(since)
    for r in store.query(sql + " ORDER BY decided_at, id", params):
        a = store._alert(r)
        yield {"alert_id": a.id, "post_id": a.post_id, "platform": a.platform, "lang": a.lang, "target": a.target,
               "text": a.text, "created_at": a.created_at, "threat": a.threat, "threat_score": a.threat_score,
               "subtype": a.subtype, "judge": a.judge, "decision": a.status,
               "reason": a.reason, "note": a.note, "decided_by": a.decided_by, "decided_at": a.decided_at,
               "label": "none" if a.status == "not_a_threat" else a.threat}


def decisions_jsonl(store: SQLStore, since: str | None = None) -> str:
    return "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in decisions(store, since))


def decisions_csv(store: SQLStore, since: str | None = None) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[*EXPORT_FIELDS, "label"])
    w.writeheader()
    for d in decisions(store, since):
        w.writerow(d)
    return buf.getvalue()



def audit_entries(store: SQLStore, *, actor: str | None = None, action: str | None = None, obj: str | None = None,
                  limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    """The audit log, newest first, filtered by actor, action (prefix: 'login' also finds
    'login.failed') and object."""
    where: list[str] = []
    params: list[Any] = []
    if actor:
        where.append("actor = ?")
        params.append(actor)
    if action:
        where.append("(action = ? OR action LIKE ?)")
        params += [action, action.replace("%", "").replace("_", "") + ".%"]
    if obj:
        where.append("object = ?")
        params.append(obj)
    sql = "SELECT id, at, actor, action, object, detail FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = store.query(sql + " ORDER BY id DESC LIMIT ? OFFSET ?", (*params, limit, offset))
    return [dict(zip(("id", "at", "actor", "action", "object", "detail"), r, strict=True)) for r in rows]

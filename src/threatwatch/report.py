"""The weekly report: per target, mentions by sentiment, alerts, and the change from the week
before, as JSON (for scripts), CSV (for spreadsheets) or HTML (for people)."""

from __future__ import annotations

import csv
import html
import io
import json
from datetime import UTC, date, datetime
from typing import Any

from .store.sql import SQLStore

FORMATS = ("json", "csv", "html")
OUTCOME_KEYS = ("credible", "not_a_threat", "escalated", "pending")  # reviewers' decisions on the week's alerts


def current_week(today: date | None = None) -> str:
    y, w, _ = (today or datetime.now(UTC).date()).isocalendar()
    return f"{y}-W{w:02d}"


def weekly(store: SQLStore, week: str, targets: list[str] | None = None) -> dict[str, Any]:
    """The report's data; one entry per known target, zeros included. Besides the core keys,
    each target has `outcomes` (what reviewers decided about the week's alerts) and the data
    has `daily` (mentions by sentiment and alerts per target and day, for charts)."""
    data = store.week_summary(week, targets)
    add_outcomes(store, data)
    return data


def add_outcomes(store: SQLStore, data: dict[str, Any]) -> None:
    """Additive keys: per target, alert outcomes (credible / not a threat / escalated / pending)
    for alerts on posts created in the week; and per-day series for the week's charts."""
    from datetime import timedelta

    from .store.sql import week_bounds

    start, end = week_bounds(data["week"])
    s, e = start[:10] + "T00:00:00", end[:10] + "T00:00:00"
    counts: dict[str, dict[str, int]] = {}
    for tgt, status, n in store.query(
        "SELECT target, status, COUNT(*) FROM alerts WHERE created_at >= ? AND created_at < ? "
        "AND status <> 'duplicate' GROUP BY target, status", (s, e)):
        key = "pending" if status == "new" else status
        counts.setdefault(tgt, {})[key] = counts.get(tgt, {}).get(key, 0) + int(n)
    for t in data["targets"]:
        c = counts.get(t["target"], {})
        t["outcomes"] = {k: c.get(k, 0) for k in ("credible", "not_a_threat", "escalated", "pending")}
    days = [(date.fromisoformat(start[:10]) + timedelta(days=i)).isoformat() for i in range(7)]
    daily = {(r["target"], r["bucket"]): r for r in store.series(start=start, end=end, granularity="day")}
    alerts: dict[tuple[str, str], int] = {}
    for tgt, hour, n in store.alert_counts(start=start, end=end):
        alerts[(tgt, hour[:10])] = alerts.get((tgt, hour[:10]), 0) + n
    data["daily"] = [
        {"target": t["target"], "day": d,
         **{k: daily.get((t["target"], d), {}).get(k, 0) for k in ("negative", "neutral", "positive", "mentions")},
         "alerts": alerts.get((t["target"], d), 0)}
        for t in data["targets"] for d in days
    ]


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def to_csv(data: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["week", "target", "mentions", "negative", "neutral", "positive", "alerts",
                "mentions_prev_week", "mentions_change", "mentions_change_pct", "alerts_prev_week",
                "alerts_credible", "alerts_not_a_threat", "alerts_escalated", "alerts_pending"])
    for t in data["targets"]:
        pct = t["change"]["mentions_pct"]
        w.writerow([data["week"], t["target"], t["mentions"], t["negative"], t["neutral"], t["positive"], t["alerts"],
                    t["previous"]["mentions"], t["change"]["mentions"], "" if pct is None else pct,
                    t["previous"]["alerts"],
                    *(t.get("outcomes", {}).get(k, 0) for k in ("credible", "not_a_threat", "escalated", "pending"))])
    return buf.getvalue()


def _change(t: dict[str, Any]) -> str:
    pct = t["change"]["mentions_pct"]
    d = t["change"]["mentions"]
    if pct is None:
        return "new" if d else "—"
    return f"{'+' if d >= 0 else ''}{d} ({'+' if pct >= 0 else ''}{pct}%)"


def to_html(data: dict[str, Any]) -> str:
    """A self-contained page (no external assets, so it opens offline and prints well)."""
    rows = []
    for t in data["targets"]:
        m = t["mentions"] or 1
        bar = "".join(
            f'<span class="{k}" style="width:{100.0 * t[k] / m:.1f}%"></span>' for k in ("negative", "neutral", "positive")
        )
        rows.append(
            f"<tr><td>{html.escape(t['target'])}</td><td class=n>{t['mentions']}</td><td class=n>{t['negative']}</td>"
            f"<td class=n>{t['neutral']}</td><td class=n>{t['positive']}</td><td><div class=bar>{bar if t['mentions'] else ''}</div></td>"
            f"<td class=n>{t['alerts']}</td><td class=n>{_change(t)}</td>"
            + "".join(f"<td class=n>{t.get('outcomes', {}).get(k, 0)}</td>" for k in OUTCOME_KEYS) + "</tr>"
        )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>threatwatch weekly report {html.escape(data['week'])}</title>
<style>
body{{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:2em;color:#222}}
table{{border-collapse:collapse;width:100%}}th,td{{border-bottom:1px solid #ddd;padding:.4em .6em;text-align:left}}
td.n{{text-align:right;font-variant-numeric:tabular-nums}}
.bar{{display:flex;width:12em;height:.9em;background:#f3f3f3}}.bar span{{display:block;height:100%}}
.negative{{background:#c0392b}}.neutral{{background:#95a5a6}}.positive{{background:#27ae60}}
.legend span{{display:inline-block;width:.8em;height:.8em;margin:0 .3em 0 1em}}
</style></head><body>
<h1>Weekly report — {html.escape(data['week'])}</h1>
<p>On-target mentions of each watched target in ISO week {html.escape(data['week'])} (UTC), by the author's
sentiment toward the target, alerts raised for human review, and the change from {html.escape(data['previous_week'])}.
Sentiment is counted only in aggregate; no individual's posts are listed here.</p>
<p class=legend><span class=negative></span>negative<span class=neutral></span>neutral<span class=positive></span>positive</p>
<table><thead><tr><th>Target</th><th>Mentions</th><th>Negative</th><th>Neutral</th><th>Positive</th><th>Share</th>
<th>Alerts</th><th>Change in mentions</th><th>Credible</th><th>Not a threat</th><th>Escalated</th>
<th>Pending review</th></tr></thead><tbody>
{''.join(rows)}
</tbody></table></body></html>
"""


def render(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return to_json(data)
    if fmt == "csv":
        return to_csv(data)
    if fmt == "html":
        return to_html(data)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")

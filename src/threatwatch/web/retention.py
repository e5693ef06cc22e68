"""Applying the retention settings admins set on the desk (`retention.*` in the store's meta).

Keeping less is a safeguard: decided alerts hold public posts and reviewers' notes, rejects hold
input samples. The audit log is never purged (it is append-only); each purge is itself audited.
Run it from cron: `threatwatch retention --db D` (add `--dry-run` to see what would go).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ..store.sql import SQLStore

DEFAULTS = {"retention.alerts_decided_days": 365, "retention.rejects_days": 30, "retention.aggregates_days": 730}


def policy(store: SQLStore) -> dict[str, int]:
    """The settings in force (defaults where an admin set none)."""
    out = {}
    for key, default in DEFAULTS.items():
        raw = store.get_meta(key)
        out[key] = int(raw) if raw and raw.isdigit() else default
    return out


def apply_retention(store: SQLStore, *, now: datetime | None = None, dry_run: bool = False,
                    actor: str = "system") -> dict[str, Any]:
    """Delete what the policy says is too old; returns counts per kind (what would go, if dry_run).

    - decided alerts (credible / not a threat / escalated, and their duplicates) decided before the cutoff;
      undecided alerts are never purged: a person has not looked at them yet;
    - rejected-input records stored before the cutoff;
    - hourly aggregates and idempotency keys for hours before the cutoff.
    """
    now = now or datetime.now(UTC)
    pol = policy(store)

    def cutoff(key: str) -> datetime:
        return now - timedelta(days=pol[key])

    a_cut = cutoff("retention.alerts_decided_days").isoformat(timespec="seconds")
    r_cut = cutoff("retention.rejects_days").isoformat(timespec="seconds")
    h_cut = cutoff("retention.aggregates_days").strftime("%Y-%m-%dT%H")
    plan = [
        ("alerts", "FROM alerts WHERE status IN ('credible', 'not_a_threat', 'escalated') AND decided_at < ?", a_cut),
        ("alert_duplicates", "FROM alerts WHERE status = 'duplicate' AND dup_of IN (SELECT id FROM alerts "
                             "WHERE status IN ('credible', 'not_a_threat', 'escalated') AND decided_at < ?)", a_cut),
        ("rejects", "FROM rejects WHERE at < ?", r_cut),
        ("aggregates", "FROM agg WHERE hour < ?", h_cut),
        ("seen", "FROM seen WHERE hour < ?", h_cut),
    ]
    counts: dict[str, Any] = {}
    with store.lock:
        for name, where, param in plan:
            counts[name] = int(store.query(f"SELECT COUNT(*) {where}", (param,))[0][0])
        if not dry_run:
            # duplicates first: their parent rows are selected by the same condition
            for name in ("alert_duplicates", "alerts", "rejects", "aggregates", "seen"):
                where, param = next((w, p) for n, w, p in plan if n == name)
                store.execute(f"DELETE {where}", (param,))
            store.commit()
    counts["dry_run"] = dry_run
    counts["policy"] = pol
    if not dry_run:
        store.audit(actor, "retention.apply", "store", json.dumps(counts))
    return counts

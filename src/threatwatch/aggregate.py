"""Buckets and spikes: is this hour's or day's activity toward a target far above its own normal?

Each target is compared only with itself, and each bucket with the same slot of earlier weeks
(the same hour-of-week, or the same weekday), because activity has a weekly rhythm: Monday
mornings are busy every week and are not news. The baseline is the median of those slots and
its spread the MAD (median absolute deviation), which a single earlier burst cannot inflate.
A floor on the spread (Poisson for counts, binomial for shares) and a minimum count keep tiny
numbers from ever being spikes: 1 -> 3 alerts is noise, not a spike. See docs/spikes.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

GRANULARITIES = ("hour", "day")
METRICS = ("alerts", "negative_share")


@dataclass(frozen=True)
class SpikeParams:
    """Tuning knobs (defaults explained in docs/spikes.md)."""

    weeks: int = 4  # seasonal slots looked back: same hour-of-week / weekday in the previous N weeks
    z: float = 3.5  # robust z-score needed
    min_alerts: int = 5  # an alert spike needs at least this many alerts in the bucket
    min_ratio: float = 2.0  # ...and at least this multiple of the baseline (baseline taken as >= 1)
    min_mentions: int = 20  # a negative-share spike needs this many mentions in the bucket
    min_share_rise: float = 0.15  # ...and a share at least this far above the baseline share
    min_history: int = 2  # seasonal slots needed; else fall back to the recent buckets


@dataclass(frozen=True)
class Spike:
    target: str
    granularity: str
    bucket: str  # "2026-11-18" (day) or "2026-11-18T14" (hour, UTC)
    metric: str  # alerts | negative_share
    value: float  # the bucket's alert count, or its negative share (0..1)
    baseline: float  # the median of the comparison buckets
    z: float  # robust z-score
    ratio: float | None  # value / baseline (baseline floored at 1 alert), alerts only
    count: int  # alerts (alerts metric) or mentions (negative_share metric) in the bucket
    history: int  # how many comparison buckets the baseline used
    method: str  # "seasonal" or "recent"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One sentence for a notification or a chart tooltip."""
        if self.metric == "alerts":
            return (f"{self.target}: {int(self.value)} alerts in {self.bucket} ({self.granularity}), "
                    f"{self.ratio:.1f}x the usual {self.baseline:g} (z={self.z:.1f}, {self.method} baseline)")
        return (f"{self.target}: {100 * self.value:.0f}% negative of {self.count} mentions in {self.bucket} "
                f"({self.granularity}), usually {100 * self.baseline:.0f}% (z={self.z:.1f}, {self.method} baseline)")


# -- bucket arithmetic ------------------------------------------------------------------------
def bucket_of(hour: str, granularity: str) -> str:
    """Store hour key '2026-11-18T14' -> the bucket key at this granularity."""
    if granularity == "hour":
        return hour[:13]
    if granularity == "day":
        return hour[:10]
    raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")


def shift(bucket: str, granularity: str, steps: int) -> str:
    """The bucket `steps` buckets later (negative: earlier)."""
    if granularity == "hour":
        dt = datetime.strptime(bucket, "%Y-%m-%dT%H") + timedelta(hours=steps)
        return dt.strftime("%Y-%m-%dT%H")
    return (date.fromisoformat(bucket) + timedelta(days=steps)).isoformat()


def buckets_between(start: str, end: str, granularity: str) -> list[str]:
    """Buckets b with start <= b < end (bucket keys)."""
    out, b = [], start
    while b < end:
        out.append(b)
        b = shift(b, granularity, 1)
    return out


def _per_week(granularity: str) -> int:
    return 168 if granularity == "hour" else 7


def _history(bucket: str, granularity: str, first: str, p: SpikeParams) -> tuple[list[str], str]:
    """The comparison buckets: the same slot in earlier weeks, or else the recent buckets.
    Only buckets at or after `first` (when data for the target begins) count."""
    step = _per_week(granularity)
    seasonal = [b for k in range(1, p.weeks + 1) if (b := shift(bucket, granularity, -k * step)) >= first]
    if len(seasonal) >= p.min_history:
        return seasonal, "seasonal"
    recent_n = 24 if granularity == "hour" else 7
    recent = [b for k in range(1, recent_n + 1) if (b := shift(bucket, granularity, -k)) >= first]
    return recent, "recent"


def _mad(xs: list[float], med: float) -> float:
    return median(abs(x - med) for x in xs) if xs else 0.0


# -- the detectors (pure functions over bucket -> value maps) ----------------------------------
def _global_scale(residuals: list[float]) -> float:
    """Robust spread of (value - its seasonal median) over all checked buckets. Four earlier
    slots can agree by chance (a tiny MAD); this target-wide spread keeps the scale honest
    when the data are noisier than their own short history suggests."""
    if len(residuals) < 5:
        return 0.0
    m = median(residuals)
    return 1.4826 * median(abs(r - m) for r in residuals)


def count_spikes(target: str, counts: Mapping[str, int], check: Iterable[str], granularity: str,
                 first: str, p: SpikeParams = SpikeParams()) -> list[Spike]:
    """Alert-count spikes: buckets in `check` far above their seasonal median."""
    cands = []
    for b in check:
        hist, method = _history(b, granularity, first, p)
        if len(hist) < min(p.min_history, 2):
            continue  # no past to compare with
        xs = [float(counts.get(h, 0)) for h in hist]
        med = median(xs)
        cands.append((b, float(counts.get(b, 0)), med, 1.4826 * _mad(xs, med), len(hist), method))
    spread = _global_scale([x - med for _b, x, med, _s, _n, _m in cands])
    out = []
    for b, x, med, local, nh, method in cands:
        if x < p.min_alerts:
            continue
        scale = max(local, spread, math.sqrt(max(med, 1.0)))
        z = (x - med) / scale
        ratio = x / max(med, 1.0)
        if z >= p.z and ratio >= p.min_ratio:
            out.append(Spike(target, granularity, b, "alerts", x, med, round(z, 2), round(ratio, 2), int(x), nh, method))
    return out


def share_spikes(target: str, negative: Mapping[str, int], mentions: Mapping[str, int], check: Iterable[str],
                 granularity: str, first: str, p: SpikeParams = SpikeParams()) -> list[Spike]:
    """Negative-share spikes: buckets whose share of negative mentions is far above usual."""
    cands = []
    for b in check:
        n = mentions.get(b, 0)
        if n < max(5, p.min_mentions // 4):
            continue
        hist, method = _history(b, granularity, first, p)
        xs = [negative.get(h, 0) / mentions[h] for h in hist if mentions.get(h, 0) >= max(5, p.min_mentions // 4)]
        if len(xs) < 2:
            continue
        base = median(xs)
        cands.append((b, n, negative.get(b, 0) / n, base, 1.4826 * _mad(xs, base), len(xs), method))
    spread = _global_scale([share - base for _b, _n, share, base, _s, _k, _m in cands])
    out = []
    for b, n, share, base, local, nh, method in cands:
        if n < p.min_mentions:
            continue
        se = math.sqrt(max(base * (1 - base), 0.01) / n)
        scale = max(local, spread, se, 0.02)
        z = (share - base) / scale
        if z >= p.z and share - base >= p.min_share_rise:
            out.append(Spike(target, granularity, b, "negative_share", round(share, 4), round(base, 4), round(z, 2),
                             None, int(n), nh, method))
    return out


# -- reading the store ------------------------------------------------------------------------
def _hour_key(start: str) -> str:
    return start[:13] if len(start) >= 13 else start[:10] + "T00"


def load_counts(store: Any, start: str, end: str, granularity: str, *, target: str | None = None,
                lang: str | None = None, platform: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """Per target, bucket -> {alerts, negative, neutral, positive, mentions} between hour keys [start, end).
    Alerts count the posts (not duplicates) created in the bucket, with the same filters."""
    s, e = _hour_key(start), _hour_key(end)
    where, params = ["hour >= ?", "hour < ?"], [s, e]
    awhere, aparams = ["created_at >= ?", "created_at < ?", "status <> 'duplicate'"], [s + ":00:00", e + ":00:00"]
    for col, val in (("target", target), ("lang", lang), ("platform", platform)):
        if val:
            where.append(f"{col} = ?")
            params.append(val)
            awhere.append(f"{col} = ?")
            aparams.append(val)
    out: dict[str, dict[str, dict[str, int]]] = {}

    def cell(tgt: str, b: str) -> dict[str, int]:
        return out.setdefault(tgt, {}).setdefault(
            b, {"alerts": 0, "negative": 0, "neutral": 0, "positive": 0, "mentions": 0})

    for tgt, hour, sent, n in store.query(
            f"SELECT target, hour, sentiment, SUM(n) FROM agg WHERE {' AND '.join(where)} GROUP BY target, hour, sentiment",
            params):
        c = cell(tgt, bucket_of(hour, granularity))
        c[sent] = c.get(sent, 0) + int(n)
        c["mentions"] += int(n)
    for tgt, created in store.query(f"SELECT target, created_at FROM alerts WHERE {' AND '.join(awhere)}", aparams):
        cell(tgt, bucket_of(created[:13], granularity))["alerts"] += 1
    return out


def first_bucket(store: Any, granularity: str) -> dict[str, str]:
    """Per target, the first bucket with any data, so the baseline never looks before it."""
    firsts: dict[str, str] = {}
    for tgt, hour in store.query("SELECT target, MIN(hour) FROM agg GROUP BY target"):
        firsts[tgt] = bucket_of(hour, granularity)
    for tgt, created in store.query("SELECT target, MIN(created_at) FROM alerts GROUP BY target"):
        b = bucket_of(created[:13], granularity)
        firsts[tgt] = min(firsts.get(tgt, b), b)
    return firsts


def detect_spikes(store: Any, start: str, end: str, *, granularity: str = "day", target: str | None = None,
                  lang: str | None = None, platform: str | None = None,
                  params: SpikeParams = SpikeParams()) -> list[Spike]:
    """Spikes in buckets [start, end) (bucket keys or ISO dates), per target, both metrics,
    newest first. Reads `params.weeks` weeks before `start` for the baseline."""
    return detect_spikes_with_data(store, start, end, granularity=granularity, target=target, lang=lang,
                                   platform=platform, params=params)[0]


def detect_spikes_with_data(store: Any, start: str, end: str, *, granularity: str = "day", target: str | None = None,
                            lang: str | None = None, platform: str | None = None, params: SpikeParams = SpikeParams(),
                            ) -> tuple[list[Spike], dict[str, dict[str, dict[str, int]]]]:
    """detect_spikes, also returning the counts it read (baseline weeks included), so a caller
    drawing charts of the same window need not read them again."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    start_b, end_b = bucket_of(_hour_key(start), granularity), bucket_of(_hour_key(end), granularity)
    look = shift(start_b, granularity, -params.weeks * _per_week(granularity) - (24 if granularity == "hour" else 7))
    lo = look if granularity == "hour" else look + "T00"
    hi = end_b if granularity == "hour" else end_b + "T00"
    data = load_counts(store, lo, hi, granularity, target=target, lang=lang, platform=platform)
    firsts = first_bucket(store, granularity)
    check = buckets_between(start_b, end_b, granularity)
    spikes: list[Spike] = []
    for tgt, cells in sorted(data.items()):
        first = firsts.get(tgt, start_b)
        alerts = {b: c["alerts"] for b, c in cells.items()}
        neg = {b: c["negative"] for b, c in cells.items()}
        men = {b: c["mentions"] for b, c in cells.items()}
        spikes += count_spikes(tgt, alerts, check, granularity, first, params)
        spikes += share_spikes(tgt, neg, men, check, granularity, first, params)
    spikes.sort(key=lambda s: (s.bucket, s.target, s.metric), reverse=True)
    return spikes, data


# -- telling people ---------------------------------------------------------------------------
def spike_payload(s: Spike) -> dict[str, Any]:
    """What a spike notification says: aggregates only, never posts or people."""
    return {"event": "spike", **s.as_dict(), "text": s.describe(),
            "note": "Activity far above this target's usual level; see the desk's overview."}


def _email_spike(n: Any, s: Spike) -> None:
    """Email a spike with an SMTP notifier's settings (threatwatch.notify.SMTPNotifier words
    only alerts): plain text, aggregates only."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    m = EmailMessage()
    m["From"] = n.sender
    m["To"] = ", ".join(n.to)
    m["Subject"] = f"[threatwatch] spike: {s.target} ({s.metric.replace('_', ' ')}, {s.bucket})"
    m["Date"] = formatdate(localtime=False)
    m["Message-ID"] = make_msgid(idstring=f"spike.{s.metric}.{s.bucket}", domain="threatwatch.local")
    m.set_content(f"{s.describe()}.\n\nActivity toward this target is far above its usual level for this "
                  "time of the week. Counts only; see the overview in the review desk for the trend "
                  "and the alert queue for any posts that need a decision.\n")
    n.send(m)  # the notifier's own TLS, CA file and login rules, and its errors naming the server


def notify_spikes(store: Any, spikes: Iterable[Spike], notifiers: Iterable[Any]) -> list[Spike]:
    """Send each spike not sent before to every notifier; returns the ones sent.

    A notifier may implement `notify_spike(spike)`; a webhook-like one with `deliver(id, payload)`
    (threatwatch.notify) gets a JSON payload with `"event": "spike"`, sent once, synchronously;
    one that only has `notify_text(subject, body)` gets a sentence; an SMTP notifier gets an email. Sent spikes are remembered in the store's meta table, so running this from
    cron every hour does not repeat a message. Notifier failures are swallowed (they must not
    stop the others) and audited.
    """
    sent = []
    notifiers = list(notifiers)
    for s in spikes:
        key = f"spike_sent:{s.target}:{s.metric}:{s.granularity}:{s.bucket}"
        if store.get_meta(key):
            continue
        for n in notifiers:
            try:
                if hasattr(n, "notify_spike"):
                    n.notify_spike(s)
                elif hasattr(n, "deliver") and hasattr(n, "url"):
                    n.deliver(0, json.dumps(spike_payload(s), ensure_ascii=False))
                elif hasattr(n, "notify_text"):
                    n.notify_text(f"threatwatch spike: {s.target}", s.describe())
                elif hasattr(n, "send") and all(hasattr(n, a) for a in ("sender", "to")):
                    _email_spike(n, s)
                else:  # e.g. an email notifier that only knows how to word alerts
                    store.audit("system", "spike.notify_skipped", f"target:{s.target}",
                                f"{getattr(n, 'name', n)} cannot send spikes")
            except Exception as e:  # noqa: BLE001 - one notifier's failure must not stop the rest
                store.audit("system", "spike.notify_failed", f"target:{s.target}", f"{getattr(n, 'name', n)}: {e}")
        store.set_meta(key, s.describe())
        store.audit("system", "spike", f"target:{s.target}", s.describe())
        sent.append(s)
    return sent

"""Spike detection: a burst far above the target's own seasonal normal is flagged; small numbers,
weekly rhythms and old bursts are not."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from threatwatch.aggregate import (
    Spike,
    SpikeParams,
    buckets_between,
    count_spikes,
    detect_spikes,
    notify_spikes,
    share_spikes,
    shift,
)
from threatwatch.store import open_store
from threatwatch.web.sample import seed

DAY0 = date(2026, 10, 5)  # a Monday


def days(n: int) -> list[str]:
    return [(DAY0 + timedelta(days=i)).isoformat() for i in range(n)]


def test_bucket_arithmetic() -> None:
    assert shift("2026-11-18T23", "hour", 1) == "2026-11-19T00"
    assert shift("2026-03-01", "day", -1) == "2026-02-28"
    assert buckets_between("2026-11-18T22", "2026-11-19T01", "hour") == ["2026-11-18T22", "2026-11-18T23", "2026-11-19T00"]


def test_burst_far_above_the_seasonal_baseline_is_a_spike() -> None:
    ds = days(35)
    counts = {d: 1 for d in ds}
    counts[ds[-1]] = 9
    found = count_spikes("T", counts, [ds[-1]], "day", ds[0])
    assert len(found) == 1
    s = found[0]
    assert (s.metric, s.value, s.baseline, s.method, s.history) == ("alerts", 9.0, 1.0, "seasonal", 4)
    assert "9 alerts" in s.describe() and "9.0x" in s.describe()


def test_one_to_three_is_not_a_spike() -> None:
    ds = days(35)
    counts = {d: 0 for d in ds}
    counts[ds[-8]] = 1
    counts[ds[-1]] = 3
    assert count_spikes("T", counts, [ds[-1]], "day", ds[0]) == []


def test_a_weekly_rhythm_is_not_a_spike() -> None:
    """Mondays are always busy: comparing with earlier Mondays, a busy Monday is normal."""
    ds = days(35)
    counts = {d: (12 if date.fromisoformat(d).weekday() == 0 else 1) for d in ds}
    mondays = [d for d in ds[14:] if date.fromisoformat(d).weekday() == 0]
    assert count_spikes("T", counts, mondays, "day", ds[0]) == []
    # A "previous 7 days" baseline would flag every one of them; the seasonal baseline does not.
    assert count_spikes("T", counts, mondays, "day", ds[0], SpikeParams(min_history=99))


def test_one_earlier_burst_does_not_hide_the_next() -> None:
    """Median and MAD resist a single past outlier, so the baseline stays low."""
    ds = days(35)
    counts = {d: 1 for d in ds}
    counts[ds[-8]] = 40  # last week's same day was itself a burst
    counts[ds[-1]] = 10
    assert [s.bucket for s in count_spikes("T", counts, [ds[-1]], "day", ds[0])] == [ds[-1]]


def test_no_history_no_verdict() -> None:
    ds = days(3)
    counts = {d: 0 for d in ds}
    counts[ds[-1]] = 50
    assert count_spikes("T", counts, [ds[-1]], "day", ds[-1]) == []  # data begins that very day


def test_recent_fallback_when_few_weeks() -> None:
    ds = days(10)
    counts = {d: 1 for d in ds}
    counts[ds[-1]] = 12
    found = count_spikes("T", counts, [ds[-1]], "day", ds[0])
    assert found and found[0].method == "recent"


def test_negative_share_spike_needs_volume_and_a_real_rise() -> None:
    ds = days(35)
    mentions = {d: 100 for d in ds}
    negative = {d: 30 for d in ds}
    negative[ds[-1]] = 75
    found = share_spikes("T", negative, mentions, [ds[-1]], "day", ds[0])
    assert len(found) == 1 and found[0].metric == "negative_share" and found[0].value == 0.75
    # the same share on a handful of mentions is not evidence of anything
    few = {**mentions, ds[-1]: 8}
    assert share_spikes("T", {**negative, ds[-1]: 6}, few, [ds[-1]], "day", ds[0]) == []
    # a small rise on large volume is not a spike either
    assert share_spikes("T", {**negative, ds[-1]: 38}, mentions, [ds[-1]], "day", ds[0]) == []


def test_hourly_uses_the_same_hour_of_week() -> None:
    start = "2026-10-05T00"
    hours = buckets_between(start, shift(start, "hour", 24 * 35), "hour")
    counts = {h: (8 if h.endswith("T09") else 0) for h in hours}  # a daily 9am rush
    last9 = [h for h in hours if h.endswith("T09")][-1]
    assert count_spikes("T", counts, [last9], "hour", start) == []
    counts[last9] = 30
    assert [s.bucket for s in count_spikes("T", counts, [last9], "hour", start)] == [last9]


def test_detect_spikes_on_a_store_and_notify_once(tmp_path: Path) -> None:
    st = open_store(str(tmp_path / "s.sqlite"))
    seed(st)
    found = detect_spikes(st, "2026-11-16", "2026-11-23", granularity="day")
    assert [(s.target, s.bucket, s.metric) for s in found] == [("Riverside School District", "2026-11-22", "alerts")]
    assert detect_spikes(st, "2026-11-16", "2026-11-23", granularity="day", lang="es") == []

    class Collect:
        name = "collect"

        def __init__(self) -> None:
            self.got: list[Spike] = []

        def notify_spike(self, s: Spike) -> None:
            self.got.append(s)

    class Broken:
        name = "broken"

        def notify_text(self, subject: str, body: str) -> None:
            raise RuntimeError("smtp down")

    c = Collect()
    assert len(notify_spikes(st, found, [Broken(), c])) == 1
    assert notify_spikes(st, found, [c]) == []  # remembered: not sent twice
    assert len(c.got) == 1
    actions = [e["action"] for e in st.audit_log()]
    assert "spike" in actions and "spike.notify_failed" in actions


def test_params_are_tunable() -> None:
    ds = days(35)
    counts = {d: 0 for d in ds}
    counts[ds[-1]] = 3
    assert count_spikes("T", counts, [ds[-1]], "day", ds[0], SpikeParams(min_alerts=3, z=2.5))


def test_noisy_data_without_events_raises_almost_no_spikes() -> None:
    """Overdispersed random counts (no real event): the target-wide spread keeps false spikes rare."""
    import random

    rng = random.Random(3)
    start = "2026-10-05T00"
    hours = buckets_between(start, shift(start, "hour", 24 * 35), "hour")
    neg = {h: sum(rng.randint(0, 20) for _ in range(4)) for h in hours}
    men = {h: neg[h] + sum(rng.randint(0, 20) for _ in range(8)) for h in hours}
    alerts = {h: rng.randint(0, 6) for h in hours}
    check = hours[-24 * 7:]
    false = share_spikes("T", neg, men, check, "hour", start) + count_spikes("T", alerts, check, "hour", start)
    assert len(false) <= 2  # of 336 checks
    neg[check[-1]] = men[check[-1]] - 2  # then a real pile-on: nearly everything negative
    assert check[-1] in [s.bucket for s in share_spikes("T", neg, men, check, "hour", start)]

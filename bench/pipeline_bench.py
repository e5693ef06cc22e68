"""The measurements behind `python -m bench`, each run alone in its own process.

Why a process per measurement: peak RSS (VmHWM) is then the peak of that measurement only,
and one stage's warm caches or loaded models cannot flatter the next. The parent
(`bench/__main__.py`) runs `python -m bench.pipeline_bench <name> '<json args>'` and reads the
one JSON object the child prints last on stdout.

Measurements:
- generate  write the synthetic Jetstream file (threatwatch.demo_data's generator)
- parse     read + parse only (read_inputs), for reference
- floor     read + parse + normalise + match (the pipeline minus judge and store)
- e2e       read → normalise → match → judge → aggregate/alert → store, as `threatwatch run` does
- judge     the judge alone on on-target (post, target) pairs, batched and one at a time
- latency   posts fed at a fixed rate through Pipeline.process_batch (small batches, 200 ms
            flush), arrival → alert stored, read back from alerts.latency_s
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

GENERATOR_ENV = "THREATWATCH_BENCH_GENERATOR"  # "module:function", to bench another generator


def children_peak_rss_mb() -> float:
    """Largest peak RSS of any finished child process (helpers a measurement started), MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """Peak resident set size of this process (VmHWM), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: on a busy machine, posts per
    CPU-second is steadier than posts per wall-second."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100 * len(s) + 0.5)) - 1))
    return s[k]


def _watchlist(path: str):  # noqa: ANN202 - threatwatch type, imported lazily
    from threatwatch.config import load_watchlist

    return load_watchlist(path)


class NullJudge:
    """Stands in for the judge where a measurement must not load or run one."""

    name = "null"

    def judge_batch(self, items: list[Any]) -> list[Any]:
        raise AssertionError("the floor must not judge")


def _posts(path: str) -> Iterator[Any]:
    from threatwatch.sources import read_inputs

    return iter(read_inputs([path], "jetstream"))


# -- measurements -------------------------------------------------------------------------------
def m_generate(a: dict[str, Any]) -> dict[str, Any]:
    spec = os.environ.get(GENERATOR_ENV, "threatwatch.demo_data:generate_jetstream_stream")
    mod, _, fn = spec.partition(":")
    gen = getattr(importlib.import_module(mod), fn)
    t0 = time.perf_counter()
    n_lines = n_bytes = 0
    enc = msgspec.json.Encoder()
    with open(a["path"], "wb") as f:
        for item in gen(a["n"], a["on_target"], a["seed"]):
            if isinstance(item, bytes):
                raw = item
            elif isinstance(item, str):
                raw = item.encode("utf-8")
            else:
                raw = enc.encode(item)
            if not raw.endswith(b"\n"):
                raw += b"\n"
            f.write(raw)
            n_lines += 1
            n_bytes += len(raw)
    return {"lines": n_lines, "bytes": n_bytes, "seconds": time.perf_counter() - t0}


def m_parse(a: dict[str, Any]) -> dict[str, Any]:
    from threatwatch.post import Reject

    t0, c0 = time.perf_counter(), cpu_seconds()
    posts = rejects = 0
    for it in _posts(a["path"]):
        if isinstance(it, Reject):
            rejects += 1
        else:
            posts += 1
    sec, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"posts": posts, "rejects": rejects, "seconds": sec, "rate": posts / sec, "cpu_s": cpu,
            "cpu_rate": posts / cpu}


def m_floor(a: dict[str, Any]) -> dict[str, Any]:
    """read + parse + normalise + match: the same code as the pipeline's, nothing after it."""
    from threatwatch.pipeline import Pipeline, batched
    from threatwatch.post import Post

    pipe = Pipeline(_watchlist(a["watchlist"]), None, NullJudge(), batch_size=a["batch_size"])
    t0, c0 = time.perf_counter(), cpu_seconds()
    posts = pairs = 0
    for batch in batched(_posts(a["path"]), a["batch_size"]):
        ps = [p for p in batch if isinstance(p, Post)]
        posts += len(ps)
        pairs += len(pipe.match(ps))
    sec, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    return {"posts": posts, "mentions": pairs, "seconds": sec, "rate": posts / sec, "cpu_s": cpu,
            "cpu_rate": posts / cpu}


def m_e2e(a: dict[str, Any]) -> dict[str, Any]:
    """The `threatwatch run` path: read_inputs + Pipeline.run into a fresh SQLite file."""
    from threatwatch.judge import load_judge
    from threatwatch.pipeline import Pipeline
    from threatwatch.store import open_store

    db = Path(a["db"])
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    t_load = time.perf_counter()
    judge = load_judge(a["judge"])
    load_s = time.perf_counter() - t_load
    store = open_store(str(db))
    wl = _watchlist(a["watchlist"])
    helpers = a.get("helpers") or 0
    if helpers == "auto":  # as `threatwatch run` does by default
        try:
            from threatwatch.pipeline import auto_helpers
        except ImportError:  # a source tree from before the default: one process
            helpers = 0
        else:
            helpers = auto_helpers()
    try:  # helpers: judge helper processes overlapping judging with reading/matching
        pipe = (Pipeline(wl, store, judge, batch_size=a["batch_size"], judge_helpers=helpers) if helpers
                else Pipeline(wl, store, judge, batch_size=a["batch_size"]))
    except TypeError:  # a source tree from before the helper: always one process
        pipe = Pipeline(wl, store, judge, batch_size=a["batch_size"])
    t0, c0 = time.perf_counter(), cpu_seconds()
    st = pipe.run(_posts(a["path"]))
    sec, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    n_alerts = store.query("SELECT COUNT(*) FROM alerts")[0][0]
    store.close()
    return {"posts": st.read, "rejects": st.rejected_total, "mentions": st.mentions, "on_target": st.on_target,
            "alerts": st.alerts, "alerts_in_store": n_alerts, "seconds": sec, "rate": st.read / sec,
            "cpu_s": cpu, "cpu_rate": st.read / cpu, "children_peak_rss_mb": children_peak_rss_mb(),
            "helpers": getattr(pipe, "helpers_used", 0), "load_at_end": os.getloadavg()[0],
            "judge": getattr(judge, "name", a["judge"]), "judge_load_s": load_s,
            "db_mb": db.stat().st_size / 2**20 if db.exists() else None}


def _judge_inputs(a: dict[str, Any], want: int) -> list[Any]:
    """The first `want` (post, target) pairs the matcher finds in the file, as judge inputs."""
    from threatwatch.pipeline import Pipeline, batched
    from threatwatch.post import Post

    pipe = Pipeline(_watchlist(a["watchlist"]), None, NullJudge())
    pairs: list[Any] = []
    for batch in batched(_posts(a["path"]), 2000):
        pairs.extend(pipe.match([p for p in batch if isinstance(p, Post)]))
        if len(pairs) >= want:
            break
    pairs = pairs[:want]
    from threatwatch.judge import JudgeInput
    from threatwatch.normalise import fold

    targets = {t.name: t for t in pipe.watchlist.targets}
    return [JudgeInput(text=p.text, folded=fold(p.text), lang=p.lang, target=targets[m.target],
                       mention_spans=list(m.spans)) for p, m in pairs]


def _cold(judge: Any) -> None:
    """Forget cached embeddings, so each measurement starts as a fresh process would."""
    cache = getattr(judge, "_ecache", None)
    if cache is not None:
        cache.clear()


def m_judge(a: dict[str, Any]) -> dict[str, Any]:
    """Judge alone on the first on-target pairs of the file, as they come (the generator repeats
    texts, as reposts do, so the embedding cache helps), and on pairs with distinct texts only
    (the worst case for the cache)."""
    from threatwatch.judge import load_judge

    inputs = _judge_inputs(a, a["pairs"] * 8)
    seen: set[str] = set()
    distinct = [it for it in inputs if not (it.text in seen or seen.add(it.text))][: a["pairs"]]
    inputs = inputs[: a["pairs"]]
    t_load = time.perf_counter()
    judge = load_judge(a["judge"])
    judge.judge_batch(inputs[:8])  # warm-up: lazy loads (VADER, embeddings) are not judging
    load_s = time.perf_counter() - t_load
    bs = a["judge_batch"]

    def batched(items: list[Any]) -> tuple[float, float, int]:
        _cold(judge)
        t0, c0 = time.perf_counter(), cpu_seconds()
        n = 0
        for i in range(0, len(items), bs):
            n += len(judge.judge_batch(items[i : i + bs]))
        return len(items) / (time.perf_counter() - t0), len(items) / (cpu_seconds() - c0), n

    rate, cpu_rate, out = batched(inputs)
    d_rate, d_cpu_rate, _ = batched(distinct)
    single = distinct[: a["single"]]
    _cold(judge)
    t0 = time.perf_counter()
    for it in single:
        judge.judge_batch([it])
    single_s = time.perf_counter() - t0
    return {"pairs": len(inputs), "judged": out, "batch": bs, "batched_rate": rate, "batched_cpu_rate": cpu_rate,
            "distinct_pairs": len(distinct), "distinct_texts_in_pairs": len({it.text for it in inputs}),
            "distinct_rate": d_rate, "distinct_cpu_rate": d_cpu_rate,
            "single_n": len(single), "single_rate": len(single) / single_s if single else None,
            "judge": getattr(judge, "name", a["judge"]), "load_s": load_s}


def m_latency(a: dict[str, Any]) -> dict[str, Any]:
    """Open-loop load: post i arrives at t0 + i/rate (received_at = that arrival time, so time
    spent queued behind a slow batch counts). A batch is flushed when it holds `max_batch`
    posts or its oldest post has waited `flush_s`. With `floor` the batch is only matched."""
    from threatwatch.judge import load_judge
    from threatwatch.pipeline import Pipeline
    from threatwatch.post import Post
    from threatwatch.store import open_store

    rate, n = float(a["rate"]), int(a["rate"] * a["duration"])
    posts: list[Post] = []
    for it in _posts(a["path"]):
        if isinstance(it, Post):
            posts.append(it)
            if len(posts) >= n + 2000:
                break
    warm, posts = posts[n:], posts[:n]
    wl = _watchlist(a["watchlist"])
    store = None
    if a["floor"]:
        pipe = Pipeline(wl, None, NullJudge())
        pipe.match(warm)  # warm-up (lazy loads: language model, prefilter), not timed
    else:
        db = Path(a["db"])
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        judge = load_judge(a["judge"])
        store = open_store(str(db))
        pipe = Pipeline(wl, store, judge)
        # warm-up, not timed: lazy model loads (embeddings, per-target caches) happen once at
        # start, not at the first alert; judged, not stored
        pipe.judge_pairs(pipe.match(warm))
    flush_s, max_batch = a["flush_s"], a["max_batch"]
    per_post: list[float] = []
    batches = 0
    i = 0
    t0 = time.time()
    while i < len(posts):
        now = time.time()
        first_due = t0 + i / rate
        if now < first_due:
            time.sleep(first_due - now)
            continue
        # the batch: posts that have arrived, up to max_batch; wait for more until the oldest
        # has waited flush_s (or the batch is full)
        deadline = first_due + flush_s
        while True:
            now = time.time()
            arrived = min(len(posts), int((now - t0) * rate) + 1)
            if arrived - i >= max_batch or now >= deadline or arrived >= len(posts):
                break
            nxt = t0 + arrived / rate
            time.sleep(max(0.0, min(nxt, deadline) - now))
        j = min(arrived, i + max_batch)
        batch = posts[i:j]
        for k, p in enumerate(batch, start=i):
            p.received_at = t0 + k / rate
        if a["floor"]:
            pipe.match(batch)
        else:
            pipe.process_batch(batch)
        done = time.time()
        per_post.extend(done - p.received_at for p in batch if p.received_at is not None)
        batches += 1
        i = j
    wall = time.time() - t0
    alert_lat: list[float] = []
    if store is not None:
        alert_lat = [r[0] for r in store.query("SELECT latency_s FROM alerts WHERE latency_s IS NOT NULL")]
        store.close()
    return {"rate": rate, "posts": len(posts), "batches": batches, "wall_s": wall,
            "achieved_rate": len(posts) / wall if wall else None,
            "alerts": len(alert_lat), "alert_p50": percentile(alert_lat, 50), "alert_p99": percentile(alert_lat, 99),
            "alert_max": max(alert_lat) if alert_lat else None,
            "post_p50": percentile(per_post, 50), "post_p99": percentile(per_post, 99)}


MEASUREMENTS = {"generate": m_generate, "parse": m_parse, "floor": m_floor, "e2e": m_e2e, "judge": m_judge,
                "latency": m_latency}


def main(argv: list[str]) -> int:
    name, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    res = MEASUREMENTS[name](args)
    res["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write("\n" + json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Live-source benchmark: a local Jetstream replay server → websocket → LiveRunner → judge → store.

    python bench/live_bench.py                 # defaults: 20,000 posts flat out; 30 s at 40/s; 10 s at 4,000/s
    python bench/live_bench.py --quick         # a smoke test (a few seconds each)
    python bench/live_bench.py --judge lexicon --max-posts 50000

Measured, each in the same run (figures, not pass/fail):
- floor: websocket read + decode only (no judge, no store) — what the reader side can take;
- sustained: posts/s from the first frame to the stored checkpoint of the last one;
- latency: arrival (the post read off the socket) → stored, for every post, and → alert stored
  for the alerting ones (from the store's latency_s), p50 / p99, at Bluesky's rate (~40
  posts/s) and at 100x (4,000 posts/s). 2% of posts name the target (`--on-target`), 1 in 6
  of those is a threat.
The replay server runs in its own process, as a real Jetstream host would.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "live"))
WATCHLIST = ROOT / "tests" / "fixtures" / "live" / "watchlist.toml"


OFF_TOPIC = [
    "just made pancakes and they came out perfect",
    "anyone else watching the game tonight? that last quarter was wild",
    "new blog post about gardening in small spaces",
    "el tren llegó tarde otra vez, qué lata",
    "reading a great book about the history of maps",
]
ON_TOPIC = [
    "Riverside School District board meets tonight to discuss the budget",
    "Proud of the Riverside School District robotics team, great work!",
    "Riverside School District buses late again, terrible service",
    "El distrito escolar Riverside School District abre inscripciones",
    "Riverside School District should fire the whole board, useless",
    "I am going to shoot up Riverside School District tomorrow, watch",
]


def stream_events(n: int, on_target: float) -> list[dict]:
    """n post events; a share `on_target` names the watched target (1 in 6 of those a threat)."""
    import random

    from live_servers import jetstream_post_event

    rng = random.Random(7)
    out = []
    for i in range(n):
        pool = ON_TOPIC if rng.random() < on_target else OFF_TOPIC
        out.append(jetstream_post_event(i, f"{pool[rng.randrange(len(pool))]} #{i}"))
    return out


def _serve(n: int, rate: float | None, on_target: float, q: Any) -> None:
    from live_servers import JetstreamReplay

    srv = JetstreamReplay(stream_events(n, on_target), rate=rate).start()
    q.put(srv.url)
    while True:
        time.sleep(3600)


def start_server(n: int, rate: float | None, on_target: float) -> tuple[mp.Process, str]:
    q: Any = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=_serve, args=(n, rate, on_target, q), daemon=True)
    p.start()
    return p, q.get(timeout=60)


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def run_once(n: int, rate: float | None, judge: str, *, on_target: float = 0.02, store_posts: bool = True,
             timeout: float = 600) -> dict[str, Any]:
    """Stream n posts (at `rate`/s or flat out) through the live path; return the figures."""
    from threatwatch.config import load_watchlist
    from threatwatch.judge import load_judge
    from threatwatch.live import CallbackSink, LiveRunner, PipelineSink
    from threatwatch.pipeline import Pipeline
    from threatwatch.sources.jetstream import JetstreamSource
    from threatwatch.store import open_store

    proc, url = start_server(n, rate, on_target)
    tmp = tempfile.mkdtemp(prefix="tw-live-bench-")
    store = None
    try:
        src = JetstreamSource([url], log=lambda _m: None)
        seen = [0]
        if store_posts:
            store = open_store(f"{tmp}/bench.sqlite")
            pipe = Pipeline(load_watchlist(WATCHLIST), store, load_judge(judge), batch_size=500)
            sink: Any = PipelineSink(pipe)
        else:
            sink = CallbackSink(lambda _s, items, _p: seen.__setitem__(0, seen[0] + len(items)))
        lat_all: list[float] = []
        inner = sink

        class Timed:
            """Arrival → stored for every post (an alert is stored in the same transaction)."""

            def checkpoint(self, source: str) -> Any:
                return inner.checkpoint(source)

            def handle(self, source: str, items: list, position: Any) -> Any:
                res = inner.handle(source, items, position)
                now = time.time()
                lat_all.extend(now - it.received_at for it in items if getattr(it, "received_at", None))
                return res

            def close(self) -> None:
                inner.close()

        sink = Timed()
        runner = LiveRunner([src], sink, batch_size=500, max_delay=0.2, queue_size=5000, log=lambda _m: None)
        first: list[float] = []

        async def main() -> None:
            stop = asyncio.Event()
            deadline = time.monotonic() + timeout

            def tick(r: LiveRunner) -> None:
                st = r.stats.sources[src.name]
                if st.posts and not first:
                    first.append(time.perf_counter())
                done = (r.stats.stored >= n) if store_posts else seen[0] >= n
                if done or time.monotonic() > deadline:
                    stop.set()
            await runner.run(stop, on_status=tick, status_every=0.01)

        t0 = time.perf_counter()
        asyncio.run(main())
        t1 = time.perf_counter()
        got = runner.stats.stored if store_posts else seen[0]
        secs = t1 - (first[0] if first else t0)
        out: dict[str, Any] = {"posts": got, "seconds": secs, "rate": got / secs if secs else 0.0,
                               "max_queue": runner.stats.max_queued,
                               "all_p50": pct(lat_all, 50), "all_p99": pct(lat_all, 99)}
        if store is not None:
            lat = [float(r[0]) for r in store.query("SELECT latency_s FROM alerts WHERE latency_s IS NOT NULL")]
            out.update(alerts=len(lat))
            if lat:
                out.update(p50=pct(lat, 50), p99=pct(lat, 99))
        return out
    finally:
        if store is not None:
            store.close()
        proc.kill()
        proc.join(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--judge", default="default", help="judge model (default | lexicon)")
    ap.add_argument("--max-posts", type=int, default=20_000, help="posts for the flat-out runs")
    ap.add_argument("--low-seconds", type=float, default=30.0, help="duration of the 40 posts/s run")
    ap.add_argument("--high-seconds", type=float, default=10.0, help="duration of the 4,000 posts/s run")
    ap.add_argument("--on-target", type=float, default=0.02,
                    help="share of posts naming the target (Bluesky-like default 2%%; 1 in 6 of those a threat)")
    ap.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    a = ap.parse_args()
    if a.quick:
        a.max_posts, a.low_seconds, a.high_seconds = 3000, 5.0, 2.0

    from rich.console import Console
    from rich.table import Table

    rows: list[tuple[str, dict[str, Any]]] = []
    ot = a.on_target
    rows.append(("floor: ws read+decode only", run_once(a.max_posts, None, a.judge, on_target=ot, store_posts=False)))
    rows.append(("sustained, flat out", run_once(a.max_posts, None, a.judge, on_target=ot)))
    rows.append(("at 40 posts/s", run_once(max(1, int(40 * a.low_seconds)), 40.0, a.judge, on_target=ot)))
    rows.append(("at 4,000 posts/s (100x)", run_once(max(1, int(4000 * a.high_seconds)), 4000.0, a.judge, on_target=ot)))
    floor = rows[0][1]["rate"] or 1.0
    t = Table(title=f"Live path: Jetstream replay → websocket → judge ({a.judge}) → SQLite; "
                    f"{ot:.0%} of posts on-target", title_justify="left")
    for col in ("run", "posts", "posts/s", "ratio to floor", "p50 arrival→stored", "p99 arrival→stored", "alerts",
                "p50 arrival→alert", "p99 arrival→alert", "max queue"):
        t.add_column(col, justify="left" if col == "run" else "right")
    for name, r in rows:
        t.add_row(name, f"{r['posts']:,}", f"{r['rate']:,.0f}", f"{r['rate'] / floor:.2f}",
                  f"{r['all_p50'] * 1000:,.0f} ms", f"{r['all_p99'] * 1000:,.0f} ms", f"{r.get('alerts', '-')}", f"{r['p50'] * 1000:,.0f} ms" if "p50" in r else "-",
                  f"{r['p99'] * 1000:,.0f} ms" if "p99" in r else "-", f"{r['max_queue']:,}")
    c = Console(width=150)
    c.print(t)
    c.print("arrival = the post read off the websocket; stored = its batch committed (aggregates, alert, checkpoint"
            " in one transaction), so for alerting posts arrival→stored is arrival→alert.")
    c.print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB "
            "(the replay server runs in a separate process)")


if __name__ == "__main__":
    main()

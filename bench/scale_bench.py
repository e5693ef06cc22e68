"""Scale-out throughput: 1, 2, 4 bus workers (Redis Streams + PostgreSQL) against the
single-process default (SQLite), and where the time goes (judge, bus, store).

    python bench/scale_bench.py --posts 20000 --judge lexicon --workers 1,2,4

Starts its own redis-server and PostgreSQL (the Debian packages; see tests/servers.py) on
127.0.0.1 in temp dirs. Input is generated: `--mention-share` of the posts name a watched
target (only those are judged), a few are threats (stored as alerts). Figures, not pass/fail;
they depend on the machine, so compare rows of one run, not runs of different machines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway-server helpers the tests use

import redis  # noqa: E402

from servers import WATCHLIST, PostgresServer, RedisServer  # noqa: E402
from threatwatch.bus import RedisPublisher, publish_inputs  # noqa: E402
from threatwatch.config import load_watchlist  # noqa: E402
from threatwatch.judge import load_judge  # noqa: E402
from threatwatch.pipeline import Pipeline  # noqa: E402
from threatwatch.sources import read_inputs  # noqa: E402
from threatwatch.store import open_store  # noqa: E402

ON = ["ICE agents were seen downtown, stay safe", "ICE agents raided the store today, terrible",
      "Lincoln High won the game, great job", "la alcaldesa Ferrer inauguró el parque, qué bien",
      "I will kill the ICE agents at the office tomorrow", "Voy a matar a la alcaldesa Ferrer",
      "ICE train delayed again"]
OFF = ["what a lovely morning for a run", "new phone who dis", "el partido de ayer fue increíble",
       "traffic on the bridge is terrible again", "reading a good book tonight", "café con leche, por favor"]


def corpus(path: Path, n: int, share: float, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            text = rng.choice(ON if rng.random() < share else OFF) + f" #{i}"
            f.write(json.dumps({"id": f"b{i}", "text": text, "created_at": f"2026-11-{16 + i % 7:02d}T{i % 24:02d}:00:00Z",
                                "author": f"@walker{i % 101}.example"}, ensure_ascii=False) + "\n")
    return path


def timed(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


BYTES_PER_ENTRY = 0.0
SUMMARY = re.compile(r"busy ([\d.]+)s \(store ([\d.]+)s, wait for input ([\d.]+)s\)")


def run_workers(n: int, bus: str, db: str, path: Path, args: argparse.Namespace, total: int) -> dict[str, float]:
    stream = f"bench:{n}:{time.time_ns()}"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "threatwatch.bus", "worker", "--bus", bus, "--db", db, "--watchlist", str(WATCHLIST),
         "--judge", args.judge, "--stream", stream, "--name", f"w{i}", "--batch-size", str(args.batch_size),
         "--block", "0.1", "--exit-when-idle", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(n)]
    for p in procs:  # each says so once its judge is loaded and it has joined the group
        assert p.stderr is not None
        while "reading" not in (line := p.stderr.readline()):
            if not line:
                raise RuntimeError("worker died at start")
    r = redis.Redis.from_url(bus)
    pub = RedisPublisher(bus, stream=stream, maxlen=max(total * 2, 1000))
    t0 = time.perf_counter()
    publish_inputs(pub, read_inputs([str(path)]), batch_size=500, resume=False)
    t_pub = time.perf_counter() - t0
    while True:  # done when every entry was delivered and acked
        g = r.xinfo_groups(stream)[0]
        if int(g["pending"]) == 0 and int(g.get("lag") or 0) == 0 and int(g.get("entries-read") or 0) >= total:
            break
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    busy = store = wait = 0.0
    for p in procs:
        _, errs = p.communicate(timeout=120)
        m = SUMMARY.search(errs)
        if p.returncode != 0 or not m:
            raise RuntimeError(errs[-2000:])
        busy += float(m.group(1))
        store += float(m.group(2))
        wait += float(m.group(3))
    return {"wall": wall, "publish": t_pub, "busy": busy, "store": store, "judge": busy - store, "wait": wait}


def bus_drain(bus: str, path: Path, total: int) -> tuple[float, float]:
    """Bus alone: publish rate, and XREADGROUP+decode+XACK rate of one consumer doing nothing else."""
    from threatwatch.bus.redis_streams import decode

    stream = f"drain:{time.time_ns()}"
    pub = RedisPublisher(bus, stream=stream, maxlen=max(total * 2, 1000))
    _, t_pub = timed(lambda: publish_inputs(pub, read_inputs([str(path)]), batch_size=500, resume=False))
    r = redis.Redis.from_url(bus)
    global BYTES_PER_ENTRY
    BYTES_PER_ENTRY = int(r.memory_usage(stream, samples=0) or 0) / max(1, int(r.xlen(stream)))
    r.xgroup_create(stream, "g", id="0")
    t0 = time.perf_counter()
    got = 0
    while got < total:
        resp = r.xreadgroup("g", "c", {stream: ">"}, count=500)
        ids = [i for i, f in resp[0][1]]
        for _, f in resp[0][1]:
            decode(f)
        r.xack(stream, "g", *ids)
        got += len(ids)
    return total / t_pub, total / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--mention-share", type=float, default=0.3, help="share of posts naming a target")
    ap.add_argument("--judge", default="lexicon")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration; the best is reported")
    args = ap.parse_args()
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="tw-scale-"))
    path = corpus(tmp / "in.jsonl", args.posts, args.mention_share)
    wl = load_watchlist(WATCHLIST)
    judge = load_judge(args.judge)
    items = list(read_inputs([str(path)]))
    n = len(items)
    best: dict[str, tuple[float, str]] = {}
    order: list[str] = []

    def keep(name: str, rate: float, note: str = "") -> None:
        if name not in best:
            order.append(name)
        if name not in best or rate > best[name][0]:
            best[name] = (rate, note)

    Pipeline(wl, None, judge).run(items[:1000])  # warm up: language model, matcher, judge
    pg, rs = PostgresServer(), RedisServer()
    try:
        for _ in range(args.repeat):
            # floors, in this process
            _, t_read = timed(lambda: list(read_inputs([str(path)])))
            keep("read files only", n / t_read)
            st, t_judge = timed(lambda: Pipeline(wl, None, judge, batch_size=args.batch_size).run(items))
            keep("match + judge only (no store)", n / t_judge, f"{st.mentions:,} target mentions judged")
            lite_path = tmp / f"single-{time.time_ns()}.sqlite"
            lite = open_store(str(lite_path))
            _, t_lite = timed(lambda s=lite: Pipeline(wl, s, judge, batch_size=args.batch_size).run(read_inputs([str(path)])))
            lite.close()
            keep("single process, SQLite (default)", n / t_lite, "the floor the others are compared to")
            pg_single = open_store(pg.create_db())
            _, t_pg = timed(lambda s=pg_single: Pipeline(wl, s, judge, batch_size=args.batch_size).run(read_inputs([str(path)])))
            pg_single.close()
            keep("single process, PostgreSQL", n / t_pg)
            pub_rate, drain_rate = bus_drain(rs.url, path, n)
            keep("bus: publish (XADD, MULTI of 500)", pub_rate, "one publisher")
            keep("bus: consume (XREADGROUP + decode + XACK)", drain_rate, "one consumer, no judging")
            for k in [int(x) for x in args.workers.split(",")]:
                db = pg.create_db()
                open_store(db).close()  # migrate before the clock starts
                r = run_workers(k, rs.url, db, path, args, n)
                busy = r["busy"] or 1.0
                keep(f"{k} worker{'s' if k > 1 else ''}, Redis + PostgreSQL", n / r["wall"],
                     f"judge {100 * r['judge'] / busy:.0f}% / store {100 * r['store'] / busy:.0f}% of busy time; "
                     f"workers busy {100 * busy / (k * r['wall']):.0f}% of the run")
    finally:
        pg.stop()
        rs.stop()

    base = best["single process, SQLite (default)"][0]
    print(f"\n{n:,} records ({args.mention_share:.0%} name a target), judge={args.judge}, batch {args.batch_size}, "
          f"{os.cpu_count()} CPUs, best of {args.repeat}; load average {load0[0]:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end\n")
    print(f"| {'configuration':<44} | {'records/s':>10} | {'x default':>9} | notes (of the best run)")
    print(f"|{'-' * 46}|{'-' * 12}|{'-' * 11}|------")
    for name in order:
        rate, note = best[name]
        print(f"| {name:<44} | {rate:>10,.0f} | {rate / base:>8.2f}x | {note}")
    print(f"\nRedis memory per stream entry: {BYTES_PER_ENTRY:,.0f} bytes (MEMORY USAGE / XLEN)")


if __name__ == "__main__":
    main()

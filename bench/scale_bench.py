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
import resource
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


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds of a process and its reaped children (PostgreSQL backends end up in the
    postmaster's cutime/cstime when their connection closes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


BYTES_PER_ENTRY = 0.0
SUMMARY = re.compile(r"busy ([\d.]+)s \(store ([\d.]+)s, wait for input ([\d.]+)s\)")


def pg_backends_cpu(pg: PostgresServer, db_url: str) -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL backend connected to that database, by pid."""
    import psycopg

    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(pg.url(), autocommit=True) as c:
        pids = [r[0] for r in c.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]
    out = {}
    for pid in pids:
        try:
            out[pid] = proc_cpu(pid)
        except FileNotFoundError:
            pass
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def run_workers(n: int, bus: str, db: str, path: Path, args: argparse.Namespace, total: int,
                pg: PostgresServer, rs: RedisServer, wl: object = None) -> dict[str, float]:
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
    pub = RedisPublisher(bus, stream=stream, maxlen=max(total * 2, 1000), watchlist=wl)
    cpu_w0 = sum(proc_cpu(p.pid) for p in procs)
    cpu_pg0, cpu_rs0, cpu_me0 = pg_backends_cpu(pg, db), proc_cpu(rs.proc.pid), time.process_time()  # type: ignore[union-attr]
    t0 = time.perf_counter()
    publish_inputs(pub, read_inputs([str(path)]), batch_size=500, resume=False)
    t_pub = time.perf_counter() - t0
    cpu_pub = time.process_time() - cpu_me0
    while True:  # done when every entry was delivered and acked
        g = r.xinfo_groups(stream)[0]
        if int(g["pending"]) == 0 and int(g.get("lag") or 0) == 0 and int(g.get("entries-read") or 0) >= pub.published:
            break
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    cpu_w = sum(proc_cpu(p.pid) for p in procs) - cpu_w0
    cpu_pg = cpu_delta(cpu_pg0, pg_backends_cpu(pg, db))
    cpu_rs = proc_cpu(rs.proc.pid) - cpu_rs0  # type: ignore[union-attr]
    busy = store = wait = 0.0
    for p in procs:
        _, errs = p.communicate(timeout=120)
        m = SUMMARY.search(errs)
        if p.returncode != 0 or not m:
            raise RuntimeError(f"worker exit {p.returncode}: {errs[-2000:]}")
        busy += float(m.group(1))
        store += float(m.group(2))
        wait += float(m.group(3))
    return {"wall": wall, "publish": t_pub, "busy": busy, "store": store, "judge": busy - store, "wait": wait,
            "cpu_pub": cpu_pub, "cpu_app": cpu_w, "cpu_pg": cpu_pg, "cpu_redis": cpu_rs}


def publish_filtered(bus: str, path: Path, wl: object) -> tuple[float, int]:
    """Publisher with the watchlist filter: records read per second, and entries sent."""
    pub = RedisPublisher(bus, stream=f"filtered:{time.time_ns()}", watchlist=wl)
    done, t = timed(lambda: publish_inputs(pub, read_inputs([str(path)]), batch_size=500, resume=False))
    return sum(done.values()) / t, pub.published


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


Row = tuple[float, dict[str, float], str]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=20000)
    ap.add_argument("--mention-share", type=float, default=0.3, help="share of posts naming a target")
    ap.add_argument("--judge", default="lexicon")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3, help="runs per configuration; the fastest is reported")
    args = ap.parse_args()
    load0 = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="tw-scale-"))
    path = corpus(tmp / "in.jsonl", args.posts, args.mention_share)
    wl = load_watchlist(WATCHLIST)
    judge = load_judge(args.judge)
    items = list(read_inputs([str(path)]))
    n = len(items)
    best: dict[str, Row] = {}
    order: list[str] = []

    def keep(name: str, rate: float, cpu: dict[str, float] | None = None, note: str = "") -> None:
        if name not in best:
            order.append(name)
        if name not in best or rate > best[name][0]:
            best[name] = (rate, cpu or {}, note)

    def single(store_url: str | None) -> tuple[float, dict[str, float]]:
        """One process: read, judge, store; wall time and CPU (this process + PostgreSQL)."""
        store = open_store(store_url) if store_url else None
        on_pg = bool(store_url and store_url.startswith("postgresql"))
        pg0 = pg_backends_cpu(pg, store_url) if on_pg and store_url else {}
        me0, ch0 = time.process_time(), children_cpu()
        t0 = time.perf_counter()
        Pipeline(wl, store, judge, batch_size=args.batch_size).run(read_inputs([str(path)]))
        wall = time.perf_counter() - t0
        # Pipeline.run may judge in helper processes: their CPU counts once they are reaped
        cpu = {"cpu_app": time.process_time() - me0 + children_cpu() - ch0}
        if on_pg and store_url:
            cpu["cpu_pg"] = cpu_delta(pg0, pg_backends_cpu(pg, store_url))
        if store is not None:
            store.close()
        return wall, cpu

    Pipeline(wl, None, judge).run(items[:1000])  # warm up: language model, matcher, judge
    pg, rs = PostgresServer(), RedisServer()
    try:
        for _ in range(args.repeat):
            _, t_read = timed(lambda: list(read_inputs([str(path)])))
            keep("read files only", n / t_read)
            me0, ch0 = time.process_time(), children_cpu()
            st, t_judge = timed(lambda: Pipeline(wl, None, judge, batch_size=args.batch_size).run(items))
            keep("match + judge only (no store, no reading)", n / t_judge,
                 {"cpu_app": time.process_time() - me0 + children_cpu() - ch0},
                 f"{st.mentions:,} target mentions judged")
            wall, cpu = single(str(tmp / f"single-{time.time_ns()}.sqlite"))
            keep("threatwatch run, SQLite (default)", n / wall, cpu, "the floor the others are compared to")
            wall, cpu = single(pg.create_db())
            keep("threatwatch run, PostgreSQL", n / wall, cpu)
            pub_rate, drain_rate = bus_drain(rs.url, path, n)
            keep("bus: publish (XADD, MULTI of 500)", pub_rate, None, "one publisher, reading the file")
            keep("bus: consume (XREADGROUP + decode + XACK)", drain_rate, None, "one consumer, no judging")
            f_rate, f_sent = publish_filtered(rs.url, path, wl)
            keep("bus: publish --watchlist (match, then XADD)", f_rate, None,
                 f"one publisher; {f_sent:,} of {n:,} records sent")
            for filt in (False, True):
                for k in [int(x) for x in args.workers.split(",")]:
                    db = pg.create_db()
                    open_store(db).close()  # migrate before the clock starts
                    r = run_workers(k, rs.url, db, path, args, n, pg, rs, wl if filt else None)
                    busy = r["busy"] or 1.0
                    keep(f"{k} worker{'s' if k > 1 else ''}, Redis + PostgreSQL{', publish --watchlist' if filt else ''}",
                         n / r["wall"], r,
                         f"judge {100 * r['judge'] / busy:.0f}% / store {100 * r['store'] / busy:.0f}% of worker busy "
                         f"time; workers busy {100 * busy / (k * r['wall']):.0f}% of the run")
    finally:
        pg.stop()
        rs.stop()

    base = best["threatwatch run, SQLite (default)"][0]
    print(f"\n{n:,} records ({args.mention_share:.0%} name a target), judge={args.judge}, batch {args.batch_size}, "
          f"{os.cpu_count()} CPUs, fastest of {args.repeat}; load average {load0[0]:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end\n")
    print("| configuration | records/s | × default | CPU s per 10k records: publisher / pipeline / PostgreSQL / Redis | "
          "records per CPU-second | notes |")
    print("|---|--:|--:|--:|--:|---|")
    for name in order:
        rate, cpu, note = best[name]
        if cpu:
            parts = [cpu.get("cpu_pub"), cpu.get("cpu_app"), cpu.get("cpu_pg"), cpu.get("cpu_redis")]
            per = " / ".join("–" if v is None else f"{10000 * v / n:.2f}" for v in parts)
            tot = sum(v for v in parts if v)
            per_cpu = f"{n / tot:,.0f}" if tot else ""
        else:
            per, per_cpu = "", ""
        print(f"| {name} | {rate:,.0f} | {rate / base:.2f}× | {per} | {per_cpu} | {note} |")
    print(f"\nRedis memory per stream entry: {BYTES_PER_ENTRY:,.0f} bytes (MEMORY USAGE / XLEN)")


if __name__ == "__main__":
    main()

"""`python -m bench`: throughput, judge speed, latency and memory of the whole pipeline.

Prints a table and appends a dated section to BENCHMARKS.md (earlier sections are kept).
Every figure is also given as a ratio to a floor measured in the same run — read + parse +
normalise + match of the same file — so numbers from different machines can be compared.
Figures, not pass/fail: nothing here asserts a target.

    python -m bench                      # 1,000,000 posts, 2 % on-target (several minutes)
    python -m bench --quick              # 100,000 posts and short latency runs (a smoke test)
    python -m bench --posts 200000 --no-write

The websocket (live Jetstream) path has its own benchmark: bench/live_bench.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WATCHLISTS = (ROOT / "src/threatwatch/samples/watchlist.toml", ROOT / "data/labelled/watchlist.toml")
TARGETS = {"e2e_rate": 6000.0, "e2e_ratio": 0.5, "judge_rate": 1000.0, "p99_40": 0.5, "rss_mb": 1024.0}

console = Console(width=max(150, Console().width))


def run_child(name: str, args: dict[str, Any], timeout: float = 7200, src: str | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; returns its JSON result. `src`: import
    threatwatch from this source tree instead (to compare a branch or an older commit)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), src or str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench.pipeline_bench", name, json.dumps(args)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"bench measurement {name!r} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"bench measurement {name!r} printed no result:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    res = json.loads(lines[-1])
    res["wall_total_s"] = time.perf_counter() - t0
    return res


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _fmt(v: float | None, unit: str = "", nd: int = 0) -> str:
    if v is None:
        return "—"
    return f"{v:,.{nd}f}{unit}"


def _ratio(v: float | None, base: float | None, nd: int = 2) -> str:
    if v is None or not base:
        return "—"
    return f"{v / base:.{nd}f}×"


def measure(opts: argparse.Namespace) -> dict[str, Any]:
    """Run every measurement; returns all raw results."""
    wl = opts.watchlist or next((str(p) for p in DEFAULT_WATCHLISTS if p.exists()), None)
    if wl is None:
        raise SystemExit("no watchlist found; pass --watchlist")
    tmp = Path(tempfile.mkdtemp(prefix="threatwatch-bench-", dir=opts.tmp))
    path = str(tmp / f"jetstream-{opts.posts}.jsonl")
    base = {"path": path, "watchlist": wl, "batch_size": opts.batch_size, "judge": opts.judge}
    res: dict[str, Any] = {"watchlist": wl, "tmp": str(tmp)}

    def step(key: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {key} …")
        r = run_child(name, {**base, **args}, src=None if name == "generate" else opts.src)
        res[key] = r
        return r

    res["load_before"] = os.getloadavg()

    try:
        g = step("generate", "generate", {"n": opts.posts, "on_target": opts.on_target, "seed": opts.seed})
        console.print(f"    {g['lines']:,} lines, {g['bytes'] / 2**20:,.0f} MiB in {g['seconds']:.1f}s")
        step("parse", "parse", {})
        step("floor", "floor", {})
        # as `threatwatch run` runs by default (judge helper processes where there are 2 cores),
        # and in one process for comparison
        step("e2e", "e2e", {"db": str(tmp / "e2e.sqlite"), "helpers": "auto"})
        step("e2e_single", "e2e", {"db": str(tmp / "e2e-single.sqlite"), "helpers": 0})
        if opts.compare_helper:
            step("e2e_helper", "e2e", {"db": str(tmp / "e2e-helper.sqlite"), "helpers": 1})
        step("judge", "judge", {"pairs": opts.judge_pairs, "judge_batch": opts.judge_batch, "single": opts.judge_single})
        for rate, dur in ((40, opts.latency_slow_s), (4000, opts.latency_fast_s)):
            la = {"rate": rate, "duration": dur, "flush_s": 0.2, "max_batch": opts.max_batch,
                  "db": str(tmp / f"latency-{rate}.sqlite")}
            step(f"latency_floor_{rate}", "latency", {**la, "floor": True})
            step(f"latency_{rate}", "latency", {**la, "floor": False})
        res["load_after"] = os.getloadavg()
    finally:
        if not opts.keep:
            for f in tmp.iterdir():
                f.unlink()
            tmp.rmdir()
    return res


Row = tuple[str, str, str, str, str, str]
COLUMNS = ("measurement", "figure", "÷ floor", "per CPU-second (÷ floor)", "peak RSS (÷ floor)", "target")


def rows(res: dict[str, Any]) -> list[Row]:
    """(measurement, figure, ratio to floor, CPU rate, peak RSS, target) rows for table and file."""
    fl = res["floor"]
    fr, frss, fcpu = fl["rate"], fl["peak_rss_mb"], fl.get("cpu_rate")
    out: list[Row] = []

    def rss(r: dict[str, Any]) -> str:
        kids = r.get("children_peak_rss_mb") or 0.0
        n = r.get("helpers") or 1
        extra = f" + {n} helper{'s' if n > 1 else ''} × ≤ {kids:,.0f} MiB" if kids > 1 else ""
        return f"{r['peak_rss_mb']:,.0f} MiB ({r['peak_rss_mb'] / frss:.2f}×){extra}"

    def cpu(v: float | None) -> str:
        return f"{v:,.0f} ({_ratio(v, fcpu)})" if v else "—"

    p = res["parse"]
    out.append(("read + parse (reference)", f"{p['rate']:,.0f} posts/s", _ratio(p["rate"], fr), cpu(p.get("cpu_rate")),
                rss(p), ""))
    out.append(("**floor**: read + parse + normalise + match", f"{fr:,.0f} posts/s", "1.00×", cpu(fcpu), rss(fl), ""))
    e = res["e2e"]
    used = e.get("helpers")
    how = f", {used} judge helper process{'es' if used > 1 else ''}" if used else ""
    out.append((f"end to end ({e['posts']:,} posts, {e['mentions']:,} mentions, {e['alerts']:,} alerts{how})",
                f"{e['rate']:,.0f} posts/s", _ratio(e["rate"], fr), cpu(e.get("cpu_rate")), rss(e),
                "≥ 6,000/s, ≥ 0.50×"))
    if "e2e_helper" in res:
        e1 = res["e2e_helper"]
        out.append(("end to end with a judge helper process (judge_helpers=1)", f"{e1['rate']:,.0f} posts/s",
                    _ratio(e1["rate"], fr), cpu(e1.get("cpu_rate")), rss(e1), ""))
    if "e2e_single" in res:
        e1 = res["e2e_single"]
        out.append(("end to end in one process (no judge helper process)", f"{e1['rate']:,.0f} posts/s",
                    _ratio(e1["rate"], fr), cpu(e1.get("cpu_rate")), rss(e1), ""))
    j = res["judge"]
    out.append((f"judge `{j['judge']}` alone, batches of {j['batch']} ({j['pairs']:,} on-target pairs)",
                f"{j['batched_rate']:,.0f} posts/s", _ratio(j["batched_rate"], fr), cpu(j.get("batched_cpu_rate")),
                rss(j), "≥ 1,000/s"))
    if "distinct_rate" in j:
        out.append((f"judge `{j['judge']}` alone, batches of {j['batch']}, {j['distinct_pairs']:,} pairs with distinct texts "
                    f"(the pairs above hold {j['distinct_texts_in_pairs']:,} distinct texts)",
                    f"{j['distinct_rate']:,.0f} posts/s", _ratio(j["distinct_rate"], fr),
                    cpu(j.get("distinct_cpu_rate")), "", "≥ 1,000/s"))
    out.append((f"judge `{j['judge']}` alone, one at a time ({j['single_n']:,} distinct texts)",
                _fmt(j["single_rate"], " posts/s"), _ratio(j["single_rate"], fr), "", "", ""))
    for rate in (40, 4000):
        la, lf = res[f"latency_{rate}"], res[f"latency_floor_{rate}"]
        tgt = "p99 < 0.5 s" if rate == 40 else ""
        out.append((f"latency at {rate:,}/s, arrival → alert stored, p50 / p99 ({la['alerts']} alerts)",
                    f"{_fmt(la['alert_p50'], ' s', 3)} / {_fmt(la['alert_p99'], ' s', 3)}",
                    f"{_ratio(la['alert_p50'], lf['post_p50'])} / {_ratio(la['alert_p99'], lf['post_p99'])}",
                    "", rss(la), tgt))
        out.append((f"latency at {rate:,}/s, arrival → batch stored, every post, p50 / p99 ({la['posts']:,} posts, "
                    f"achieved {la['achieved_rate']:,.0f}/s)",
                    f"{_fmt(la['post_p50'], ' s', 3)} / {_fmt(la['post_p99'], ' s', 3)}",
                    f"{_ratio(la['post_p50'], lf['post_p50'])} / {_ratio(la['post_p99'], lf['post_p99'])}", "", "", ""))
        out.append((f"latency floor at {rate:,}/s: same feed, match only, p50 / p99",
                    f"{_fmt(lf['post_p50'], ' s', 3)} / {_fmt(lf['post_p99'], ' s', 3)}", "1.00×", "", rss(lf), ""))
    return out


def print_table(res: dict[str, Any], title: str) -> None:
    t = Table(title=title, title_justify="left")
    for col in COLUMNS:
        t.add_column(col, justify="left" if col in ("measurement", "target") else "right")
    for r in rows(res):
        t.add_row(r[0].replace("**", ""), *r[1:])
    console.print(t)


def markdown(res: dict[str, Any], opts: argparse.Namespace, argv: list[str]) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    e = res["e2e"]
    lines = [
        f"## {now} — {opts.posts:,} posts, {opts.on_target:.0%} on-target, judge `{e['judge']}`",
        "",
        f"- command: `{' '.join(['python -m bench', *argv])}`",
        f"- {'source tree ' + opts.src + '; ' if opts.src else ''}commit {commit or '?'}{dirty}; Python {platform.python_version()}; {os.cpu_count()} cores ({_cpu()})",
        f"- watchlist `{os.path.relpath(res['watchlist'], ROOT)}`; batch size {opts.batch_size}; "
        f"judge load {e['judge_load_s']:.1f}s (not timed); e2e SQLite file {_fmt(e.get('db_mb'), ' MiB', 1)}",
        f"- latency feed: open loop (post i arrives at i/rate), flush at {opts.max_batch} posts or 200 ms; "
        "floor ratio for latency = same feed with match only",
        f"- load average (1 min) before / after: {res['load_before'][0]:.1f} / {res['load_after'][0]:.1f} "
        "(other work on the machine slows wall-clock figures; per-CPU-second figures are steadier)",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|--:|--:|--:|--:|---|",
    ]
    lines += [f"| {' | '.join(r)} |" for r in rows(res)]
    lines += ["", f"<details><summary>raw results</summary>\n\n```json\n{json.dumps(_raw(res), indent=1)}\n```\n</details>", ""]
    return "\n".join(lines) + "\n"


def _raw(res: dict[str, Any]) -> dict[str, Any]:
    def r(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 4)
        if isinstance(v, dict):
            return {k: r(x) for k, x in v.items() if k not in ("path", "db", "watchlist", "tmp")}
        return v

    return r({k: v for k, v in res.items() if k not in ("tmp", "watchlist")})


HEADER = """# Benchmarks

Produced by `python -m bench` (see `bench/__main__.py`); each run appends a dated section below.
Figures, not pass/fail. Every figure is also a ratio to a floor measured in the same run on the
same file — read + parse + normalise + match, the part of the pipeline no judge or store can
avoid — so runs on different machines compare. The live websocket path is measured separately
by `bench/live_bench.py`.

"""


def append(md: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + "\n" + md, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=1_000_000, help="synthetic Jetstream posts (default 1,000,000)")
    ap.add_argument("--on-target", type=float, default=0.02, help="share of posts naming a target (default 0.02)")
    ap.add_argument("--quick", action="store_true", help="100,000 posts and short latency runs")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--watchlist", help="watchlist TOML (default: the sample watchlist)")
    ap.add_argument("--judge", default="default", help="judge name for load_judge (default: default)")
    ap.add_argument("--batch-size", type=int, default=2000, help="pipeline batch size (as threatwatch run)")
    ap.add_argument("--max-batch", type=int, default=500, help="latency runs: flush at this many posts")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="file to append the results to")
    ap.add_argument("--no-write", action="store_true", help="print only, do not append to BENCHMARKS.md")
    ap.add_argument("--keep", action="store_true", help="keep the generated file and databases")
    ap.add_argument("--tmp", default=None, help="directory for the generated file (default: system temp)")
    ap.add_argument("--compare-helper", action="store_true",
                    help="also run end to end with a judge helper process (Pipeline judge_helpers=1)")
    ap.add_argument("--src", default=None, help="import threatwatch from this source tree (e.g. an older checkout's src/)")
    opts = ap.parse_args(argv)
    if opts.quick and opts.posts == 1_000_000:
        opts.posts = 100_000
    opts.judge_pairs = 500 if opts.quick else 2000
    opts.judge_batch = 256
    opts.judge_single = 100 if opts.quick else 300
    opts.latency_slow_s = 10 if opts.quick else 60
    opts.latency_fast_s = 4 if opts.quick else 15
    t0 = time.perf_counter()
    res = measure(opts)
    title = f"threatwatch bench — {opts.posts:,} posts, {opts.on_target:.0%} on-target ({time.perf_counter() - t0:.0f}s)"
    print_table(res, title)
    if not opts.no_write:
        append(markdown(res, opts, argv), Path(opts.out))
        console.print(f"appended to {opts.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

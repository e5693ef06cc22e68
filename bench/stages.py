"""Per-stage CPU cost of folding and matching, in µs per post (for before/after comparisons).

    python -m bench.stages                       # this checkout
    python -m bench.stages --src OLD/src         # another checkout's threatwatch, same posts

CPU time (not wall time), so a busy machine changes the figures little. The posts are the
synthetic Jetstream stream's texts (threatwatch.demo_data, from this checkout).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys, time
import msgspec
from threatwatch.config import load_watchlist
from threatwatch.match import Matcher
from threatwatch.normalise import fold
import threatwatch.normalise as N

texts, watchlist, batch = json.loads(sys.stdin.read())
m = Matcher(load_watchlist(watchlist))
batches = [texts[i:i + batch] for i in range(0, len(texts), batch)]

def cpu(fn):
    fn(batches[:2])  # warm-up: lazy compiles and model loads
    t0 = time.process_time()
    fn(batches)
    return (time.process_time() - t0) / len(texts) * 1e6

if hasattr(N, "fold_many"):
    f = cpu(lambda bs: [N.fold_many(b) for b in bs])
    fm = cpu(lambda bs: [m.find_many(b) for b in bs])
else:  # before the batch fast paths
    f = cpu(lambda bs: [[fold(t) for t in b] for b in bs])
    fm = cpu(lambda bs: [[m.find(t, fold(t)) for t in b] for b in bs])
print(json.dumps({"fold_us": f, "fold_match_us": fm, "posts": len(texts)}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=200_000)
    ap.add_argument("--on-target", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--watchlist", default=str(ROOT / "src/threatwatch/samples/watchlist.toml"))
    ap.add_argument("--src", default=None, help="import threatwatch from this source tree")
    opts = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    import msgspec

    from threatwatch.demo_data import generate_jetstream_stream

    dec = msgspec.json.Decoder()
    texts = [dec.decode(line)["commit"]["record"]["text"]
             for line in generate_jetstream_stream(opts.posts, opts.on_target, opts.seed)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (opts.src or str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps([texts, opts.watchlist, opts.batch]),
                          capture_output=True, text=True, env=env, check=True)
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{opts.src or 'this checkout'}: fold {res['fold_us']:.2f} µs/post, fold + match {res['fold_match_us']:.2f} "
          f"µs/post (CPU time, {res['posts']:,} generated posts, batches of {opts.batch})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

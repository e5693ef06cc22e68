"""Side by side on the same labelled data: the trained judge, VADER (English sentiment) and the
violent-keyword baseline (threats), plus judging speed (pairs/s batched and one at a time).

    python bench/judge_compare.py --watchlist data/labelled/watchlist.toml \
        data/labelled/en.csv data/labelled/es.csv /work/shared/data/tweeteval/sentiment.csv

Each DATA file is read like `threatwatch eval` reads it; tasks are chosen from its columns
(threat if it has `threat`, sentiment if it has `sentiment` or `label`, on_target if it has
`on_target`). Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from threatwatch.config import Watchlist, load_watchlist
from threatwatch.evaluate import EvalError, evaluate, load_examples
from threatwatch.judge import load_judge
from threatwatch.judge.base import JudgeInput, Judgement
from threatwatch.normalise import detect_lang, fold


class VaderJudge:
    """VADER's compound score as sentiment (the usual thresholds, +-0.05); never alerts."""

    name = "vader"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.a = SentimentIntensityAnalyzer()

    def judge_batch(self, items: list[JudgeInput]) -> list[Judgement]:
        out = []
        for it in items:
            c = self.a.polarity_scores(it.text)["compound"]
            s = "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"
            out.append(Judgement(target=it.target.name if it.target else None, on_target=True, on_target_score=1.0,
                                 threat="none", threat_score=0.0, subtype=None, sentiment=s,
                                 sentiment_scores={"negative": 0.0, "neutral": 0.0, "positive": 0.0} | {s: 1.0},
                                 explanation="VADER compound score"))
        return out


def _tasks(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        header = f.readline().strip().split(",") if path.suffix != ".jsonl" else []
    tasks = []
    if "threat" in header:
        tasks.append("threat")
    if "sentiment" in header or "label" in header:
        tasks.append("sentiment")
    if "on_target" in header:
        tasks.append("on_target")
    return tasks


def _items(watchlist: Watchlist, paths: list[Path]) -> tuple[list[JudgeInput], list[JudgeInput]]:
    """(post, target) pairs from rows naming a target; posts without one (overall sentiment)."""
    pairs, plain = [], []
    for p in paths:
        try:
            ex = load_examples(p, "threat" if "threat" in _tasks(p) else "sentiment", watchlist, None, [])
        except EvalError:
            continue
        for e in ex:
            t = watchlist.by_name(e.target) if e.target else None
            it = JudgeInput(text=e.text, folded=fold(e.text), lang=e.lang or detect_lang(e.text), target=t)
            (pairs if t else plain).append(it)
    return pairs, plain


def _rate(judge, items: list[JudgeInput], batch: int) -> float:  # noqa: ANN001
    # the quality tables (and the batched pass) have just judged these very texts: empty the
    # judge's per-text embedding cache so that every text is embedded again, as a new post is
    ecache = getattr(judge, "_ecache", None)
    if ecache is not None:
        ecache.clear()
    t0 = time.perf_counter()
    for i in range(0, len(items), batch):
        judge.judge_batch(items[i : i + batch])
    return len(items) / (time.perf_counter() - t0)


def speed(watchlist: Watchlist, paths: list[Path], n: int = 2000) -> list[tuple[str, str, float, float]]:
    """Pairs/s per judge and workload: batches of 256, and one pair per call. The judge's
    per-text embedding cache is emptied before each timed pass (`_rate`), so no text is served
    from it; the encoder's per-piece cache stays warm, as in a running service."""
    pairs, plain = _items(watchlist, paths)
    loads = {}
    if pairs:
        loads["(post, target) pairs"] = pairs[:n]
    if plain:
        loads["posts, no target"] = plain[:n]
    if pairs and plain:
        half = n // 2
        mixed = [x for ab in zip(pairs[:half], plain[:half], strict=False) for x in ab]
        loads["mixed 50/50"] = mixed
    rows = []
    for name in ("default", "lexicon"):
        j = load_judge(name)
        warm = (pairs or plain)[:8]
        j.judge_batch(warm)
        j.judge_batch([x for x in pairs if x.target][:1] * 1)
        for t in {x.target.name: x for x in pairs if x.target}.values():
            j.judge_batch([t])  # per-target set-up (alias regexes, description embedding)
        for load, items in loads.items():
            k = min(200, len(items))
            rows.append((name, f"{load} (n={len(items)})", _rate(j, items, 256), _rate(j, items[:k], 1)))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", nargs="+", type=Path)
    ap.add_argument("--watchlist", type=Path, default=Path("data/labelled/watchlist.toml"))
    ap.add_argument("--split", default=None, help="only rows with this split (e.g. dev)")
    ap.add_argument("--speed-n", type=int, default=2000)
    ap.add_argument("--speed-only", action="store_true", help="skip the quality table")
    a = ap.parse_args(argv)
    con = Console()
    wl = load_watchlist(a.watchlist)
    vader = VaderJudge()
    t = Table(title="judges side by side")
    for c in ("file", "task", "lang", "judge", "n", "macro-recall", "macro-F1", "alert recall", "protected FA"):
        t.add_column(c)
    from threatwatch.judge.train import PROTECTED_KINDS

    for p in ([] if a.speed_only else a.data):
        for task in _tasks(p):
            judges = [("default", None), ("lexicon", None)]
            if task == "sentiment":
                judges.append(("vader", vader))
            for name, j in judges:
                res = evaluate(p, wl, task, name if j is None else "default", a.split, judge=j)
                for lg, m in res["by_lang"].items():
                    if name == "vader" and lg not in ("en", "all"):
                        continue
                    fa = ""
                    if "by_kind" in m and task == "threat":
                        prot = [v for k, v in m["by_kind"].items() if k in PROTECTED_KINDS]
                        n = sum(v["n"] for v in prot)
                        fa = f"{sum(v['alerts'] for v in prot) / n:.3f}" if n else ""
                    ar = m.get("alert_recall")
                    t.add_row(p.name, task, lg, name, str(m["n"]), f"{m['macro_recall']:.3f}", f"{m['macro_f1']:.3f}",
                              "" if ar is None else f"{ar:.3f}", fa)
    con.print(t)
    s = Table(title="judging speed (texts from the files above; 2 cores; figures depend on machine load)")
    for c in ("judge", "workload", "pairs/s batched (256)", "pairs/s one at a time"):
        s.add_column(c)
    for name, load, b, one in speed(wl, a.data, a.speed_n):
        s.add_row(name, load, f"{b:,.0f}", f"{one:,.0f}")
    con.print(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())

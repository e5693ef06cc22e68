"""Validate the Spanish labelled set (data/labelled/es.csv) and the Spanish bias probes.

Why: the set is hand-written by people working in parallel and consumed by training
while it grows, so every commit must stay a valid, consistent CSV.  This script is the
second annotator's mechanical check: header, allowed values, targets that exist in the
watchlist, unique ids, no near-duplicate texts, per-kind minimum counts, probes that do
not paraphrase main-set rows, and a kind x split table to paste into reports.

Usage:
    python data/labelled/tools/check_es.py [data/labelled/es.csv] [--probes data/probes/es_probes.csv]

Exit status 1 when any error is found; every error names the file, line and field.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tomllib
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_en import finish  # noqa: E402  (sibling script: one way to report errors)

HEADER = ["id", "text", "lang", "target", "threat", "kind", "sentiment", "on_target", "dialect", "split", "note"]
THREAT_KINDS = {"direct", "conditional", "veiled"}
NONE_KINDS = {
    "hyperbole", "insult", "criticism", "satire", "protest", "news", "quote_condemn",
    "counter_speech", "support", "neutral", "off_target",
}
KINDS_BY_THREAT = {"threat": THREAT_KINDS, "incitement": {"incitement"}, "none": NONE_KINDS}
ALL_KINDS = THREAT_KINDS | {"incitement"} | NONE_KINDS
SENTIMENTS = {"negative", "neutral", "positive"}
DIALECTS = {"standard", "spanglish"}
SPLITS = {"train", "dev"}
MIN_PER_NONE_KIND = 60
MIN_ROWS = 1650
NEAR_DUP_JACCARD = 0.85
PROBE_LEAK_JACCARD = 0.55

ROOT = Path(__file__).resolve().parents[3]


def normalise(text: str) -> str:
    """Lower-case, strip accents, handles, links and punctuation so trivial edits do not hide duplicates."""
    t = unicodedata.normalize("NFKD", text.lower())
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = re.sub(r"https?://\S+|\S+\.(com|co)/\S*", " ", t)
    t = re.sub(r"@\w+", " ", t)
    return re.sub(r"[^a-z0-9ñ]+", " ", t).strip()


def watchlist_targets(path: Path) -> set[str]:
    """Target names from the watchlist TOML: the only values allowed in the target column."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {t["name"] for t in data.get("target", [])}


# Targets each batch must cover: the watchlist as it stood when the batch was written (later
# batches appended targets to the end of data/labelled/watchlist.toml; an earlier file is not
# expected to have rows for them).
BATCH_TARGETS = 15


def first_targets(path: Path, n: int) -> set[str]:
    """The first `n` target names of the watchlist, in file order."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {t["name"] for t in data.get("target", [])[:n]}


def check_rows(path: Path, targets: set[str], id_prefix: str, errors: list[str]) -> list[dict[str, str]]:
    """Check one CSV file row by row; append 'file:line: field: problem' messages to errors."""
    rows: list[dict[str, str]] = []
    id_re = re.compile(rf"^{re.escape(id_prefix)}-\d{{4}}$")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            errors.append(f"{path}:1: file is empty")
            return rows
        if header != HEADER:
            errors.append(f"{path}:1: header is {header}, expected {HEADER}")
            return rows
        seen_ids: dict[str, int] = {}
        for line_no, rec in enumerate(reader, start=2):
            where = f"{path}:{line_no}"
            if len(rec) != len(HEADER):
                errors.append(f"{where}: expected {len(HEADER)} fields, found {len(rec)}")
                continue
            row = dict(zip(HEADER, rec, strict=True))
            row["_line"] = str(line_no)
            rows.append(row)
            if not id_re.match(row["id"]):
                errors.append(f"{where}: id: {row['id']!r} does not look like {id_prefix}-0001")
            if row["id"] in seen_ids:
                errors.append(f"{where}: id: {row['id']} already used on line {seen_ids[row['id']]}")
            seen_ids[row["id"]] = line_no
            if not row["text"].strip():
                errors.append(f"{where}: text: empty")
            if row["lang"] != "es":
                errors.append(f"{where}: lang: {row['lang']!r}, expected 'es'")
            if row["target"] not in targets:
                errors.append(f"{where}: target: {row['target']!r} is not a watchlist target name")
            threat, kind = row["threat"], row["kind"]
            if threat not in KINDS_BY_THREAT:
                errors.append(f"{where}: threat: {threat!r} not in {sorted(KINDS_BY_THREAT)}")
            elif kind not in KINDS_BY_THREAT[threat]:
                errors.append(f"{where}: kind: {kind!r} not allowed with threat={threat}")
            if row["sentiment"] not in SENTIMENTS:
                errors.append(f"{where}: sentiment: {row['sentiment']!r} not in {sorted(SENTIMENTS)}")
            expected_on = "0" if kind == "off_target" else "1"
            if row["on_target"] != expected_on:
                errors.append(f"{where}: on_target: {row['on_target']!r}, expected {expected_on} for kind={kind}")
            if threat in ("threat", "incitement") and row["sentiment"] != "negative":
                errors.append(f"{where}: sentiment: threats and incitement toward a target must be negative")
            if row["dialect"] not in DIALECTS:
                errors.append(f"{where}: dialect: {row['dialect']!r} not in {sorted(DIALECTS)}")
            if row["split"] not in SPLITS:
                errors.append(f"{where}: split: {row['split']!r} not in {sorted(SPLITS)}")
    return rows


def check_duplicates(rows: list[dict[str, str]], path: Path, errors: list[str], allow_pairs: bool) -> None:
    """Exact normalised duplicates and token-Jaccard near-duplicates.

    Probe files are minimal pairs by design, so there near-duplicates are only reported
    inside the same dialect (a standard row and its Spanglish twin may share most words).
    """
    norm = [normalise(r["text"]) for r in rows]
    first: dict[str, int] = {}
    for i, n in enumerate(norm):
        if n in first:
            j = first[n]
            errors.append(f"{path}:{rows[i]['_line']}: text: duplicate of line {rows[j]['_line']} after normalisation")
        else:
            first[n] = i
    toks = [set(n.split()) for n in norm]
    for i in range(len(rows)):
        a = toks[i]
        if len(a) < 4:
            continue
        for j in range(i + 1, len(rows)):
            if allow_pairs and rows[i]["dialect"] != rows[j]["dialect"]:
                continue
            b = toks[j]
            if not b or norm[i] == norm[j]:
                continue
            inter = len(a & b)
            if inter and inter / len(a | b) >= NEAR_DUP_JACCARD:
                errors.append(
                    f"{path}:{rows[j]['_line']}: text: near-duplicate of line {rows[i]['_line']} "
                    f"(token Jaccard {inter / len(a | b):.2f})"
                )


def table(rows: list[dict[str, str]]) -> str:
    """Kind x split count table (plus dialect and sentiment totals) as plain text."""
    order = ["direct", "conditional", "veiled", "incitement", *sorted(NONE_KINDS - {"off_target"}), "off_target"]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        counts[r["kind"]][r["split"]] += 1
    lines = [f"{'kind':<16}{'train':>7}{'dev':>6}{'total':>7}{'dev%':>7}"]
    for k in order:
        c = counts.get(k, Counter())
        tot = c["train"] + c["dev"]
        pct = f"{100 * c['dev'] / tot:.0f}" if tot else "-"
        lines.append(f"{k:<16}{c['train']:>7}{c['dev']:>6}{tot:>7}{pct:>7}")
    tr = sum(c["train"] for c in counts.values())
    dv = sum(c["dev"] for c in counts.values())
    lines.append(f"{'TOTAL':<16}{tr:>7}{dv:>6}{tr + dv:>7}")
    lines.append("threat:    " + ", ".join(f"{k}={v}" for k, v in sorted(Counter(r["threat"] for r in rows).items())))
    lines.append("sentiment: " + ", ".join(f"{k}={v}" for k, v in sorted(Counter(r["sentiment"] for r in rows).items())))
    lines.append("dialect:   " + ", ".join(f"{k}={v}" for k, v in sorted(Counter(r["dialect"] for r in rows).items())))
    lines.append(f"targets:   {len({r['target'] for r in rows})} distinct")
    return "\n".join(lines)


def check_probes(path: Path, targets: set[str], errors: list[str]) -> list[dict[str, str]]:
    """Probe rows: all dev, ids esp-NNNN, consecutive standard/Spanglish pairs with the same labels."""
    rows = check_rows(path, targets, "esp", errors)
    for r in rows:
        if r["split"] != "dev":
            errors.append(f"{path}:{r['_line']}: split: probe rows must be 'dev'")
    if len(rows) % 2:
        errors.append(f"{path}: odd number of probe rows ({len(rows)}); probes come in pairs")
    for a, b in zip(rows[::2], rows[1::2], strict=False):
        if (a["dialect"], b["dialect"]) != ("standard", "spanglish"):
            errors.append(f"{path}:{a['_line']}: dialect: a pair must be standard then spanglish")
        for f in ("target", "threat", "kind", "sentiment", "on_target"):
            if a[f] != b[f]:
                errors.append(f"{path}:{b['_line']}: {f}: differs from its pair on line {a['_line']}")
    check_duplicates(rows, path, errors, allow_pairs=True)
    return rows


def check_leakage(probes: list[dict[str, str]], main_rows: list[dict[str, str]], path: Path, errors: list[str]) -> None:
    """Probes are dev-only: a probe that paraphrases a main-set row would measure memory, not behaviour."""
    main_toks = [(r, set(normalise(r["text"]).split())) for r in main_rows]
    for p in probes:
        a = set(normalise(p["text"]).split())
        if not a:
            continue
        best_j, best_r = 0.0, None
        for r, b in main_toks:
            j = len(a & b) / len(a | b) if b else 0.0
            if j > best_j:
                best_j, best_r = j, r
        if best_r is not None and best_j >= PROBE_LEAK_JACCARD:
            errors.append(
                f"{path}:{p['_line']}: text: too close to main-set row {best_r['id']} (token Jaccard {best_j:.2f})"
            )


def main(argv: list[str] | None = None) -> int:
    """Run all checks, print the count table, return a process exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", default=str(ROOT / "data/labelled/es.csv"))
    ap.add_argument("--watchlist", default=str(ROOT / "data/labelled/watchlist.toml"))
    ap.add_argument("--probes", default=None, help="also check a probe file (e.g. data/probes/es_probes.csv)")
    ap.add_argument("--min-rows", type=int, default=MIN_ROWS)
    args = ap.parse_args(argv)

    errors: list[str] = []
    targets = watchlist_targets(Path(args.watchlist))
    path = Path(args.csv)
    rows = check_rows(path, targets, "es", errors)
    check_duplicates(rows, path, errors, allow_pairs=False)
    kinds = Counter(r["kind"] for r in rows)
    for k in sorted(NONE_KINDS):
        if kinds[k] < MIN_PER_NONE_KIND:
            errors.append(f"{path}: kind: only {kinds[k]} rows of {k}, need >= {MIN_PER_NONE_KIND}")
    for k in sorted(ALL_KINDS):
        c = [r["split"] for r in rows if r["kind"] == k]
        if c and not 0.15 <= c.count("dev") / len(c) <= 0.35:
            errors.append(f"{path}: split: dev share for {k} is {c.count('dev') / len(c):.0%}, expected about 25%")
    if len(rows) < args.min_rows:
        errors.append(f"{path}: only {len(rows)} rows, need >= {args.min_rows}")
    missing = first_targets(Path(args.watchlist), BATCH_TARGETS) - {r["target"] for r in rows}
    if missing:
        errors.append(f"{path}: target: no rows for {sorted(missing)}")
    print(f"== {path}")
    print(table(rows))

    if args.probes:
        p = Path(args.probes)
        prow = check_probes(p, targets, errors)
        check_leakage(prow, rows, p, errors)
        print(f"\n== {p}")
        pk = Counter(("threat" if r["threat"] != "none" else r["kind"], r["dialect"]) for r in prow)
        for (k, d), n in sorted(pk.items()):
            print(f"{k:<16}{d:<10}{n:>5}")
        print(f"pairs: {len(prow) // 2}")

    return finish(errors)


if __name__ == "__main__":
    sys.exit(main())

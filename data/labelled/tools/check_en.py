"""Validate the English labelled set (and its dialect probe set) before anyone trains on it.

A hand-written set drifts: a typo in a label silently becomes a new class, a pasted row
leaks between train and dev. This script names the file, line and field of every problem
and prints the count table (kind x split) that the model card quotes.

Usage: python data/labelled/tools/check_en.py [CSV ...] [--watchlist PATH] [--min-per-kind N]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import tomllib
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = [
    "id",
    "text",
    "lang",
    "target",
    "threat",
    "kind",
    "sentiment",
    "on_target",
    "dialect",
    "split",
    "note",
]
THREAT_KINDS = {"threat": {"direct", "conditional", "veiled"}, "incitement": {"incitement"}}
NONE_KINDS = {
    "hyperbole",
    "insult",
    "criticism",
    "satire",
    "protest",
    "news",
    "quote_condemn",
    "counter_speech",
    "support",
    "neutral",
    "off_target",
}
SENTIMENTS = {"negative", "neutral", "positive"}
DIALECTS = {"standard", "aae"}
SPLITS = {"train", "dev"}
KIND_ORDER = ["direct", "conditional", "veiled", "incitement", *sorted(NONE_KINDS)]


def load_targets(path: Path) -> set[str]:
    """Target names from the watchlist TOML; rows must use these exactly."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {t["name"] for t in data.get("target", [])}


def norm_text(text: str) -> str:
    """Fold case, accents, punctuation, handles and links so trivial variants compare equal."""
    t = unicodedata.normalize("NFKD", text.casefold())
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = re.sub(r"https?://\S+|@\w+", " ", t)
    return " ".join(re.findall(r"[a-z0-9]+", t))


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = text.split()
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def check_file(
    path: Path,
    targets: set[str],
    prefix: str,
    min_per_kind: int,
    probes: bool,
    main_texts: list[tuple[str, set[tuple[str, ...]]]] | None = None,
) -> list[str]:
    """Return error messages for one CSV; print its count tables.

    `main_texts` (id, shingles) of the main set: a probe that near-duplicates a row the model
    trains on would make the dialect comparison measure memory, not dialect.
    """
    errors: list[str] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header != HEADER:
            return [f"{path}:1: header is {header!r}, expected {','.join(HEADER)}"]
        rows = list(enumerate(reader, start=2))
    ids: dict[str, int] = {}
    seen_norm: dict[str, int] = {}
    sh: list[tuple[int, set[tuple[str, ...]]]] = []
    table: Counter[tuple[str, str]] = Counter()
    dialects: Counter[tuple[str, str]] = Counter()
    sentiments: Counter[str] = Counter()
    target_counts: Counter[str] = Counter()
    for line, row in rows:
        where = f"{path}:{line}"
        if len(row) != len(HEADER):
            errors.append(f"{where}: {len(row)} fields, expected {len(HEADER)}")
            continue
        r = dict(zip(HEADER, row, strict=True))
        if not re.fullmatch(rf"{prefix}-\d{{4}}", r["id"]):
            errors.append(f"{where}: field id {r['id']!r} is not {prefix}-NNNN")
        if r["id"] in ids:
            errors.append(f"{where}: field id {r['id']!r} repeats line {ids[r['id']]}")
        ids[r["id"]] = line
        if not r["text"].strip():
            errors.append(f"{where}: field text is empty")
        if r["lang"] != "en":
            errors.append(f"{where}: field lang {r['lang']!r} is not 'en'")
        if r["target"] not in targets:
            errors.append(f"{where}: field target {r['target']!r} is not a watchlist target name")
        threat, kind = r["threat"], r["kind"]
        allowed = THREAT_KINDS.get(threat, NONE_KINDS if threat == "none" else set())
        if not allowed:
            errors.append(f"{where}: field threat {threat!r} not in threat|incitement|none")
        elif kind not in allowed:
            errors.append(
                f"{where}: field kind {kind!r} not allowed with threat={threat} ({sorted(allowed)})"
            )
        if r["sentiment"] not in SENTIMENTS:
            errors.append(f"{where}: field sentiment {r['sentiment']!r} not in {sorted(SENTIMENTS)}")
        want_on = "0" if kind == "off_target" else "1"
        if r["on_target"] != want_on:
            errors.append(f"{where}: field on_target {r['on_target']!r} should be {want_on} for kind {kind}")
        if threat != "none" and r["sentiment"] != "negative":
            errors.append(
                f"{where}: field sentiment {r['sentiment']!r} on a {threat} row (expected negative)"
            )
        if r["dialect"] not in DIALECTS:
            errors.append(f"{where}: field dialect {r['dialect']!r} not in {sorted(DIALECTS)}")
        if r["split"] not in SPLITS:
            errors.append(f"{where}: field split {r['split']!r} not in {sorted(SPLITS)}")
        if probes and r["split"] != "dev":
            errors.append(f"{where}: field split: probe rows must be dev")
        n = norm_text(r["text"])
        if probes and main_texts:
            s = shingles(n)
            for main_id, o in main_texts:
                jac = len(s & o) / len(s | o)
                if jac >= 0.5:
                    errors.append(
                        f"{where}: field text near-duplicates main-set row {main_id} (Jaccard {jac:.2f})"
                    )
                    break
        if not probes:  # probe pairs share meaning by design; the main set must not repeat itself
            if n in seen_norm:
                errors.append(f"{where}: field text duplicates line {seen_norm[n]} after normalising")
            else:
                seen_norm[n] = line
            s = shingles(n)
            if len(s) >= 3:
                for other_line, o in sh:
                    jac = len(s & o) / len(s | o)
                    if jac >= 0.6:
                        errors.append(
                            f"{where}: field text near-duplicates line {other_line} (3-gram Jaccard {jac:.2f})"
                        )
                        break
                sh.append((line, s))
        table[(kind, r["split"])] += 1
        dialects[(kind, r["dialect"])] += 1
        sentiments[r["sentiment"]] += 1
        target_counts[r["target"]] += 1
    if probes:
        errors += check_pairs(path, rows)
    kinds = [k for k in KIND_ORDER if any(table[(k, s)] for s in SPLITS)]
    print(f"\n{path}  ({len(rows)} rows)")
    print(f"{'kind':<16}{'train':>7}{'dev':>6}{'total':>7}{'aae':>6}")
    for k in kinds:
        tr, dv = table[(k, "train")], table[(k, "dev")]
        print(f"{k:<16}{tr:>7}{dv:>6}{tr + dv:>7}{dialects[(k, 'aae')]:>6}")
        if not probes and tr + dv < min_per_kind and k in NONE_KINDS:
            errors.append(f"{path}: kind {k} has {tr + dv} rows, fewer than {min_per_kind}")
    tot_tr = sum(v for (k, s), v in table.items() if s == "train")
    tot_dv = sum(v for (k, s), v in table.items() if s == "dev")
    aae = sum(v for (k, d), v in dialects.items() if d == "aae")
    print(f"{'TOTAL':<16}{tot_tr:>7}{tot_dv:>6}{tot_tr + tot_dv:>7}{aae:>6}")
    print("sentiment: " + ", ".join(f"{s}={sentiments[s]}" for s in sorted(SENTIMENTS)))
    print("targets: " + ", ".join(f"{t}={c}" for t, c in target_counts.most_common()))
    if not probes:
        missing = sorted(NONE_KINDS - {k for k, _ in table})
        if missing:
            errors.append(f"{path}: no rows of kind(s) {', '.join(missing)}")
    return errors


def check_pairs(path: Path, rows: list[tuple[int, list[str]]]) -> list[str]:
    """Probe rows come in minimal pairs ("pair NNN" in note): one standard, one AAE, same labels.

    Otherwise a difference in alert rates between the halves would not be a dialect effect.
    """
    errors: list[str] = []
    pairs: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in rows:
        if len(row) != len(HEADER):
            continue
        r = dict(zip(HEADER, row, strict=True))
        m = re.fullmatch(r"pair (\d+)", r["note"].strip())
        if not m:
            errors.append(f"{path}:{line}: field note {r['note']!r} is not 'pair NNN'")
            continue
        pairs.setdefault(m.group(1), []).append((line, r))
    for num, members in pairs.items():
        lines = ", ".join(str(ln) for ln, _ in members)
        dialects = sorted(r["dialect"] for _, r in members)
        if dialects != ["aae", "standard"]:
            errors.append(
                f"{path}:{lines}: pair {num} has dialects {dialects}, expected one aae and one standard"
            )
            continue
        a, b = members[0][1], members[1][1]
        for field in ("target", "threat", "kind", "sentiment", "on_target"):
            if a[field] != b[field]:
                errors.append(
                    f"{path}:{lines}: pair {num} differs in field {field} ({a[field]!r} vs {b[field]!r})"
                )
    return errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = HERE.parent.parent.parent
    ap.add_argument("csv", nargs="*", type=Path)
    ap.add_argument("--watchlist", type=Path, default=HERE.parent / "watchlist.toml")
    ap.add_argument("--min-per-kind", type=int, default=60)
    args = ap.parse_args(argv)
    files = args.csv or [HERE.parent / "en.csv", root / "data" / "probes" / "en_probes.csv"]
    targets = load_targets(args.watchlist)
    errors: list[str] = []
    main_texts: list[tuple[str, set[tuple[str, ...]]]] = []
    main_csv = HERE.parent / "en.csv"
    if main_csv.exists():
        with main_csv.open(encoding="utf-8", newline="") as fh:
            main_texts = [
                (r.get("id", ""), shingles(norm_text(r.get("text") or ""))) for r in csv.DictReader(fh)
            ]
    for f in files:
        if not f.exists():
            errors.append(f"{f}: file not found")
            continue
        probes = "probe" in f.name
        errors += check_file(f, targets, "enp" if probes else "en", args.min_per_kind, probes, main_texts)
    return finish(errors)


def finish(errors: list[str]) -> int:
    """Print every error (stderr) and the count; the exit status: 1 if any."""
    for e in errors:
        print("ERROR", e, file=sys.stderr)
    print(f"\n{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

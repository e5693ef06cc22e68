"""Inter-annotator agreement between the labelled set and a blind second annotation.

The first annotator's labels live in ``data/labelled/{lang}.csv``; the second,
blind annotation of a random sample lives next to this script in
``second_annotator_{lang}.csv`` (columns ``id,threat,kind,sentiment,on_target,note``).
This script joins them on ``id`` and prints, per language, raw agreement and
Cohen's kappa for each label, a confusion table for ``threat`` and every
disagreement, so that the figures in ``docs/annotation-agreement.md`` can be
re-checked by anyone with a clone. Stdlib only, on purpose: it must run
without the project's environment.

Usage::

    python data/labelled/agreement/agreement.py            # en and es
    python data/labelled/agreement/agreement.py --lang es  # one language
    python data/labelled/agreement/agreement.py --only threat,on_target
    python data/labelled/agreement/agreement.py --lang en --first a.csv --second b.csv
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELLED = HERE.parent

THREAT_LABELS = ("threat", "incitement", "none")
FIELDS = ("threat", "kind", "sentiment", "on_target")


class InputError(Exception):
    """A file is missing, malformed, or the two files cannot be joined."""


def read_labels(path: Path, required: Sequence[str]) -> dict[str, dict[str, str]]:
    """Read a CSV keyed by ``id``; name the file and line of any bad row."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    rows: dict[str, dict[str, str]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("id", *required) if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        for row in reader:
            line = reader.line_num
            rid = (row.get("id") or "").strip()
            if not rid:
                raise InputError(f"{path}:{line}: empty id")
            if rid in rows:
                raise InputError(f"{path}:{line}: duplicate id {rid}")
            for col in required:
                if not (row.get(col) or "").strip():
                    raise InputError(f"{path}:{line}: empty field {col!r} for {rid}")
            rows[rid] = {k: (v or "").strip() for k, v in row.items() if k is not None}
    return rows


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float:
    """Cohen's kappa for two raters over the same items.

    Returns ``nan`` when expected agreement is 1 (both raters used one single
    label), where kappa is undefined rather than perfect.
    """
    n = len(pairs)
    if n == 0:
        return float("nan")
    observed = sum(a == b for a, b in pairs) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[k] * second[k] for k in set(first) | set(second)) / (n * n)
    if expected == 1:
        return float("nan")
    return (observed - expected) / (1 - expected)


def binary_threat(label: str) -> str:
    """Collapse threat and incitement: both put a post in front of a reviewer."""
    return "alert" if label in ("threat", "incitement") else "none"


def confusion(pairs: Sequence[tuple[str, str]], labels: Sequence[str]) -> str:
    """Render a first (rows) x second (columns) confusion table."""
    counts = Counter(pairs)
    width = max(len(x) for x in (*labels, "first \\ second")) + 2
    out = ["first \\ second".ljust(width) + "".join(lab.rjust(width) for lab in labels)]
    for a in labels:
        out.append(a.ljust(width) + "".join(str(counts[(a, b)]).rjust(width) for b in labels))
    return "\n".join(out)


def report(lang: str, first_path: Path, second_path: Path, only: Sequence[str] = FIELDS) -> int:
    """Print agreement for one language; return the number of joined rows."""
    first = read_labels(first_path, ("text", *FIELDS))
    second = read_labels(second_path, FIELDS)
    unknown = sorted(set(second) - set(first))
    if unknown:
        raise InputError(f"{second_path}: {len(unknown)} id(s) not in {first_path}: {', '.join(unknown[:5])}")
    ids = sorted(second)
    print(f"=== {lang}: {len(ids)} rows joined ({first_path.name} x {second_path.name}) ===")

    measures: list[tuple[str, Callable[[dict[str, str]], str]]] = [
        ("threat (3-way)", lambda r: r["threat"]),
        ("threat vs none (binary)", lambda r: binary_threat(r["threat"])),
        ("sentiment", lambda r: r["sentiment"]),
        ("on_target", lambda r: r["on_target"]),
        ("kind", lambda r: r["kind"]),
    ]
    print(f"{'field':<26}{'agree':>8}{'raw':>8}{'kappa':>8}")
    for name, get in measures:
        pairs = [(get(first[i]), get(second[i])) for i in ids]
        agree = sum(a == b for a, b in pairs)
        print(f"{name:<26}{agree:>5}/{len(pairs):<3}{agree / len(pairs):>7.3f}{cohen_kappa(pairs):>8.3f}")

    print("\nthreat confusion (rows = first annotator, columns = second):")
    print(confusion([(first[i]["threat"], second[i]["threat"]) for i in ids], THREAT_LABELS))

    fields = [f for f in FIELDS if f in only]
    print(f"\ndisagreements on {', '.join(fields)}:")
    for i in ids:
        diffs = [f for f in fields if first[i][f] != second[i][f]]
        if not diffs:
            continue
        a, b = first[i], second[i]
        print(f"- {i} [{', '.join(diffs)}] {a['text']}")
        print(f"    first : {a['threat']}/{a['kind']}/{a['sentiment']}/{a['on_target']}  {a.get('note', '')}")
        print(f"    second: {b['threat']}/{b['kind']}/{b['sentiment']}/{b['on_target']}  {b.get('note', '')}")
    print()
    return len(ids)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and report each requested language; exit 1 on bad input."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", choices=("en", "es"), action="append", help="language(s); default both")
    ap.add_argument("--first", type=Path, help="first annotator CSV (needs --lang, one language)")
    ap.add_argument("--second", type=Path, help="second annotator CSV (needs --lang, one language)")
    ap.add_argument("--only", default=",".join(FIELDS), help="fields whose disagreements are listed, comma-separated")
    args = ap.parse_args(argv)
    langs = args.lang or ["en", "es"]
    if (args.first or args.second) and len(langs) != 1:
        ap.error("--first/--second need exactly one --lang")
    only = [f.strip() for f in args.only.split(",") if f.strip()]
    bad = [f for f in only if f not in FIELDS]
    if bad:
        ap.error(f"--only: unknown field(s) {', '.join(bad)}; choose from {', '.join(FIELDS)}")
    status = 0
    for lang in langs:
        first = args.first or LABELLED / f"{lang}.csv"
        second = args.second or HERE / f"second_annotator_{lang}.csv"
        try:
            report(lang, first, second, only)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())

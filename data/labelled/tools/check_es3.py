"""Validate the third Spanish labelled batch (data/labelled/es3.csv).

Why: es3 adds variety (new targets, situations and registers) to the Spanish training data,
and is trained on together with es.csv and es2.csv, so it must obey the same rules.  Every
check is reused from the earlier validators: rows and values from check_es.py, watchlist
names and the cross-file near-duplicate check from check_es2.py, the matcher-based
"target is named in the text" check and the every-4th-row dev rule from check_en2.py.
Only the ``es3`` id prefix and the set of earlier files (es.csv *and* es2.csv) differ.

Usage:
    python data/labelled/tools/check_es3.py [data/labelled/es3.csv] [--against es.csv es2.csv]

Exit status 1 when any error is found; every error names the file, line and field.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_en2  # noqa: E402  (sibling scripts, not a package)
import check_es  # noqa: E402
import check_es2  # noqa: E402

PREFIX = "es3"
MIN_ROWS = 700
LABELLED = check_es.ROOT / "data/labelled"
# The targets added to the watchlist for this batch (~70 % of its rows should name one of them).
NEW_TARGETS = {
    "Dr. Helen Marsh",
    "Brightwater County Courthouse",
    "Sen. Tomás Ibarra",
    "Harbor House Youth Shelter",
    "Eastlake Poll Workers",
    "Radio Cumbre",
    "Parroquia San Judas",
    "Carla Méndez",
    "Universidad del Valle Central",
    "Sindicato de Repartidores",
}


def main(argv: list[str] | None = None) -> int:
    """Run all checks, print the kind x split table, return a process exit status."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("csv", nargs="?", default=str(LABELLED / "es3.csv"))
    ap.add_argument("--watchlist", default=str(LABELLED / "watchlist.toml"))
    ap.add_argument("--against", nargs="*", default=[str(LABELLED / "es.csv"), str(LABELLED / "es2.csv")])
    ap.add_argument("--min-rows", type=int, default=MIN_ROWS)
    args = ap.parse_args(argv)

    path, watchlist = Path(args.csv), Path(args.watchlist)
    if not path.exists():
        print(f"ERROR {path}: file not found", file=sys.stderr)
        return 1
    errors: list[str] = []
    watch = check_es2.watchlist_names(watchlist)
    rows = check_es.check_rows(path, set(watch) | {check_es2.NO_TARGET}, PREFIX, errors)
    pairs = [(int(r["_line"]), r) for r in rows]
    errors += check_en2.check_mentions(path, pairs, watchlist)
    errors += check_en2.check_split_rule(path, pairs)
    check_es.check_duplicates(rows, path, errors, allow_pairs=False)
    for other in args.against:
        check_es2.check_against(rows, Path(other), path, errors)
    kinds = Counter(r["kind"] for r in rows)
    for k in sorted(check_es.NONE_KINDS):
        if kinds[k] < check_es2.MIN_PER_NONE_KIND:
            errors.append(f"{path}: kind: only {kinds[k]} rows of {k}, need >= {check_es2.MIN_PER_NONE_KIND}")
    if len(rows) < args.min_rows:
        errors.append(f"{path}: only {len(rows)} rows, need >= {args.min_rows}")

    print(f"== {path}")
    print(check_es.table(rows))
    n = max(len(rows), 1)
    empty = sum(r["target"] == check_es2.NO_TARGET for r in rows)
    new = sum(r["target"] in NEW_TARGETS for r in rows)
    caps = sum(check_en2.mostly_upper(r["text"]) for r in rows)
    words = [len(r["text"].split()) for r in rows]
    print(f"no target: {empty} ({100 * empty / n:.0f}%); newest 10 targets: {new} ({100 * new / n:.0f}%)")
    print(
        f"mostly upper-case: {caps} ({100 * caps / n:.0f}%); words min/median/max: "
        f"{min(words, default=0)}/{sorted(words)[len(words) // 2] if words else 0}/{max(words, default=0)}"
    )
    return check_es.finish(errors)


if __name__ == "__main__":
    sys.exit(main())

"""Validate the third English batch (en3.csv): the en2 rules, checked against every earlier set.

en3 exists to add variety (new targets, situations and registers), so a row that near-duplicates
en.csv or en2.csv would teach nothing new and inflate dev figures. Everything else (columns,
labels, target mentions by the project's matcher, the every-4th-row dev rule) is reused from
check_en2.py / check_en.py unchanged.

Usage: python data/labelled/tools/check_en3.py [CSV] [--watchlist PATH] [--min-per-kind N]
       [--earlier CSV ...]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_en as base  # noqa: E402  (sibling script, not a package)
import check_en2 as en2  # noqa: E402

PREFIX = "en3"
EARLIER = [HERE.parent / "en.csv", HERE.parent / "en2.csv"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", type=Path, default=HERE.parent / "en3.csv")
    ap.add_argument("--watchlist", type=Path, default=HERE.parent / "watchlist.toml")
    ap.add_argument("--earlier", type=Path, nargs="*", default=EARLIER)
    ap.add_argument("--min-per-kind", type=int, default=25)
    args = ap.parse_args(argv)
    if not args.csv.exists():
        print(f"ERROR {args.csv}: file not found", file=sys.stderr)
        return 1
    targets = base.load_targets(args.watchlist) | {""}  # "" = the post names no watched target
    errors = base.check_file(args.csv, targets, PREFIX, args.min_per_kind, probes=False)
    rows = en2.read_rows(args.csv)
    errors += en2.check_mentions(args.csv, rows, args.watchlist)
    errors += en2.check_split_rule(args.csv, rows)
    for earlier in args.earlier:
        errors += en2.check_against_first_set(args.csv, rows, earlier)
    return en2.summary(rows, errors)


if __name__ == "__main__":
    sys.exit(main())

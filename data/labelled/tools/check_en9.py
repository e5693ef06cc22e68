"""Validate the ninth English batch (en9.csv): check_en7's rules, against every earlier en*.csv.

en9 adds veiled menace of many shapes (insurance, "accidents happen", flowers and funerals,
family, pets and routines, photos of a porch, countdowns, ominous questions, menace to a
building) beside twins with the same words and no menace (insurance ads, safety notices, a
neighbour's real porch photo, condolences, real "last warning" notices). A row that
near-duplicates an earlier batch (en.csv ... en8.csv when present) would teach nothing new, so
every earlier English file is compared. Everything else is check_en7.py's main (and through it
check_en5's and check_en3's), reused unchanged; only the prefix, default file and batch differ.

Usage: python data/labelled/tools/check_en9.py [CSV] [--watchlist PATH] [--min-per-kind N]
       [--earlier CSV ...]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_en7 as en7  # noqa: E402  (sibling script, not a package)

PREFIX = "en9"
BATCH = 9


def main(argv: list[str] | None = None) -> int:
    """check_en7's main with this batch's prefix, default file and earlier batches (< 9)."""
    en7.PREFIX = PREFIX
    en7.BATCH = BATCH  # en7.earlier_files reads BATCH at call time: en.csv ... en8.csv
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "en9.csv"))
    return en7.main(args)


if __name__ == "__main__":
    sys.exit(main())

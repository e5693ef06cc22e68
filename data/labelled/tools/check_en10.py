"""Validate the tenth English batch (en10.csv): check_en7's rules, against every earlier en*.csv.

en10 adds threats and calls written in African-American English and street/drill slang
("sliding", "spinning the block", "on sight", "it's up", opps, smoke) beside twins with the same
words and no menace (music talk, sports and gaming trash talk, cookouts, sales, vigils). A row
that near-duplicates an earlier batch (en.csv ... en9.csv) would teach nothing new, so
every earlier English file is compared. Everything else is check_en9.py's main (and through it
check_en7's, check_en5's and check_en3's), reused unchanged; only the prefix, default file and batch differ.

Usage: python data/labelled/tools/check_en10.py [CSV] [--watchlist PATH] [--min-per-kind N]
       [--earlier CSV ...]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_en9 as en9  # noqa: E402  (sibling script, not a package)

PREFIX = "en10"
BATCH = 10


def main(argv: list[str] | None = None) -> int:
    """check_en9's main with this batch's prefix, default file and earlier batches (< 10)."""
    en9.PREFIX = PREFIX
    en9.BATCH = BATCH  # en9.main hands both to check_en7: compares en.csv ... en9.csv
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "en10.csv"))
    return en9.main(args)


if __name__ == "__main__":
    sys.exit(main())

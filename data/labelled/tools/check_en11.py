"""Validate the eleventh English batch (en11.csv): check_en9's rules, against every earlier en*.csv.

en11 adds calls for violence dressed as something else (questions, offers, contests, polls,
games, jokes with a plan, "just asking", wishes to a crowd, praise of attackers, "if I were
you") and conditional threats of many shapes, beside lawful twins with the same shapes (sign
polls, recall-slogan contests, rally parking questions, ethics-class hypotheticals, "one more
article and I cancel"). Every earlier English file (en.csv ... en10.csv when present) is
compared for near-duplicates; everything else is check_en9.py's main (through check_en7),
reused unchanged; only the prefix, default file and batch differ.

Usage: python data/labelled/tools/check_en11.py [CSV] [--watchlist PATH] [--min-per-kind N]
       [--earlier CSV ...]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_en9 as en9  # noqa: E402  (sibling script, not a package)

PREFIX = "en11"
BATCH = 11


def main(argv: list[str] | None = None) -> int:
    """check_en9's main with this batch's prefix, default file and earlier batches (< 11)."""
    en9.PREFIX = PREFIX
    en9.BATCH = BATCH
    en9.en7.PREFIX = PREFIX
    en9.en7.BATCH = BATCH  # en7.earlier_files reads BATCH at call time
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "en11.csv"))
    return en9.en7.main(args)


if __name__ == "__main__":
    sys.exit(main())

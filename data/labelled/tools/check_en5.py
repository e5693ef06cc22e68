"""Validate the fifth English batch (en5.csv): the en3 rules, checked against every earlier en*.csv.

en5 targets what the judge still misses (threats built from description, threads, padded direct
threats, AAE) and their innocent twins. A row that near-duplicates an earlier batch would teach
nothing new and inflate dev figures, so every earlier English file (en.csv, en2.csv, en3.csv,
en4.csv when present) is compared. Everything else is check_en3.py's main, reused unchanged.

Usage: python data/labelled/tools/check_en5.py [CSV] [--watchlist PATH] [--min-per-kind N]
       [--earlier CSV ...]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_batch  # noqa: E402  (sibling script, not a package)
import check_en3 as en3  # noqa: E402  (sibling script, not a package)

PREFIX = "en5"


def earlier_files() -> list[Path]:
    """en.csv and every numbered en batch before this one (en2, en3, en4 ...), in order."""
    return check_batch.earlier_files("en", 5)


def main(argv: list[str] | None = None) -> int:
    """Run check_en3's checks with this batch's prefix, default file and earlier sets."""
    en3.PREFIX = PREFIX
    en3.EARLIER = earlier_files()
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "en5.csv"))
    if "--min-per-kind" not in args:
        args += ["--min-per-kind", "12"]
    return en3.main(args)


if __name__ == "__main__":
    sys.exit(main())

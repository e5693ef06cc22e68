"""Validate the fourth English batch (en4.csv): the en3 checks, against every earlier English set.

en4 adds African-American English and street/drill slang (threats and look-alikes alike),
descriptive veiled threats, incitement spread over a thread and their lawful look-alikes. A row
that near-duplicates en.csv, en2.csv or en3.csv would teach nothing new and inflate dev figures,
so it is compared with all three. Everything else is check_en3.py's main, reused unchanged; only
the id prefix, the default file and the earlier sets differ.

Usage: python data/labelled/tools/check_en4.py [CSV] [--watchlist PATH] [--min-per-kind N]
       [--earlier CSV ...]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_en3 as en3  # noqa: E402  (sibling script, not a package)

PREFIX = "en4"
EARLIER = [HERE.parent / "en.csv", HERE.parent / "en2.csv", HERE.parent / "en3.csv"]
MIN_PER_KIND = 12  # a smaller, targeted batch: every protected kind still needs a dozen rows


def main(argv: list[str] | None = None) -> int:
    """Run check_en3's checks with en4's prefix, default file, earlier sets and kind minimum."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        args.insert(0, str(HERE.parent / "en4.csv"))
    if "--min-per-kind" not in args:
        args += ["--min-per-kind", str(MIN_PER_KIND)]
    if "--earlier" not in args:
        args += ["--earlier", *map(str, EARLIER)]
    en3.PREFIX = PREFIX  # check_en3.main reads its module-level PREFIX at call time
    return en3.main(args)


if __name__ == "__main__":
    sys.exit(main())

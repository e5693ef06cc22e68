"""Validate the seventh English batch (en7.csv): check_en5's rules, against every earlier en*.csv.

en7 adds terse, coded and platform-specific posts (emoji-coded menace, "tick tock", dates and
places as menace, hashtags as calls) and their everyday twins (gaming, sports, reminders, safety
notices). A row that near-duplicates an earlier batch would teach nothing new and inflate dev
figures, so every earlier English file (en.csv, en2.csv ... en6.csv when present) is compared.
Everything else is check_en5.py's main (and through it check_en3.py's), reused unchanged; only
the id prefix, the default file and the earlier sets differ.

Usage: python data/labelled/tools/check_en7.py [CSV] [--watchlist PATH] [--min-per-kind N]
       [--earlier CSV ...]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_en5 as en5  # noqa: E402  (sibling script, not a package)

PREFIX = "en7"
BATCH = 7


def earlier_files() -> list[Path]:
    """en.csv and every numbered en batch before this one (en2 ... en6), in order."""
    found = []
    for p in HERE.parent.glob("en*.csv"):
        m = re.fullmatch(r"en(\d*)\.csv", p.name)
        if m and int(m.group(1) or 1) < BATCH:
            found.append((int(m.group(1) or 1), p))
    return [p for _, p in sorted(found)]


def main(argv: list[str] | None = None) -> int:
    """check_en5's main with this batch's prefix, default file and earlier sets."""
    en5.PREFIX = PREFIX  # check_en5.main hands its module-level PREFIX to check_en3 at call time
    en5.earlier_files = earlier_files
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "en7.csv"))
    return en5.main(args)


if __name__ == "__main__":
    sys.exit(main())

"""Validate the sixth English batch (en6.csv): check_en5's rules, checked against en..en5.

en6 adds long-form and conversational posts (forum paragraphs with a threat in the middle,
quoted replies, comment-section answers to headlines, rhetorical-question threats) and their
lawful twins. A row that near-duplicates any earlier English batch would teach nothing new and
inflate dev figures, so every earlier en*.csv, en5.csv included, is compared. Everything else is
check_en5.py's main (itself check_en3.py's), reused unchanged: only the id prefix, the default
file and the earlier-files list differ.

Usage: python data/labelled/tools/check_en6.py [CSV] [--watchlist PATH] [--min-per-kind N]
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

PREFIX = "en6"
BATCH = 6


def earlier_files() -> list[Path]:
    """en.csv and every numbered en batch before this one (en2 ... en5), in order."""
    found = []
    for p in HERE.parent.glob("en*.csv"):
        m = re.fullmatch(r"en(\d*)\.csv", p.name)
        if m and int(m.group(1) or 1) < BATCH:
            found.append((int(m.group(1) or 1), p))
    return [p for _, p in sorted(found)]


def main(argv: list[str] | None = None) -> int:
    """Run check_en5's main with this batch's prefix, default file and earlier sets."""
    en5.PREFIX = PREFIX
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "en6.csv"))
    if "--earlier" not in args:
        args += ["--earlier", *map(str, earlier_files())]
    return en5.main(args)


if __name__ == "__main__":
    sys.exit(main())

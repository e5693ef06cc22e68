"""Validate the eighth English batch (en8.csv): check_en7's rules, against every earlier en*.csv.

en8 adds calls on others to commit violence in many shapes (crowd imperatives, appeals to duty,
bounties, meet-up logistics, hit lists, praise of a past attack as a model, chants, memes) and
the lawful calls that share their words (marches, pickets, boycotts, phone-ins, recalls, fan and
gamer rallies, pet and bug bounties). A row that near-duplicates an earlier batch would teach
nothing new and inflate dev figures, so every earlier English file (en.csv ... en7.csv) is
compared. Everything else is check_en7.py's main (and through it check_en5's and check_en3's),
reused unchanged; only the id prefix, the default file and the earlier sets differ.

Usage: python data/labelled/tools/check_en8.py [CSV] [--watchlist PATH] [--min-per-kind N]
       [--earlier CSV ...]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_en7 as en7  # noqa: E402  (sibling script, not a package)

PREFIX = "en8"
BATCH = 8


def earlier_files() -> list[Path]:
    """en.csv and every numbered en batch before this one (en2 ... en7), in order."""
    found = []
    for p in HERE.parent.glob("en*.csv"):
        m = re.fullmatch(r"en(\d*)\.csv", p.name)
        if m and int(m.group(1) or 1) < BATCH:
            found.append((int(m.group(1) or 1), p))
    return [p for _, p in sorted(found)]


def main(argv: list[str] | None = None) -> int:
    """check_en7's main with this batch's prefix, default file and earlier sets."""
    en7.PREFIX = PREFIX  # check_en7.main hands its module-level PREFIX on at call time
    en7.earlier_files = earlier_files
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "en8.csv"))
    return en7.main(args)


if __name__ == "__main__":
    sys.exit(main())

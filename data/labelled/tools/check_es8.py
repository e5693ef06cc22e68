"""Validate the eighth Spanish batch (data/labelled/es8.csv): check_es7's rules, against every earlier es*.csv.

es8 adds short threats in plain, everyday standard Spanish (direct, conditional and veiled about
equally, few emoji or slang), calls phrased as plans, questions or offers, and their twins in
the same register (complaints, hyperbole between friends, sports, reported threats) plus
everyday on-target mentions. Every check is check_es7.main, reused unchanged; what differs is
the ``es8`` id prefix, the default file, and the near-duplicate check running against every
earlier es*.csv (es … es7).

Usage:
    python data/labelled/tools/check_es8.py [data/labelled/es8.csv] [--watchlist PATH] [--against CSV ...]

Exit status 1 when any error is found; every error names the file, line and field.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import check_es7  # noqa: E402  (sibling scripts, not a package)

PREFIX = "es8"
BATCH = 8


def main(argv: list[str] | None = None) -> int:
    """check_es7's checks with this batch's prefix, default file and earlier files (es … es7)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / f"{PREFIX}.csv"))
    saved = check_es7.PREFIX, check_es7.BATCH
    check_es7.PREFIX, check_es7.BATCH = PREFIX, BATCH
    try:
        return check_es7.main(args)
    finally:
        check_es7.PREFIX, check_es7.BATCH = saved


if __name__ == "__main__":
    sys.exit(main())

"""Validate the seventh Spanish batch (data/labelled/es7.csv): check_es5's rules, against every earlier es*.csv.

es7 adds veiled threats of every shape (mafia courtesy, "los accidentes pasan", wreaths and
funerals, children, pets and routines, threats to buildings, ominous questions) plus direct and
conditional threats in regional slang, and their innocent twins (insurance ads, safety notices,
neighbours who really saw something, condolences, real accident news, overdue-fine "último
aviso", parents' chats, jokes between friends) and everyday on-target mentions. It is trained on
together with the earlier Spanish files, so every check is check_es5.main, reused unchanged
(which in turn reuses check_es3). What differs: the ``es7`` id prefix, the default file, and the
near-duplicate check runs against every earlier es*.csv (es … es6 when present).

Usage:
    python data/labelled/tools/check_es7.py [data/labelled/es7.csv] [--watchlist PATH] [--against CSV ...]

Exit status 1 when any error is found; every error names the file, line and field.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import check_es5  # noqa: E402  (sibling scripts, not a package)

PREFIX = "es7"
BATCH = 7


def earlier_files() -> list[Path]:
    """es.csv and every numbered es batch before this one, in order."""
    found = []
    for p in HERE.parent.glob("es*.csv"):
        m = re.fullmatch(r"es(\d*)\.csv", p.name)
        if m and int(m.group(1) or 1) < BATCH:
            found.append((int(m.group(1) or 1), p))
    return [p for _, p in sorted(found)]


def main(argv: list[str] | None = None) -> int:
    """check_es5's checks with this batch's prefix, default file and earlier files."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / f"{PREFIX}.csv"))
    if "--against" not in args:
        args += ["--against", *map(str, earlier_files())]
    prefix = check_es5.PREFIX
    check_es5.PREFIX = PREFIX
    try:
        return check_es5.main(args)
    finally:
        check_es5.PREFIX = prefix


if __name__ == "__main__":
    sys.exit(main())

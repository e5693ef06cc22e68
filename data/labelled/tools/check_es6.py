"""Validate the sixth Spanish batch (data/labelled/es6.csv): check_es5's rules, against every earlier es*.csv.

es6 adds calls on others to commit violence (crowd imperatives, appeals to manhood, homeland or "los
compas", bounties, attack logistics, lists, WhatsApp chains, lynchings, calls against groups and
buildings) and their lawful twins in the same words (marches, sit-ins, cacerolazos, boycotts, recall
drives, packed council meetings, sports banter, lost-pet rewards). It is trained on together with the
earlier Spanish files, so every check is check_es5.main (itself check_es3's checks plus watchlist
coverage), reused unchanged. Only the ``es6`` id prefix and the earlier files (es … es5) differ.

Usage:
    python data/labelled/tools/check_es6.py [data/labelled/es6.csv] [--watchlist PATH] [--against CSV ...]

Exit status 1 when any error is found; every error names the file, line and field.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import check_es5  # noqa: E402  (sibling script, not a package)

PREFIX = "es6"
BATCH = 6


def earlier_files() -> list[Path]:
    """es.csv and every numbered es batch before this one (es2 … es5), in order."""
    found = []
    for p in HERE.parent.glob("es*.csv"):
        m = re.fullmatch(r"es(\d*)\.csv", p.name)
        if m and int(m.group(1) or 1) < BATCH:
            found.append((int(m.group(1) or 1), p))
    return [p for _, p in sorted(found)]


def main(argv: list[str] | None = None) -> int:
    """check_es5.main with this batch's prefix, default file and earlier files."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "es6.csv"))
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

"""Validate the ninth Spanish batch (data/labelled/es9.csv): check_es7's rules, against every earlier es*.csv.

es9 adds disguised incitement (questions "pregunto para un amigo", offers and contests, polls,
dares, jokes with a real plan, "nadie te culparía si…", "si yo fuera tú…", wishes aimed at a crowd,
praise of attackers as a model) and veiled threats with no violent word (routines, family, house,
car, "sería una lástima", "cuídate", flowers, candles, "ya sabemos"), with their lawful twins in the
same shapes (poster polls for a march, slogan contests, parking questions for a rally, "si yo fuera
tú buscaría un abogado", safety notices, condolences), news, condemned quotes and everyday
on-target mentions. Every check is check_es7's (check_es5.main, itself check_es3's checks plus
coverage of all 38 targets), reused unchanged; only the ``es9`` id prefix, the default file and
the earlier files for the near-duplicate check (es … es8 when present) differ.

Usage:
    python data/labelled/tools/check_es9.py [data/labelled/es9.csv] [--watchlist PATH] [--against CSV ...]

Exit status 1 when any error is found; every error names the file, line and field.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import check_es7  # noqa: E402  (sibling script, not a package)

PREFIX = "es9"
BATCH = 9


def earlier_files() -> list[Path]:
    """es.csv and every numbered es batch before this one, in order."""
    found = []
    for p in HERE.parent.glob("es*.csv"):
        m = re.fullmatch(r"es(\d*)\.csv", p.name)
        if m and int(m.group(1) or 1) < BATCH:
            found.append((int(m.group(1) or 1), p))
    return [p for _, p in sorted(found)]


def main(argv: list[str] | None = None) -> int:
    """check_es7's checks with this batch's prefix, default file and earlier files."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / f"{PREFIX}.csv"))
    if "--against" not in args:
        args += ["--against", *map(str, earlier_files())]
    prefix = check_es7.PREFIX
    check_es7.PREFIX = PREFIX
    try:
        return check_es7.main(args)
    finally:
        check_es7.PREFIX = prefix


if __name__ == "__main__":
    sys.exit(main())

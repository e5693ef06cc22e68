"""Validate the fifth Spanish batch (data/labelled/es5.csv): check_es3's rules, against every earlier es*.csv.

es5 adds terse, coded and conversational posts (emoji-coded menace, "nos vemos pronto", dates
and places as menace, WhatsApp-chain calls) and their innocent twins (fútbol, games, birthdays,
safety notices, countdowns). It is trained on together with the earlier Spanish files, so every
check is check_es3.main, reused unchanged. What differs: the ``es5`` id prefix; the near-duplicate
check runs against every earlier es*.csv (es, es2, es3 and es4 when present); the batch is smaller
(>= 420 rows, >= 12 of each protected kind); and, since the batch is spread over the whole
watchlist rather than written for new targets, every watchlist target must have a row.

Usage:
    python data/labelled/tools/check_es5.py [data/labelled/es5.csv] [--watchlist PATH] [--against CSV ...]

Exit status 1 when any error is found; every error names the file, line and field.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_batch  # noqa: E402  (sibling script, not a package)
import check_en2  # noqa: E402  (sibling scripts, not a package)
import check_es  # noqa: E402
import check_es2  # noqa: E402
import check_es3  # noqa: E402

PREFIX = "es5"
MIN_ROWS = 420
MIN_PER_NONE_KIND = 12


def earlier_files() -> list[Path]:
    """es.csv and every numbered es batch before this one (es2, es3, es4 ...), in order."""
    return check_batch.earlier_files("es", 5)


def coverage_errors(path: Path, watchlist: Path) -> list[str]:
    """One error naming the watchlist targets that no row of the batch is judged toward."""
    if not path.exists() or not watchlist.exists():
        return []  # check_es3 reports the missing file
    used = {r["target"] for _, r in check_en2.read_rows(path)}
    missing = check_es.watchlist_targets(watchlist) - used
    return [f"{path}: target: no rows for {sorted(missing)}"] if missing else []


def main(argv: list[str] | None = None) -> int:
    """Run check_es3's checks with this batch's prefix, sizes and earlier files, plus target coverage."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "es5.csv"))
    if "--against" not in args:
        args += ["--against", *map(str, earlier_files())]
    if "--min-rows" not in args:
        args += ["--min-rows", str(MIN_ROWS)]
    wl = argparse.ArgumentParser(add_help=False)
    wl.add_argument("--watchlist", default=str(HERE.parent / "watchlist.toml"))
    watchlist = Path(wl.parse_known_args(args[1:])[0].watchlist)
    extra = coverage_errors(Path(args[0]), watchlist)

    finish, min_kind = check_es.finish, check_es2.MIN_PER_NONE_KIND
    check_es3.PREFIX, check_es2.MIN_PER_NONE_KIND = PREFIX, MIN_PER_NONE_KIND
    check_es.finish = lambda errors: finish(errors + extra)  # one error report for both
    try:
        return check_es3.main(args)
    finally:
        check_es.finish, check_es2.MIN_PER_NONE_KIND = finish, min_kind


if __name__ == "__main__":
    sys.exit(main())

"""Validate the fourth Spanish labelled batch (data/labelled/es4.csv): check_es3's rules, plus coverage.

Why: es4 adds regional varieties (México, Río de la Plata, España, Colombia, Caribe, Chile,
Centroamérica, US Latino Spanish and Spanglish) and long posts to the Spanish training data, so
it must obey every rule the earlier batches obey. All checks are check_es3.py's main, reused
unchanged; only three things differ: the ``es4`` id prefix, the earlier files for the
near-duplicate check (es.csv, es2.csv, es3.csv), and the targets covered (this batch spreads
its rows across *every* watchlist target, so a target with no row is an error). The batch is
~430 rows, so, as for en5, each protected kind needs >= 12 rows (not es2's 25).

Usage:
    python data/labelled/tools/check_es4.py [data/labelled/es4.csv] [--watchlist PATH] [--against CSV ...]

Exit status 1 when any error is found; every error names the file, line or field.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import check_batch  # noqa: E402  (sibling script, not a package)
import check_es  # noqa: E402  (sibling scripts, not a package)
import check_es2  # noqa: E402
import check_es3  # noqa: E402

PREFIX = "es4"
MIN_ROWS = 420
MIN_PER_NONE_KIND = 12  # as check_en5.py: a ~430-row batch, every protected kind present


def earlier_files() -> list[Path]:
    """es.csv and every numbered es batch before this one (es2, es3 ...), in order."""
    return check_batch.earlier_files("es", 4)


def check_coverage(path: Path, watchlist: Path) -> list[str]:
    """Every watchlist target has at least one row (the batch is spread across all of them)."""
    if not path.exists():
        return []
    names = set(check_es2.watchlist_names(watchlist))
    used = {r["target"] for _, r in check_es3.check_en2.read_rows(path)}
    print(f"targets covered: {len(names & used)}/{len(names)}")
    return [f"{path}: target: no rows for {t!r}" for t in sorted(names - used)]


def main(argv: list[str] | None = None) -> int:
    """check_es3's checks with this batch's prefix, default file, earlier files and row minimum; then coverage."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / "es4.csv"))
    if "--against" not in args:
        args += ["--against", *map(str, earlier_files())]
    if "--min-rows" not in args:
        args += ["--min-rows", str(MIN_ROWS)]
    watchlist = Path(args[args.index("--watchlist") + 1]) if "--watchlist" in args else HERE.parent / "watchlist.toml"
    check_es3.PREFIX = PREFIX
    check_es2.MIN_PER_NONE_KIND = MIN_PER_NONE_KIND
    status = check_es3.main(args)
    missing = check_coverage(Path(args[0]), watchlist)
    if missing:
        check_es.finish(missing)
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())

"""Validate a later labelled batch (en6 and after, es6 and after) by its name: one validator for all.

Why one script: from en6/es6 on, a batch's rules are exactly the previous batches' (check_en5's
for English, check_es5's for Spanish, themselves built on check_en3 / check_es3); only the id
prefix, the default file and the earlier files its rows must not near-duplicate differ. Those
follow from the name, so every such batch is checked here instead of by a copy per batch.

Usage: python data/labelled/tools/check_batch.py en7 [CSV] [the base validator's options]
       (check_en6.py … and check_es6.py … are kept as one-line shortcuts for the same thing)
Exit status 1 if any error was found; every error names the file, line and field.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def earlier_files(lang: str, batch: int) -> list[Path]:
    """`lang`.csv and every numbered `lang` batch before `batch`, in order."""
    found = []
    for p in HERE.parent.glob(f"{lang}*.csv"):
        m = re.fullmatch(lang + r"(\d*)\.csv", p.name)
        if m and int(m.group(1) or 1) < batch:
            found.append((int(m.group(1) or 1), p))
    return [p for _, p in sorted(found)]


def run(prefix: str, argv: list[str] | None = None) -> int:
    """Check batch `prefix` (e.g. "en7", "es6") with its language's base validator."""
    m = re.fullmatch(r"(en|es)(\d+)", prefix)
    if not m or int(m.group(2)) < 6:
        print(f"check_batch: {prefix!r} is not a batch this script checks (en6, es6 and later)", file=sys.stderr)
        return 2
    lang, batch = m.group(1), int(m.group(2))
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("--"):
        args.insert(0, str(HERE.parent / f"{prefix}.csv"))
    if lang == "en":
        import check_en5 as base  # noqa: PLC0415  (sibling script, not a package)

        saved = base.PREFIX, base.earlier_files
        base.PREFIX = prefix  # check_en5.main hands its PREFIX to check_en3 at call time
        base.earlier_files = lambda: earlier_files(lang, batch)
    else:
        import check_es5 as base  # noqa: PLC0415

        saved = base.PREFIX, None
        base.PREFIX = prefix
        if "--against" not in args:
            args += ["--against", *map(str, earlier_files(lang, batch))]
    try:
        return base.main(args)
    finally:
        base.PREFIX = saved[0]
        if saved[1] is not None:
            base.earlier_files = saved[1]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__.split("\n\n")[2], file=sys.stderr)
        sys.exit(2)
    sys.exit(run(sys.argv[1], sys.argv[2:]))

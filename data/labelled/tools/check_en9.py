"""Validate the ninth English batch (en9.csv).

en9 adds veiled menace of many shapes (insurance, "accidents happen", flowers and funerals,
family, pets and routines, photos of a porch, countdowns, ominous questions, menace to a
building) beside twins with the same words and no menace (insurance ads, safety notices, a
neighbour's real porch photo, condolences, real "last warning" notices).

The checks are check_batch.py's for batch en9 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_en9.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("en9"))

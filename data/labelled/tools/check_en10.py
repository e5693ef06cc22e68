"""Validate the tenth English batch (en10.csv).

en10 adds threats and calls written in African-American English and street/drill slang
("sliding", "spinning the block", "on sight", "it's up", opps, smoke) beside twins with the same
words and no menace (music talk, sports and gaming trash talk, cookouts, sales, vigils). A row
that near-duplicates an earlier batch (en.csv ... en9.csv) would teach nothing new, so
every earlier English file is compared.

The checks are check_batch.py's for batch en10 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_en10.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("en10"))

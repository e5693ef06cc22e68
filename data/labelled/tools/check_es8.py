"""Validate the eighth Spanish batch (data/labelled/es8.csv).

es8 adds short threats in plain, everyday standard Spanish (direct, conditional and veiled about
equally, few emoji or slang), calls phrased as plans, questions or offers, and their twins in
the same register (complaints, hyperbole between friends, sports, reported threats) plus
everyday on-target mentions.

The checks are check_batch.py's for batch es8 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_es8.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("es8"))

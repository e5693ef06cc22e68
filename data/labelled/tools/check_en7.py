"""Validate the seventh English batch (en7.csv).

en7 adds terse, coded and platform-specific posts (emoji-coded menace, "tick tock", dates and
places as menace, hashtags as calls) and their everyday twins (gaming, sports, reminders, safety
notices).

The checks are check_batch.py's for batch en7 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_en7.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("en7"))

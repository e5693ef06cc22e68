"""Validate the eleventh English batch (en11.csv).

en11 adds calls for violence dressed as something else (questions, offers, contests, polls,
games, jokes with a plan, "just asking", wishes to a crowd, praise of attackers, "if I were
you") and conditional threats of many shapes, beside lawful twins with the same shapes (sign
polls, recall-slogan contests, rally parking questions, ethics-class hypotheticals, "one more
article and I cancel"). Every earlier English file (en.csv ... en10.csv when present) is
compared for near-duplicates; everything else is check_en9.py's main (through check_en7),
reused unchanged; only the prefix, default file and batch differ.

The checks are check_batch.py's for batch en11 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_en11.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("en11"))

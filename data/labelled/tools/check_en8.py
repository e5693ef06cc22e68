"""Validate the eighth English batch (en8.csv).

en8 adds calls on others to commit violence in many shapes (crowd imperatives, appeals to duty,
bounties, meet-up logistics, hit lists, praise of a past attack as a model, chants, memes) and
the lawful calls that share their words (marches, pickets, boycotts, phone-ins, recalls, fan and
gamer rallies, pet and bug bounties).

The checks are check_batch.py's for batch en8 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_en8.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("en8"))

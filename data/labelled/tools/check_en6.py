"""Validate the sixth English batch (en6.csv).

en6 adds long-form and conversational posts (forum paragraphs with a threat in the middle,
quoted replies, comment-section answers to headlines, rhetorical-question threats) and their
lawful twins.

The checks are check_batch.py's for batch en6 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_en6.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("en6"))

"""Validate the sixth Spanish batch (data/labelled/es6.csv).

es6 adds calls on others to commit violence (crowd imperatives, appeals to manhood, homeland or "los
compas", bounties, attack logistics, lists, WhatsApp chains, lynchings, calls against groups and
buildings) and their lawful twins in the same words (marches, sit-ins, cacerolazos, boycotts, recall
drives, packed council meetings, sports banter, lost-pet rewards).

The checks are check_batch.py's for batch es6 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_es6.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("es6"))

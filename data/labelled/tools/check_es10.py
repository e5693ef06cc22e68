"""Validate the tenth Spanish batch (data/labelled/es10.csv).

es10 is mostly posts that name no watched target (empty `target`, judged toward whoever the post
is about): threats at school and work, to an ex-partner, neighbours, landlords, referees, unnamed
officials, buildings and events, and calls on a group against an unnamed person or place, with the
no-target twins a naive model would flag (everyday violent idioms, games and football, venting with
no plan, song lyrics and film lines discussed as such, violence in the news, hunting, self-defence,
true crime, dark humour marked as a joke), plus everyday on-target mentions and ~10 % Spanglish.

The checks are check_batch.py's for batch es10 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_es10.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("es10"))

"""Validate the twelfth English batch (en12.csv).

en12 is mostly posts that name no watched target (empty `target`, judged toward whoever the
post is about: a boss, an ex, a neighbour, a landlord, a referee, a streamer, a school, an
office, a crowd's unnamed victim): direct, conditional and veiled threats and calls to a crowd,
beside the twins a naive model flags (everyday violent idioms, gaming and sports talk, venting
with no plan, lyrics and film quotes discussed as such, news, self-defence, hunting, true crime,
dark jokes marked as jokes), plus rows naming watchlist targets including plain everyday
on-target mentions.

The checks are check_batch.py's for batch en12 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_en12.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("en12"))

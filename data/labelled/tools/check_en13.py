"""Validate the thirteenth English batch (en13.csv).

en13 adds incitement and veiled threats inside longer posts and numbered threads (the call or
the menace comes late, is implied by what came before, or is split across sentences; doxxing
threads, forum replies building on a call, mock "hypothetical" plans, calls framed as defending
the community) beside lawful twins of the same long shapes (grievance threads ending in a vote,
recall, protest or lawsuit, threads quoting a call to report it, community-safety threads,
true-crime and history posts, long angry reviews) and everyday long on-target posts.

The checks are check_batch.py's for batch en13 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_en13.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("en13"))

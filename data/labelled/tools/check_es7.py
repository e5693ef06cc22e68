"""Validate the seventh Spanish batch (data/labelled/es7.csv).

es7 adds veiled threats of every shape (mafia courtesy, "los accidentes pasan", wreaths and
funerals, children, pets and routines, threats to buildings, ominous questions) plus direct and
conditional threats in regional slang, and their innocent twins (insurance ads, safety notices,
neighbours who really saw something, condolences, real accident news, overdue-fine "último
aviso", parents' chats, jokes between friends) and everyday on-target mentions.

The checks are check_batch.py's for batch es7 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_es7.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("es7"))

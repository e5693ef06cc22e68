"""Validate the ninth Spanish batch (data/labelled/es9.csv).

es9 adds disguised incitement (questions "pregunto para un amigo", offers and contests, polls,
dares, jokes with a real plan, "nadie te culparía si…", "si yo fuera tú…", wishes aimed at a crowd,
praise of attackers as a model) and veiled threats with no violent word (routines, family, house,
car, "sería una lástima", "cuídate", flowers, candles, "ya sabemos"), with their lawful twins in the
same shapes (poster polls for a march, slogan contests, parking questions for a rally, "si yo fuera
tú buscaría un abogado", safety notices, condolences), news, condemned quotes and everyday
on-target mentions.

The checks are check_batch.py's for batch es9 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_es9.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("es9"))

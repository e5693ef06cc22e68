"""Validate the eleventh Spanish batch (data/labelled/es11.csv).

es11 adds veiled threats and incitement inside long posts and chains (3-10 sentences: neighbourhood
groups, WhatsApp chains, numbered threads) where the threat or the call comes at the end, follows
from what came before or is spread over several sentences: grievances that end in a call, chains
with addresses, replies that join someone else's call, "hypothetical" plans, calls dressed as
neighbourhood defence, veiled threats with routine, family, house, car or business. Their lawful
twins have the same long shape: grievances that end in a march, complaint, appeal, recall or
boycott; chains quoting a call to report it; neighbourhood safety notices; angry reviews;
chronicles; long everyday on-target mentions.

The checks are check_batch.py's for batch es11 (the rules of every batch since en6/es6; only the
id prefix, the default file and the earlier files differ): this file is its shortcut.

Usage: python data/labelled/tools/check_es11.py [CSV] [options of the base validator]
Exit status 1 if any error was found.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_batch import run  # noqa: E402  (sibling script, not a package)

if __name__ == "__main__":
    sys.exit(run("es11"))

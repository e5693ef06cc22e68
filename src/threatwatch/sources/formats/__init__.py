"""One parser module per platform format; `files.py` picks one and feeds it."""

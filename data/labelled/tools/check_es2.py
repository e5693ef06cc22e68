"""Validate the second Spanish labelled batch (data/labelled/es2.csv).

Why: es2 is written against the judge's known blind spots (rare violent verbs, descriptive
veiled threats, group targets, posts that name no target) and is trained on together with
es.csv, so it must obey the same rules.  All checks are reused from check_es.py; this file
adds only what differs: the ``es2`` id prefix, an empty target (a post naming no watched
target, always on_target=1), a check that the target's name or an alias is written in the
text, and a near-duplicate check against es.csv so the batch adds new wording.

Usage:
    python data/labelled/tools/check_es2.py [data/labelled/es2.csv] [--against data/labelled/es.csv]

Exit status 1 when any error is found; every error names the file, line and field.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
import unicodedata
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check_es  # noqa: E402  (sibling script, not a package)

MIN_PER_NONE_KIND = 25
MIN_ROWS = 650
NO_TARGET = ""


def _fold(text: str) -> str:
    """Accent- and case-insensitive form, as the matcher forgives both."""
    t = unicodedata.normalize("NFKD", text)
    return "".join(c for c in t if not unicodedata.combining(c)).casefold()


BATCH_TARGETS = 28  # the watchlist when es2 was written: batch 1's 15 targets and 13 new ones (see check_es)


def watchlist_names(path: Path) -> dict[str, tuple[list[str], bool]]:
    """Target name -> (name and aliases, case_sensitive) from the watchlist TOML."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {
        t["name"]: ([t["name"], *t.get("aliases", [])], bool(t.get("case_sensitive", False)))
        for t in data.get("target", [])
    }


def _is_acronym(alias: str) -> bool:
    """Short all-caps single words (ICE, KRVX) must be written in capitals to count."""
    letters = [c for c in alias if c.isalpha()]
    return 1 < len(letters) <= 6 and alias.isupper() and " " not in alias.strip()


def names_target(text: str, names: list[str], case_sensitive: bool) -> bool:
    """True when the text writes the target's name or one alias as whole words (any separator, like the matcher)."""
    folded = _fold(text)
    for n in names:
        if _is_acronym(n) and (case_sensitive or len(n) <= 4):
            if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text):
                return True
            continue
        body = r"[\s\-_.]*".join(re.escape(w) for w in re.split(r"[\s\-_.]+", _fold(n)) if w)
        if re.search(rf"(?<!\w){body}(?!\w)", folded):
            return True
    return False


def check_rows(path: Path, watch: dict[str, tuple[list[str], bool]], errors: list[str]) -> list[dict[str, str]]:
    """check_es.check_rows with the es2 prefix and an allowed empty target; plus the name-in-text rule."""
    own: list[str] = []
    rows = check_es.check_rows(path, set(watch) | {NO_TARGET}, "es2", own)
    by_line = {r["_line"]: r for r in rows}
    for e in own:
        m = re.match(rf"^{re.escape(str(path))}:(\d+): target: ''", e)
        if m and by_line.get(m.group(1), {}).get("target") == NO_TARGET:
            continue
        errors.append(e)
    for r in rows:
        where = f"{path}:{r['_line']}"
        t = r["target"]
        if t == NO_TARGET:
            if r["kind"] == "off_target" or r["on_target"] != "1":
                errors.append(f"{where}: target: empty target rows are judged as they stand (on_target=1, not off_target)")
            continue
        if t in watch and not names_target(r["text"], *watch[t]):
            errors.append(f"{where}: text: neither {t!r} nor any of its aliases is written in the text")
    return rows


def check_against(rows: list[dict[str, str]], other: Path, path: Path, errors: list[str]) -> None:
    """No es2 row may be a near-duplicate of a row already in es.csv."""
    if not other.exists():
        return
    import csv

    with other.open(encoding="utf-8", newline="") as fh:
        old = [set(check_es.normalise(r["text"]).split()) for r in csv.DictReader(fh)]
    for r in rows:
        a = set(check_es.normalise(r["text"]).split())
        if len(a) < 4:
            continue
        for b in old:
            inter = len(a & b)
            if inter and inter / len(a | b) >= check_es.NEAR_DUP_JACCARD:
                errors.append(f"{path}:{r['_line']}: text: near-duplicate of a row in {other}")
                break


def main(argv: list[str] | None = None) -> int:
    """Run all checks, print the kind x split table, return a process exit status."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("csv", nargs="?", default=str(check_es.ROOT / "data/labelled/es2.csv"))
    ap.add_argument("--watchlist", default=str(check_es.ROOT / "data/labelled/watchlist.toml"))
    ap.add_argument("--against", default=str(check_es.ROOT / "data/labelled/es.csv"))
    ap.add_argument("--min-rows", type=int, default=MIN_ROWS)
    args = ap.parse_args(argv)

    errors: list[str] = []
    watch = watchlist_names(Path(args.watchlist))
    path = Path(args.csv)
    rows = check_rows(path, watch, errors)
    check_es.check_duplicates(rows, path, errors, allow_pairs=False)
    check_against(rows, Path(args.against), path, errors)
    kinds = Counter(r["kind"] for r in rows)
    for k in sorted(check_es.NONE_KINDS):
        if kinds[k] < MIN_PER_NONE_KIND:
            errors.append(f"{path}: kind: only {kinds[k]} rows of {k}, need >= {MIN_PER_NONE_KIND}")
    for k in sorted(check_es.ALL_KINDS):
        c = [r["split"] for r in rows if r["kind"] == k]
        if len(c) >= 4 and not 0.15 <= c.count("dev") / len(c) <= 0.35:
            errors.append(f"{path}: split: dev share for {k} is {c.count('dev') / len(c):.0%}, expected about 25%")
    if len(rows) < args.min_rows:
        errors.append(f"{path}: only {len(rows)} rows, need >= {args.min_rows}")
    missing = check_es.first_targets(Path(args.watchlist), BATCH_TARGETS) - {r["target"] for r in rows}
    if missing:
        errors.append(f"{path}: target: no rows for {sorted(missing)}")
    print(f"== {path}")
    print(check_es.table(rows))
    empty = sum(r["target"] == NO_TARGET for r in rows)
    print(f"no target: {empty} rows ({100 * empty / max(len(rows), 1):.0f}%)")
    return check_es.finish(errors)


if __name__ == "__main__":
    sys.exit(main())

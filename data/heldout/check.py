"""Validate the held-out evaluation set: stdlib only, prints one line per error, exits 1 on any.

Usage: python data/heldout/check.py [en.csv es.csv ...]   (defaults to both files next to it)

Each file is checked against the watchlist.toml beside it, so the same script validates
data/heldout2/ (`python data/heldout/check.py data/heldout2/en.csv data/heldout2/es.csv`).
"""
import csv
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).parent
COLS = ["id", "text", "lang", "target", "threat", "kind", "sentiment", "on_target", "dialect", "note"]
THREAT_KINDS = {"direct": "threat", "conditional": "threat", "veiled": "threat", "incitement": "incitement"}
PROTECTED = {"hyperbole", "insult", "criticism", "satire", "protest", "news", "quote_condemn",
             "counter_speech", "support", "neutral", "off_target"}
ALLOWED = {"threat": {"threat", "incitement", "none"}, "kind": set(THREAT_KINDS) | PROTECTED,
           "sentiment": {"negative", "neutral", "positive"}, "on_target": {"0", "1"},
           "dialect": {"standard", "aae", "spanglish"}, "lang": {"en", "es"}}


def load_targets(path: Path) -> dict[str, list[str]]:
    """Map each target name to the surface forms (name + aliases) a post may use."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return {t["name"]: [t["name"], *t.get("aliases", [])] for t in data["target"]}


def check(path: Path, targets: dict[str, list[str]], seen: dict[str, str]) -> list[str]:
    """Return the errors in one CSV, each naming file, line and field."""
    errs = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != COLS:
            return [f"{path}:1: header {reader.fieldnames} != {COLS}"]
        ids = set()
        for line, row in enumerate(reader, start=2):
            where = f"{path}:{line}"
            for field, allowed in ALLOWED.items():
                if row[field] not in allowed:
                    errs.append(f"{where}: {field}={row[field]!r} not in {sorted(allowed)}")
            if row["id"] in ids:
                errs.append(f"{where}: id {row['id']!r} repeated")
            ids.add(row["id"])
            kind = row["kind"]
            if kind in ALLOWED["kind"] and row["threat"] != THREAT_KINDS.get(kind, "none"):
                errs.append(f"{where}: threat={row['threat']!r} does not fit kind={kind!r}")
            if (kind == "off_target") != (row["on_target"] == "0"):
                errs.append(f"{where}: on_target={row['on_target']!r} does not fit kind={kind!r}")
            if row["threat"] != "none" and row["sentiment"] != "negative":
                errs.append(f"{where}: sentiment must be negative for a threat")
            if row["target"] not in targets:
                errs.append(f"{where}: target {row['target']!r} not in {path.parent / 'watchlist.toml'}")
            elif not any(f.casefold() in row["text"].casefold() for f in targets[row["target"]]):
                errs.append(f"{where}: text names neither {row['target']!r} nor an alias")
            key = " ".join(row["text"].casefold().split())
            if key in seen:
                errs.append(f"{where}: duplicate text (first at {seen[key]})")
            seen.setdefault(key, where)
    return errs


def main(argv: list[str]) -> int:
    """Check every file given (or both defaults) against the watchlist.toml next to it."""
    files = [Path(a) for a in argv] or [HERE / "en.csv", HERE / "es.csv"]
    seen: dict[str, str] = {}
    errs = [e for f in files for e in check(f, load_targets(f.parent / "watchlist.toml"), seen)]
    for e in errs:
        print(e)
    print(f"{len(errs)} errors in {', '.join(str(f) for f in files)}")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

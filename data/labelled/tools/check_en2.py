"""Validate the second English batch (en2.csv) with the same rules as check_en.py, plus its own.

The batch aims at the judge's blind spots, so three things matter beyond the shared checks:
rows may have an EMPTY target (a post that names no watched target at all), the target a row is
judged toward must really be found in its text by the project's matcher (otherwise training
teaches the judge about a mention the pipeline never sees), and no row may near-duplicate
the first set, en.csv (a copy would inflate dev figures and teach nothing new).

Usage: python data/labelled/tools/check_en2.py [CSV] [--watchlist PATH] [--min-per-kind N]
Exit status 1 if any error was found.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(HERE))
import check_en as base  # noqa: E402  (sibling script, not a package)

PREFIX = "en2"


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line, row) pairs of a CSV with the shared header; malformed rows are left to check_file."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        if next(reader, None) != base.HEADER:
            return []
        return [
            (line, dict(zip(base.HEADER, row, strict=True)))
            for line, row in enumerate(reader, start=2)
            if len(row) == len(base.HEADER)
        ]


def load_matcher(watchlist: Path):  # noqa: ANN201 - threatwatch.match.Matcher, imported lazily
    """The project's own matcher, so 'the target is named' means what the pipeline means."""
    src = ROOT / "src"
    if src.is_dir():
        sys.path.insert(0, str(src))
    from threatwatch.config import load_watchlist
    from threatwatch.match import Matcher

    return Matcher(load_watchlist(watchlist))


def check_mentions(path: Path, rows: list[tuple[int, dict[str, str]]], watchlist: Path) -> list[str]:
    """A named target must be found in the text; an empty target means no target is found."""
    errors: list[str] = []
    try:
        matcher = load_matcher(watchlist)
    except ImportError as e:  # e.g. hyperscan missing: say so rather than pass silently
        return [f"{path}: cannot check target mentions, threatwatch not importable ({e})"]
    for line, r in rows:
        found = {m.target for m in matcher.find(r["text"])}
        if r["target"] and r["target"] not in found:
            errors.append(
                f"{path}:{line}: field text does not name target {r['target']!r} (matcher found {sorted(found)})"
            )
        if not r["target"]:
            if found:
                errors.append(f"{path}:{line}: field target is empty but the text names {sorted(found)}")
            if r["on_target"] != "1" or r["kind"] == "off_target":
                errors.append(
                    f"{path}:{line}: field on_target: a row with no target is judged as on target (1, not off_target)"
                )
    return errors


def check_split_rule(path: Path, rows: list[tuple[int, dict[str, str]]]) -> list[str]:
    """Every 4th row of each kind is dev: fixed by position, so no one picks easy dev rows."""
    errors: list[str] = []
    seen: Counter[str] = Counter()
    for line, r in rows:
        seen[r["kind"]] += 1
        want = "dev" if seen[r["kind"]] % 4 == 0 else "train"
        if r["split"] != want:
            errors.append(
                f"{path}:{line}: field split {r['split']!r}, expected {want} (row {seen[r['kind']]} of kind {r['kind']})"
            )
    return errors


def check_against_first_set(path: Path, rows: list[tuple[int, dict[str, str]]], first: Path) -> list[str]:
    """No row may near-duplicate en.csv (same 3-gram Jaccard threshold as within a file)."""
    if not first.exists():
        return []
    with first.open(encoding="utf-8", newline="") as fh:
        old = [
            (r.get("id", ""), base.shingles(base.norm_text(r.get("text") or ""))) for r in csv.DictReader(fh)
        ]
    errors: list[str] = []
    for line, r in rows:
        s = base.shingles(base.norm_text(r["text"]))
        if len(s) < 3:
            continue
        for old_id, o in old:
            jac = len(s & o) / len(s | o)
            if jac >= 0.6:
                errors.append(
                    f"{path}:{line}: field text near-duplicates {first.name} row {old_id} (Jaccard {jac:.2f})"
                )
                break
    return errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", type=Path, default=HERE.parent / "en2.csv")
    ap.add_argument("--watchlist", type=Path, default=HERE.parent / "watchlist.toml")
    ap.add_argument("--first-set", type=Path, default=HERE.parent / "en.csv")
    ap.add_argument("--min-per-kind", type=int, default=25)
    args = ap.parse_args(argv)
    if not args.csv.exists():
        print(f"ERROR {args.csv}: file not found", file=sys.stderr)
        return 1
    targets = base.load_targets(args.watchlist) | {""}  # "" = the post names no watched target
    errors = base.check_file(args.csv, targets, PREFIX, args.min_per_kind, probes=False)
    rows = read_rows(args.csv)
    errors += check_mentions(args.csv, rows, args.watchlist)
    errors += check_split_rule(args.csv, rows)
    errors += check_against_first_set(args.csv, rows, args.first_set)
    return summary(rows, errors)


def mostly_upper(text: str) -> bool:
    """Written mostly in capitals (the batches aim for a share of shouted posts)."""
    return sum(c.isupper() for c in text) > 0.6 * max(1, sum(c.isalpha() for c in text))


def summary(rows: list[tuple[int, dict[str, str]]], errors: list[str]) -> int:
    """The batch's shouted and no-target counts, then every error; the exit status."""
    caps = sum(1 for _, r in rows if mostly_upper(r["text"]))
    no_target = sum(1 for _, r in rows if not r["target"])
    print(f"mostly upper-case rows: {caps}; rows with no target: {no_target}")
    return base.finish(errors)


if __name__ == "__main__":
    sys.exit(main())

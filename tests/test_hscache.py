"""Compiled hyperscan databases are reused between runs, and a bad cache never breaks a run."""

from __future__ import annotations

from pathlib import Path

import hyperscan
import pytest

from threatwatch.config import Target, Watchlist
from threatwatch.hscache import database
from threatwatch.match import Matcher

FLAGS = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SOM_LEFTMOST


def hits(db: hyperscan.Database, data: bytes) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    db.scan(data, match_event_handler=lambda i, a, b, _f, ctx: ctx.append((i, a, b)), context=out)
    return sorted(out)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("THREATWATCH_CACHE_DIR", str(d))
    return d


def test_second_build_loads_the_stored_database(cache: Path) -> None:
    pats = [rb"burn(ed|ing)? down", rb"kill"]
    first = database("t", pats, [0, 1], [FLAGS] * 2)
    files = list(cache.glob("hs-t-*.db"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    second = database("t", pats, [0, 1], [FLAGS] * 2)
    assert files[0].stat().st_mtime_ns == stamp  # read, not rewritten
    text = b"they burned down the shed; kill the lights"
    assert hits(second, text) == hits(first, text) == [(0, 5, 16), (1, 27, 31)]


def test_other_patterns_get_their_own_file(cache: Path) -> None:
    database("t", [rb"alpha"], [0], [FLAGS])
    database("t", [rb"beta"], [0], [FLAGS])
    assert len(list(cache.glob("hs-t-*.db"))) == 2


def test_corrupt_file_is_compiled_again_and_replaced(cache: Path) -> None:
    database("t", [rb"kill"], [0], [FLAGS])
    (f,) = cache.glob("hs-t-*.db")
    f.write_bytes(b"not a database")
    db = database("t", [rb"kill"], [0], [FLAGS])
    assert hits(db, b"kill") == [(0, 0, 4)]
    assert f.stat().st_size > 100  # a real database again


def test_unwritable_cache_only_costs_the_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("THREATWATCH_CACHE_DIR", str(blocker / "sub"))
    db = database("t", [rb"kill"], [0], [FLAGS])
    assert hits(db, b"kill") == [(0, 0, 4)]


def test_matcher_from_cache_finds_the_same_mentions(cache: Path) -> None:
    wl = Watchlist(targets=[Target(name="Lincoln High School", kind="organization", aliases=["Lincoln High"]),
                            Target(name="ICE", kind="organization", case_sensitive=True)])
    posts = ["ICE was at Lincoln High today", "the price of ice", "#LincolnHighStrong", "nothing here"]
    cold = Matcher(wl)
    assert len(list(cache.glob("hs-aliases*.db"))) == 2
    warm = Matcher(wl)
    assert [[m.target for m in warm.find(p)] for p in posts] == [[m.target for m in cold.find(p)] for p in posts]
    assert sorted(m.target for m in warm.find(posts[0])) == ["ICE", "Lincoln High School"]
    assert warm.find(posts[1]) == []  # lower-case "ice" is not the agency

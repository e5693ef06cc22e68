"""Compiled hyperscan databases, kept between runs.

Why: compiling is the slowest part of starting up — about 5 s for a 38-target watchlist's alias
patterns and 1.6 s for the judge's cue lexicons — and every `threatwatch classify`, `eval`,
worker and restart paid it again. A database is stored in the cache folder under a hash of
everything that shapes it (patterns, ids, flags, mode, hyperscan version, machine), so a changed
watchlist or lexicon simply gets a new file; a missing, truncated or foreign file (another CPU:
hyperscan refuses it) is compiled afresh and rewritten. A read-only home only costs the compile.
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

import hyperscan


def cache_dir() -> Path:
    """THREATWATCH_CACHE_DIR, else $XDG_CACHE_HOME/threatwatch, else ~/.cache/threatwatch."""
    env = os.environ.get("THREATWATCH_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "threatwatch"


def _noop(*_args: object) -> None:
    return None


def database(name: str, expressions: list[bytes], ids: list[int], flags: list[int],
             mode: int = hyperscan.HS_MODE_BLOCK) -> hyperscan.Database:
    """A compiled database for these patterns, loaded from the cache folder when possible."""
    key = hashlib.sha256(repr((expressions, ids, flags, mode, getattr(hyperscan, "__version__", ""),
                               platform.machine())).encode()).hexdigest()[:20]
    path = cache_dir() / f"hs-{name}-{key}.db"
    try:
        db = hyperscan.loadb(path.read_bytes(), mode=mode)
        db.scratch = hyperscan.Scratch(db)  # a loaded database comes without one
        db.scan(b"warm", match_event_handler=_noop)  # a bad file fails here, not mid-run
        return db
    except Exception:  # noqa: BLE001 - no file, a stale or a foreign one: compile
        pass
    db = hyperscan.Database(mode=mode)
    db.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=flags)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(hyperscan.dumpb(db))
        os.replace(tmp, path)  # atomic: a concurrent reader sees no file or a whole one
    except OSError:
        pass
    return db

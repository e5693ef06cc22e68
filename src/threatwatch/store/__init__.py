"""Store: aggregates, alerts, checkpoints, rejects and the audit log.

`open_store(url)` picks the engine from the URL: a file path (or sqlite:///path) gives the
embedded SQLite store; postgresql://... the shared PostgreSQL store for scale-out.
"""

from __future__ import annotations

from .sql import AlertRow, SQLStore, StoreError, week_bounds

__all__ = ["AlertRow", "SQLStore", "StoreError", "open_store", "week_bounds"]


def open_store(url: str) -> SQLStore:
    """Open (and migrate) the store named by `url`."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(url)
    from .sqlite import SQLiteStore

    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    return SQLiteStore(path)

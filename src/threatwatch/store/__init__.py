"""Store: aggregates, alerts, checkpoints, rejects and the audit log.

`open_store(url)` picks the engine from the URL: a file path (or sqlite:///path) gives the
embedded SQLite store; postgresql://... the shared PostgreSQL store for scale-out.
"""

from __future__ import annotations

from .sql import AlertRow, SQLStore, StoreError, week_bounds

__all__ = ["AlertRow", "SQLStore", "StoreConnectionError", "StoreError", "open_store", "week_bounds"]


class StoreConnectionError(StoreError, ConnectionError):
    """The database server cannot be reached."""


def open_store(url: str) -> SQLStore:
    """Open (and migrate) the store named by `url`."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        try:
            return PostgresStore(url)
        except ConnectionError as e:
            # Still a ConnectionError for callers that retry, and a clean CLI error (no traceback).
            raise StoreConnectionError(str(e).removeprefix("--db ")) from None
    from .sqlite import SQLiteStore

    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    return SQLiteStore(path)

"""The embedded default: one SQLite file in WAL mode, no server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .sql import SQLStore, StoreError


class SQLiteStore(SQLStore):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.url = path
        try:
            if path != ":memory:":
                if Path(path).is_dir():
                    raise StoreError(f"{path}: is a directory; give a file path, e.g. {Path(path) / 'tw.sqlite'}")
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe in WAL mode
            self.conn.execute("PRAGMA busy_timeout=30000")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except sqlite3.DatabaseError as e:
            # A wrong path, a file that is not a database or a read-only place is a user error:
            # say which file and why, without a traceback.
            why = "not a SQLite database" if "not a database" in str(e) else f"{e} (check that the file and its directory are writable)"
            raise StoreError(f"{path}: cannot open the SQLite store: {why}") from None
        except OSError as e:
            raise StoreError(f"{path}: cannot create the store: {e.strerror or e}") from None
        with self.lock:
            for op in ("UPDATE", "DELETE"):
                self.conn.execute(
                    f"CREATE TRIGGER IF NOT EXISTS audit_no_{op.lower()} BEFORE {op} ON audit "
                    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
                )
            self.conn.commit()

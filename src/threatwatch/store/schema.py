"""Schema migrations, shared by SQLite and PostgreSQL.

Each migration is a list of statements written in the SQL both engines accept; `{serial}`
becomes the engine's auto-increment primary key and `{blob}` its bytes type. A database
records its version in `meta`, so `migrate()` is safe to run at every start.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 1: the pipeline's tables
    [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # idempotency: one row per (post id, target) already counted; holds a hash, not the id
        "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, hour TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS seen_hour ON seen (hour)",
        # aggregates: on-target mentions per target x hour x sentiment x language x platform
        """CREATE TABLE IF NOT EXISTS agg (
            target TEXT NOT NULL, hour TEXT NOT NULL, sentiment TEXT NOT NULL,
            lang TEXT NOT NULL, platform TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (target, hour, sentiment, lang, platform))""",
        """CREATE TABLE IF NOT EXISTS alerts (
            id {serial}, post_id TEXT NOT NULL, target TEXT NOT NULL,
            platform TEXT NOT NULL, url TEXT, author TEXT, text TEXT NOT NULL,
            created_at TEXT NOT NULL, lang TEXT, reply_to TEXT, quote_of TEXT,
            threat TEXT NOT NULL, threat_score REAL NOT NULL, subtype TEXT,
            sentiment TEXT, explanation TEXT, cues TEXT, judge TEXT,
            text_hash TEXT, dup_of INTEGER,
            status TEXT NOT NULL DEFAULT 'new', reason TEXT, note TEXT,
            decided_by TEXT, decided_at TEXT, raised_at TEXT NOT NULL, latency_s REAL,
            UNIQUE (post_id, target))""",
        "CREATE INDEX IF NOT EXISTS alerts_queue ON alerts (status, threat_score)",
        "CREATE INDEX IF NOT EXISTS alerts_target_time ON alerts (target, created_at)",
        "CREATE INDEX IF NOT EXISTS alerts_text_hash ON alerts (target, text_hash)",
        """CREATE TABLE IF NOT EXISTS checkpoints (
            source TEXT PRIMARY KEY, position TEXT NOT NULL, updated_at TEXT NOT NULL,
            posts INTEGER NOT NULL DEFAULT 0, rejects INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE IF NOT EXISTS rejects (
            id {serial}, source TEXT NOT NULL, line INTEGER, reason TEXT NOT NULL,
            detail TEXT, sample TEXT, at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS audit (
            id {serial}, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            object TEXT, detail TEXT)""",
    ],
    # web desk: accounts, server-side sessions, API tokens (stored hashed), login throttling
    [
        """CREATE TABLE IF NOT EXISTS users (
            id {serial}, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, pw_hash TEXT NOT NULL,
            created_at TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE IF NOT EXISTS sessions (
            id TEXT PRIMARY KEY, user_name TEXT NOT NULL, csrf TEXT NOT NULL,
            created_at TEXT NOT NULL, expires_at TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_name)",
        """CREATE TABLE IF NOT EXISTS api_tokens (
            id {serial}, token_hash TEXT NOT NULL UNIQUE, user_name TEXT NOT NULL, label TEXT,
            created_at TEXT NOT NULL, last_used TEXT, revoked INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE IF NOT EXISTS login_attempts (
            key TEXT PRIMARY KEY, failures INTEGER NOT NULL DEFAULT 0, first_at TEXT NOT NULL,
            locked_until TEXT)""",
    ],
    # notifier outbox: every alert delivery is queued here first, retried with backoff until it
    # succeeds, so a failing webhook or mail server (or a crash) never loses a notification
    [
        """CREATE TABLE IF NOT EXISTS outbox (
            id {serial}, notifier TEXT NOT NULL, alert_id INTEGER NOT NULL, payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_at BIGINT NOT NULL, created_at TEXT NOT NULL,
            delivered_at TEXT, last_error TEXT, UNIQUE (notifier, alert_id))""",
        "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (notifier, delivered_at, next_at)",
    ],
]


"""Accounts, roles, server-side sessions, API tokens and login throttling, kept in the store.

Why server-side sessions: a session can be ended (logout, expiry, user disabled) at once, and
the cookie holds only a random id whose hash is stored, so a copy of the database does not
let anyone log in. Passwords use argon2id; API tokens are random and stored as SHA-256 hashes
(they are long and random, so a slow KDF adds nothing) and shown once when minted.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..store.sql import SQLStore

ROLES = ("viewer", "reviewer", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
MIN_PASSWORD = 10

SESSION_TTL = timedelta(hours=12)
MAX_FAILURES = 5  # failures within FAILURE_WINDOW before a lockout
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)

_ph = PasswordHasher()
# A hash to verify against when the user does not exist, so timing does not reveal names.
_DUMMY_HASH = _ph.hash("not-a-real-password-0")


class AccountError(ValueError):
    """A bad account request; the message names the field."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    def can(self, role: str) -> bool:
        """True when this user's role is at least `role` (viewer < reviewer < admin)."""
        return RANK[self.role] >= RANK[role]


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    expires_at: str


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not name or len(name) > 64 or not set(name) <= NAME_OK:
        raise AccountError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '-' or '@'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    return role


def add_user(store: SQLStore, name: str, role: str, password: str, *, actor: str = "cli") -> User:
    """Create an account (audited). Raises AccountError naming the bad field."""
    check_name(name)
    check_role(role)
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    if get_user(store, name) is not None:
        raise AccountError(f"user name {name!r}: already exists")
    with store.lock:
        store.execute("INSERT INTO users (name, role, pw_hash, created_at) VALUES (?, ?, ?, ?)",
                      (name, role, _ph.hash(password), _iso(_now())))
        store.commit()
    store.audit(actor, "user.create", f"user:{name}", f'{{"role": "{role}"}}')
    return User(name, role)


def get_user(store: SQLStore, name: str) -> User | None:
    rows = store.query("SELECT name, role FROM users WHERE name = ? AND disabled = 0", (name,))
    return User(rows[0][0], rows[0][1]) if rows else None


def list_users(store: SQLStore) -> list[dict[str, object]]:
    rows = store.query("SELECT name, role, created_at, disabled FROM users ORDER BY name")
    return [{"name": r[0], "role": r[1], "created_at": r[2], "disabled": bool(r[3])} for r in rows]


def set_role(store: SQLStore, name: str, role: str, *, actor: str) -> None:
    check_role(role)
    with store.lock:
        cur = store.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
        if cur.rowcount != 1:
            raise AccountError(f"user {name!r}: no such user")
        store.commit()
    store.audit(actor, "user.role", f"user:{name}", f'{{"role": "{role}"}}')


def set_disabled(store: SQLStore, name: str, disabled: bool, *, actor: str) -> None:
    """Disable (or re-enable) an account; disabling ends its sessions and tokens at once."""
    with store.lock:
        cur = store.execute("UPDATE users SET disabled = ? WHERE name = ?", (1 if disabled else 0, name))
        if cur.rowcount != 1:
            raise AccountError(f"user {name!r}: no such user")
        if disabled:
            store.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
            store.execute("UPDATE api_tokens SET revoked = 1 WHERE user_name = ?", (name,))
        store.commit()
    store.audit(actor, "user.disable" if disabled else "user.enable", f"user:{name}")


# -- login throttling -------------------------------------------------------------------------
def _locked(store: SQLStore, key: str) -> bool:
    rows = store.query("SELECT locked_until FROM login_attempts WHERE key = ?", (key,))
    return bool(rows and rows[0][0] and rows[0][0] > _iso(_now()))


def _fail(store: SQLStore, key: str) -> None:
    now = _now()
    with store.lock:
        rows = store.query("SELECT failures, first_at FROM login_attempts WHERE key = ?", (key,))
        if not rows or rows[0][1] < _iso(now - FAILURE_WINDOW):
            store.execute("DELETE FROM login_attempts WHERE key = ?", (key,))
            store.execute("INSERT INTO login_attempts (key, failures, first_at) VALUES (?, 1, ?)", (key, _iso(now)))
        else:
            n = int(rows[0][0]) + 1
            until = _iso(now + LOCKOUT) if n >= MAX_FAILURES else None
            store.execute("UPDATE login_attempts SET failures = ?, locked_until = ? WHERE key = ?", (n, until, key))
        store.commit()


def _clear(store: SQLStore, key: str) -> None:
    with store.lock:
        store.execute("DELETE FROM login_attempts WHERE key = ?", (key,))
        store.commit()


class LoginLocked(Exception):
    """Too many failed logins for this name or address; try again later."""


def authenticate(store: SQLStore, name: str, password: str, *, ip: str = "") -> User | None:
    """Check a password, with lockout per user name and per client address (both audited).

    Raises LoginLocked while locked out; returns None on a wrong name or password.
    """
    ukey, ikey = f"user:{name.lower()}", f"ip:{ip}"
    if _locked(store, ukey) or (ip and _locked(store, ikey)):
        store.audit(name or "?", "login.locked", f"ip:{ip}")
        raise LoginLocked("too many failed logins; try again in 15 minutes")
    rows = store.query("SELECT name, role, pw_hash FROM users WHERE name = ? AND disabled = 0", (name,))
    ok = False
    try:
        ok = _ph.verify(rows[0][2] if rows else _DUMMY_HASH, password) and bool(rows)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if not ok:
        _fail(store, ukey)
        if ip:
            _fail(store, ikey)
        store.audit(name or "?", "login.failed", f"ip:{ip}")
        return None
    _clear(store, ukey)
    if rows and _ph.check_needs_rehash(rows[0][2]):
        with store.lock:
            store.execute("UPDATE users SET pw_hash = ? WHERE name = ?", (_ph.hash(password), name))
            store.commit()
    store.audit(name, "login", f"ip:{ip}")
    return User(rows[0][0], rows[0][1])


# -- sessions ---------------------------------------------------------------------------------
def new_session(store: SQLStore, user: User, ttl: timedelta = SESSION_TTL) -> tuple[str, Session]:
    """Start a session; returns (the cookie value, the session). Only its hash is stored."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = _now()
    exp = _iso(now + ttl)
    with store.lock:
        store.execute("DELETE FROM sessions WHERE expires_at < ?", (_iso(now),))
        store.execute("INSERT INTO sessions (id, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                      (_sha(token), user.name, csrf, _iso(now), exp))
        store.commit()
    return token, Session(user, csrf, exp)


def get_session(store: SQLStore, token: str) -> Session | None:
    if not token:
        return None
    rows = store.query(
        "SELECT u.name, u.role, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.name = s.user_name "
        "WHERE s.id = ? AND u.disabled = 0", (_sha(token),))
    if not rows or rows[0][3] < _iso(_now()):
        return None
    return Session(User(rows[0][0], rows[0][1]), rows[0][2], rows[0][3])


def end_session(store: SQLStore, token: str) -> None:
    with store.lock:
        store.execute("DELETE FROM sessions WHERE id = ?", (_sha(token),))
        store.commit()


# -- API tokens -------------------------------------------------------------------------------
TOKEN_PREFIX = "tw_"


def mint_token(store: SQLStore, name: str, label: str = "", *, actor: str = "cli") -> str:
    """Create an API token for a user; the token is returned once and only its hash is kept."""
    if get_user(store, name) is None:
        raise AccountError(f"user {name!r}: no such (enabled) user")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.lock:
        store.execute("INSERT INTO api_tokens (token_hash, user_name, label, created_at) VALUES (?, ?, ?, ?)",
                      (_sha(token), name, label or None, _iso(_now())))
        store.commit()
    store.audit(actor, "token.create", f"user:{name}", None)
    return token


def token_user(store: SQLStore, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    rows = store.query(
        "SELECT u.name, u.role FROM api_tokens t JOIN users u ON u.name = t.user_name "
        "WHERE t.token_hash = ? AND t.revoked = 0 AND u.disabled = 0", (_sha(token),))
    return User(rows[0][0], rows[0][1]) if rows else None


def revoke_tokens(store: SQLStore, name: str, *, actor: str) -> int:
    with store.lock:
        cur = store.execute("UPDATE api_tokens SET revoked = 1 WHERE user_name = ? AND revoked = 0", (name,))
        store.commit()
    store.audit(actor, "token.revoke", f"user:{name}")
    return int(cur.rowcount or 0)

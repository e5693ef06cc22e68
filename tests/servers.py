"""Real PostgreSQL and redis-server processes for tests, on 127.0.0.1, free ports, temp dirs.

Import the fixtures into a test module (`from servers import pg_server, pg_url, redis_server`).
A test skips only when the server binary is absent (CI installs both Debian packages).
PostgreSQL refuses to run as root, so as root the cluster is created and run as the
`postgres` system user in a temp dir that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    """Block until something accepts TCP connections on the port (servers start in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s") from None
            time.sleep(0.05)


def pg_bindir() -> Path | None:
    """Directory holding initdb/pg_ctl: PATH first, then Debian's versioned dirs."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(d, "initdb").exists():
            return Path(d)
    return None


class PostgresServer:
    """A throwaway PostgreSQL cluster. `url(db)` gives a connection URL."""

    def __init__(self) -> None:
        bindir = pg_bindir()
        if bindir is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed")
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tw-pg-"))
        self.data = self.dir / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run([str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--no-sync", "--locale=C"])
        self.start()

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"), "-o", opts, "-w", "start"])
        wait_port(self.port)

    def halt(self) -> None:
        """Stop the server (fast shutdown: clients are disconnected), keeping its data."""
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def _run(self, cmd: list[str]) -> None:
        r = subprocess.run(self.as_user + cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stdout}\n{r.stderr}")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def create_db(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(self.as_user + [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    """A redis-server in a temp dir. With `aof=True` every write is fsynced to the append-only
    file before the reply, so `kill()` + `start()` must not lose an acknowledged write."""

    def __init__(self, aof: bool = False) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server not installed")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tw-redis-"))
        self.aof = aof
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--save", "", "--protected-mode", "no", "--daemonize", "no", "--logfile", str(self.dir / "log")]
        if self.aof:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        import redis

        deadline = time.monotonic() + 30
        r = redis.Redis.from_url(self.url)
        while True:  # answers PING only once the AOF is loaded
            try:
                if r.ping():
                    break
            except (redis.BusyLoadingError, redis.ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        r.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown save, no goodbye — a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    srv = PostgresServer()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """URL of a fresh, empty PostgreSQL database for one test."""
    return pg_server.create_db()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    srv = RedisServer()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def redis_aof_server() -> Iterator[RedisServer]:
    srv = RedisServer(aof=True)
    try:
        yield srv
    finally:
        srv.stop()


# -- a deterministic input corpus -----------------------------------------------------------------
_TEXTS = [
    "I will kill the ICE agents at the office tomorrow",  # threat
    "ICE agents raided the store today, terrible",
    "Vamos a quemar Lincoln High mañana, todos van a morir",  # threat
    "Lincoln High won the game, great job",
    "ICE train delayed again",  # off-target
    "I'm going to shoot up Lincoln High on friday",  # threat
    "Voy a matar a la alcaldesa Ferrer",  # threat
    "la alcaldesa Ferrer inauguró el parque, qué bien",
    "nothing about any target here",
    "ICE agents were seen downtown, stay safe everyone",
]


def make_corpus(path: Path, n: int, *, bad_every: int = 97, repeat_every: int = 50) -> Path:
    """JSONL of `n` posts over three days: target mentions, threats, re-posts of the same text
    (alert de-duplication), the same post id twice (idempotency) and malformed lines (rejects)."""
    import json

    lines = []
    for i in range(n):
        text = _TEXTS[i % len(_TEXTS)]
        if i % 7:  # most texts unique; every 7th is a verbatim re-post of a shared text
            text = f"{text} #{i}"
        rec = {"id": f"p{i}", "text": text, "created_at": f"2026-11-{16 + i % 3:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
               "author": f"@walker{i % 13}.example", "lang": "es" if "Ferrer" in text or "quemar" in text else "en"}
        lines.append(json.dumps(rec, ensure_ascii=False))
        if repeat_every and i % repeat_every == repeat_every - 1:
            lines.append(json.dumps(rec, ensure_ascii=False))  # the same post again
        if bad_every and i % bad_every == bad_every - 1:
            lines.append('{"id": "broken", "text": ')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


WATCHLIST = Path(__file__).parent / "fixtures" / "core" / "watchlist.toml"


def snapshot(store: object) -> dict[str, object]:
    """What must be identical whatever the deployment: aggregates, alerts, rejects."""
    agg = sorted(tuple(r) for r in store.query(  # type: ignore[attr-defined]
        "SELECT target, hour, sentiment, lang, platform, n FROM agg"))
    alerts = sorted(
        (r[0], r[1], r[2], round(float(r[3]), 6), r[4], r[5]) for r in store.query(  # type: ignore[attr-defined]
            "SELECT post_id, target, threat, threat_score, sentiment, text_hash FROM alerts"))
    # re-posts of one text: exactly one 'first' alert per (target, text), the rest duplicates of it
    groups = sorted(tuple(r) for r in store.query(  # type: ignore[attr-defined]
        "SELECT target, text_hash, COUNT(*), SUM(CASE WHEN dup_of IS NULL THEN 1 ELSE 0 END) "
        "FROM alerts GROUP BY target, text_hash"))
    rejects = sorted((r[0], r[1]) for r in store.query("SELECT line, reason FROM rejects"))  # type: ignore[attr-defined]
    return {"agg": agg, "alerts": alerts, "groups": groups, "rejects": rejects}

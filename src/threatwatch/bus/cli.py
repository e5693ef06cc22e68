"""Commands of the scale-out deployment: publish, worker, migrate, bus-status, dead-letters."""

from __future__ import annotations

import json
import logging
import signal
import sys
from typing import Annotated, Any

import typer

BusOpt = Annotated[str, typer.Option("--bus", help="Redis URL, e.g. redis://host:6379/0.")]
StreamOpt = Annotated[str, typer.Option(help="Stream key (one per deployment).")]
MetricsOpt = Annotated[int | None, typer.Option(help="Serve Prometheus /metrics on this port.")]


def _err(msg: str) -> typer.Exit:
    from ..cli import _fail

    return _fail(msg)


def _open_store(db: str) -> Any:
    from ..store import open_store

    try:
        return open_store(db)
    except ConnectionError as e:
        raise _err(str(e)) from None


def _redis_check(url: str) -> None:
    import redis

    from .redis_streams import connect

    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise _err(f"--bus: expected a redis:// URL, got {url!r}")
    try:
        connect(url).ping()
    except redis.RedisError as e:
        raise _err(f"--bus {url}: cannot reach Redis: {e}") from None


def register(app: typer.Typer) -> None:
    """Add the bus and migration commands to the CLI."""

    @app.command()
    def migrate(db: Annotated[str, typer.Option("--db", help="SQLite file path, or postgresql://... URL.")]) -> None:
        """Bring the store's schema up to date (safe to run from many machines at once)."""
        from ..store.schema import MIGRATIONS

        if db.startswith(("postgresql://", "postgres://")):
            from ..store.postgres import PostgresStore

            try:
                store: Any = PostgresStore(db, migrate=False)
            except ConnectionError as e:
                raise _err(str(e)) from None
            after = store.migrate()
            before = store.migrated_from
        else:
            import sqlite3
            from pathlib import Path

            path = db.removeprefix("sqlite:///").removeprefix("sqlite://")
            before = 0
            if Path(path).exists():
                try:
                    with sqlite3.connect(path) as c:
                        row = c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                        before = int(row[0]) if row else 0
                except sqlite3.DatabaseError:
                    before = 0
            store = _open_store(db)
            after = store.schema_version()
        store.close()
        verb = "already at" if before == after else f"migrated from {before} to"
        typer.echo(f"schema version: {verb} {after} (latest {len(MIGRATIONS)})")

    @app.command()
    def publish(
        inputs: Annotated[list[str], typer.Argument(help="Input files or folders ('-' for stdin).")],
        bus: BusOpt,
        fmt: Annotated[str | None, typer.Option("--format", "-f", help="Force the input format (default: detect).")] = None,
        stream: StreamOpt = "threatwatch:posts",
        maxlen: Annotated[int, typer.Option(help="Keep about this many entries in the stream (MAXLEN ~).")] = 1_000_000,
        batch_size: Annotated[int, typer.Option(help="Entries per MULTI/EXEC.")] = 500,
        restart: Annotated[bool, typer.Option(help="Ignore the stored positions and publish everything again.")] = False,
        text_col: Annotated[str | None, typer.Option(help="CSV/JSONL: column holding the text.")] = None,
        id_col: Annotated[str | None, typer.Option(help="CSV/JSONL: column holding the post id.")] = None,
        time_col: Annotated[str | None, typer.Option(help="CSV/JSONL: column holding the creation time.")] = None,
        platform: Annotated[str | None, typer.Option(help="CSV/JSONL: platform name for these posts.")] = None,
        watchlist: Annotated[str | None, typer.Option(
            "--watchlist", "-w", help="Publish only posts naming one of its targets (same result, far less "
                                      "traffic and retention; use the workers' watchlist).")] = None,
        metrics_port: MetricsOpt = None,
    ) -> None:
        """Read files and publish their posts (and rejects) to the bus for workers to judge.
        Resumes per file after a crash: positions are kept in Redis with the entries."""
        from ..cli import _watchlist
        from ..sources import FORMATS, ColumnMapping, read_inputs
        from . import metrics
        from .redis_streams import RedisPublisher, publish_inputs

        if fmt is not None and fmt not in FORMATS:
            raise _err(f"--format: unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        if maxlen < 1:
            raise _err("--maxlen must be at least 1")
        _redis_check(bus)
        metrics.serve(metrics_port)
        cols = {k: v for k, v in (("text", text_col), ("id", id_col), ("created_at", time_col),
                                  ("platform", platform)) if v}
        mapping = ColumnMapping(**cols) if cols else None
        wl = _watchlist(watchlist) if watchlist else None  # type: ignore[arg-type]
        pub = RedisPublisher(bus, stream=stream, maxlen=maxlen, watchlist=wl)
        done = publish_inputs(pub, read_inputs(inputs, fmt, mapping=mapping), batch_size=batch_size,
                              resume=not restart)
        pub.close()
        for src, n in done.items():
            typer.echo(f"{src}: {n:,} records")
        extra = f"; {pub.filtered:,} posts left out (they name no target)" if wl is not None else ""
        typer.echo(f"total: {sum(done.values()):,} records read, {pub.published:,} published to {stream}{extra}")

    @app.command()
    def worker(
        bus: BusOpt,
        db: Annotated[str, typer.Option("--db", help="Shared store: postgresql://... (or a SQLite file for one worker).")],
        watchlist: Annotated[str, typer.Option("--watchlist", "-w", help="Watchlist TOML file.")],
        judge: Annotated[str, typer.Option(help="Judge model: default | lexicon.")] = "default",
        stream: StreamOpt = "threatwatch:posts",
        group: Annotated[str, typer.Option(help="Consumer group: all workers of one deployment share it.")] = "workers",
        name: Annotated[str | None, typer.Option(help="Consumer name, unique per worker (default host-pid).")] = None,
        batch_size: Annotated[int, typer.Option(help="Entries per batch (one store transaction).")] = 500,
        claim_idle: Annotated[float, typer.Option(help="Seconds an entry may stay pending before another worker claims it.")] = 60.0,
        max_deliveries: Annotated[int, typer.Option(help="Deliveries before an entry goes to the dead-letter stream.")] = 5,
        block: Annotated[float, typer.Option(help="Seconds to wait for new entries per read.")] = 1.0,
        exit_when_idle: Annotated[float | None, typer.Option(help="Exit after this many idle seconds once nothing is pending (batch jobs).")] = None,
        notify: Annotated[list[str] | None, typer.Option("--notify", help="As for `watch`: webhook:URL | smtp://... (repeatable).")] = None,
        notify_sender: Annotated[bool, typer.Option(
            help="Also deliver queued notifications. With N workers, keep it on ONE of them "
                 "(--no-notify-sender on the rest): all workers queue alerts in the outbox.")] = True,
        metrics_port: MetricsOpt = None,
        fault: Annotated[str | None, typer.Option(hidden=True, help="Crash tests only.")] = None,
    ) -> None:
        """Judge posts from the bus in a consumer group and store them (run N of these)."""
        from ..cli import _watchlist
        from ..judge import load_judge
        from ..pipeline import Pipeline
        from . import metrics
        from .redis_streams import Worker

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                            stream=sys.stderr)
        wl = _watchlist(watchlist)  # type: ignore[arg-type]
        _redis_check(bus)
        try:
            jd = load_judge(judge)
        except ValueError as e:
            raise _err(f"--judge: {e}") from None
        store = _open_store(db)
        notifiers: list[Any] = []
        if notify:
            try:
                from ..notify import NotifyConfigError, build_notifiers
            except ImportError:
                raise _err("--notify is not available in this install") from None
            try:
                notifiers = build_notifiers(notify, store, start=notify_sender)
            except NotifyConfigError as e:
                raise _err(str(e)) from None
        metrics.serve(metrics_port)
        pipe = Pipeline(wl, store, jd, batch_size=batch_size, notifiers=notifiers)
        w = Worker(bus, pipe, stream=stream, group=group, consumer=name, batch_size=batch_size,
                   block_ms=int(block * 1000), claim_idle=claim_idle, max_deliveries=max_deliveries, fault=fault)
        signal.signal(signal.SIGTERM, lambda *_: w.stop_event.set())
        typer.echo(f"worker {w.consumer} reading {stream} as group {group}", err=True)
        try:
            st = w.run(exit_when_idle=exit_when_idle)
        except KeyboardInterrupt:
            st = w.stats
        w.close()
        for n in notifiers:
            close = getattr(n, "close", None)
            if close is not None:
                close()
        store.close()
        typer.echo(f"worker {w.consumer}: {st.messages:,} entries in {st.batches:,} batches, {st.posts:,} posts, "
                   f"{st.counted:,} newly counted, {st.already_counted:,} already counted, {st.alerts:,} alerts, "
                   f"{st.claimed:,} claimed, {st.dead_lettered:,} dead-lettered; busy {st.seconds:.2f}s "
                   f"(store {st.store_seconds:.2f}s, wait for input {st.idle_seconds:.2f}s)", err=True)

    @app.command("bus-status")
    def bus_status_cmd(bus: BusOpt, stream: StreamOpt = "threatwatch:posts") -> None:
        """Stream length, dead letters, and per group: pending, lag, consumers (JSON)."""
        from .redis_streams import bus_status

        _redis_check(bus)
        typer.echo(json.dumps(bus_status(bus, stream), indent=2))

    @app.command("dead-letters")
    def dead_letters_cmd(bus: BusOpt, stream: StreamOpt = "threatwatch:posts",
                         limit: Annotated[int, typer.Option(help="Show (or replay) at most this many.")] = 100,
                         replay: Annotated[bool, typer.Option(help="Put them back on the stream (after fixing the cause).")] = False,
                         ) -> None:
        """Entries moved to the dead-letter stream, with the reason (JSON lines); --replay
        moves them back to the stream for the workers."""
        from .redis_streams import dead_letters, replay_dead_letters

        _redis_check(bus)
        if replay:
            typer.echo(f"replayed {replay_dead_letters(bus, stream, count=limit):,} entries onto {stream}")
            return
        for d in dead_letters(bus, stream, limit):
            typer.echo(json.dumps(d))

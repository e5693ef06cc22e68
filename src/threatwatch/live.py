"""Live monitoring: several streaming sources read concurrently, judged in small batches.

The reader side and the processing side are split on purpose. Each source (Jetstream,
firehose, Mastodon, RSS) is an async generator of `(record, position)` pairs; a `LiveRunner`
reads all of them into ONE bounded queue and hands batches to a `Sink`. The default sink is
the local pipeline (judge + store, the batch and its checkpoint in one transaction); the
scale-out bus can be another sink that publishes the same batches instead.

Guarantees, and why they hold:
- resume: a source's checkpoint is written in the same transaction as the batch it ends, so
  after any crash (even `kill -9`) the stored checkpoint never runs ahead of stored posts;
  sources re-read from it (Jetstream rewinds a few seconds) and the store drops posts it
  already counted (idempotent per post id and target);
- bounded memory: the queue has a fixed size (plus one batch being judged and one being
  collected); when judging falls behind, readers block on it, which stops reading the socket (TCP backpressure). Every live source can be re-read
  from its checkpoint, so a server that drops a slow reader costs a reconnect, not data;
- low latency: a batch is flushed when it is full or `max_delay` (200 ms) after its first
  post arrived, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

import typer

from .post import Post, Reject

Record = Post | Reject
Position = str | None
# What a source yields: a record (or None for "nothing to judge, but the position moved")
# and the checkpoint position reached once this record is stored (None = unchanged).
Item = tuple[Record | None, Position]
_STOP = "\0stop"


class LiveSource(Protocol):
    """A resumable stream. `name` is its checkpoint key (e.g. "jetstream:wss://host")."""

    name: str
    reconnects: int

    def stream(self, start: Position) -> AsyncIterator[Item]:
        """Yield items from `start` (the stored checkpoint, None on first run), forever."""
        ...


class Sink(Protocol):
    """Where batches go: the local pipeline, or a bus publisher (scale-out)."""

    def checkpoint(self, source: str) -> Position:
        """The stored position of `source`, to resume from."""
        ...

    def handle(self, source: str, items: list[Record], position: Position) -> Any:
        """Process or publish one batch of `source`, durably with its checkpoint.
        Returns the pipeline's RunStats when it judged the batch, else None."""
        ...

    def close(self) -> None: ...


class PipelineSink:
    """The embedded default: judge and store locally, one transaction per batch."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store

    def checkpoint(self, source: str) -> Position:
        return self.store.get_checkpoint(source) if self.store is not None else None

    def handle(self, source: str, items: list[Record], position: Position) -> Any:
        if position is None:
            # no checkpoint movement in this batch: keep the stored one (records carry
            # their own ids, so storing them twice after a restart is harmless)
            return self.pipeline.process_batch(items, checkpoint=None)
        return self.pipeline.process_batch(items, checkpoint=(source, position))

    def close(self) -> None:
        for n in getattr(self.pipeline, "notifiers", ()):
            close = getattr(n, "close", None)
            if close is not None:
                close()


class CallbackSink:
    """Hands each batch to `publish(source, items, position)` — e.g. a Redis Streams producer.
    `checkpoint(source)` comes from `get_checkpoint` (the bus keeps its own positions)."""

    def __init__(self, publish: Callable[[str, list[Record], Position], Any],
                 get_checkpoint: Callable[[str], Position] = lambda _s: None,
                 close: Callable[[], None] = lambda: None) -> None:
        self._publish, self._get, self._close = publish, get_checkpoint, close

    def checkpoint(self, source: str) -> Position:
        return self._get(source)

    def handle(self, source: str, items: list[Record], position: Position) -> Any:
        return self._publish(source, items, position)

    def close(self) -> None:
        self._close()


@dataclass
class SourceStats:
    """Live numbers per source, for the status line."""

    posts: int = 0
    rejects: int = 0
    newest: float = 0.0  # created_at (unix) of the newest post read
    last_rate: float = 0.0
    _window: list[tuple[float, int]] = field(default_factory=list)


@dataclass
class LiveStats:
    """Numbers the status line shows and tests read."""

    sources: dict[str, SourceStats] = field(default_factory=dict)
    batches: int = 0
    stored: int = 0
    alerts: int = 0
    queued: int = 0
    max_queued: int = 0
    errors: int = 0
    last_error: str = ""


class LiveRunner:
    """Runs sources concurrently into one bounded queue; batches go to `sink` in a worker thread."""

    def __init__(self, sources: Sequence[LiveSource], sink: Sink, *, batch_size: int = 500,
                 max_delay: float = 0.2, queue_size: int = 5000, checkpoint_every: float = 2.0,
                 log: Callable[[str], None] | None = None) -> None:
        names = [s.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError(f"two sources share a checkpoint name: {names}")
        self.sources = list(sources)
        self.sink = sink
        self.batch_size = max(1, batch_size)
        self.max_delay = max_delay
        self.queue_size = max(1, queue_size)
        self.checkpoint_every = checkpoint_every
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.stats = LiveStats(sources={s.name: SourceStats() for s in sources})
        self._queue: asyncio.Queue[tuple[str, Record | None, Position, float]] | None = None
        self._stop: asyncio.Event | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="threatwatch-sink")

    # -- reading ------------------------------------------------------------------------------
    async def _read(self, src: LiveSource) -> None:
        assert self._queue is not None
        q = self._queue
        loop = asyncio.get_running_loop()
        start = await loop.run_in_executor(self._pool, self.sink.checkpoint, src.name)
        st = self.stats.sources[src.name]
        if start:
            self.log(f"{src.name}: resuming from checkpoint {start[:80]}")
        async for rec, pos in src.stream(start):
            now = time.time()
            if isinstance(rec, Post):
                if rec.received_at is None:
                    rec.received_at = now
                st.posts += 1
                st.newest = max(st.newest, rec.created_at.timestamp())
            elif isinstance(rec, Reject):
                st.rejects += 1
                self.log(f"{src.name}: rejected ({rec.reason}) {rec.detail}")
            await q.put((src.name, rec, pos, now))  # blocks when the queue is full: backpressure

    # -- processing ---------------------------------------------------------------------------
    async def _process(self) -> None:
        """Collect per-source batches; flush on size, on age, on idle checkpoints and on stop.

        One flushed group is judged in the worker thread while the next one is collected, so
        reading and judging overlap; a second flush waits for the first (order and memory kept).
        """
        assert self._queue is not None
        q = self._queue
        pending: dict[str, list[Record]] = {}
        pos: dict[str, Position] = {}
        moved: dict[str, float] = {}  # source -> when its position first moved unsaved
        first_at: float | None = None
        n_pending = 0
        inflight: asyncio.Task[None] | None = None

        async def submit(names: Sequence[str]) -> None:
            nonlocal n_pending, first_at, inflight
            group: list[tuple[str, list[Record], Position]] = []
            for name in names:
                items = pending.pop(name, [])
                p = pos.pop(name, None)
                moved.pop(name, None)
                if items or p is not None:
                    n_pending -= len(items)
                    group.append((name, items, p))
            first_at = None if n_pending == 0 else first_at
            if not group:
                return
            if inflight is not None:
                await inflight
            inflight = asyncio.ensure_future(self._handle_group(group))

        def everything() -> list[str]:
            return list(pending) + [n for n in pos if n not in pending]

        while True:
            try:
                name, rec, p, _t = q.get_nowait()
            except asyncio.QueueEmpty:
                now = time.monotonic()
                timeout = None
                if first_at is not None:
                    timeout = max(0.0, first_at + self.max_delay - now)
                elif moved:
                    timeout = max(0.0, min(moved.values()) + self.checkpoint_every - now)
                try:
                    if timeout is None:
                        name, rec, p, _t = await q.get()
                    else:
                        name, rec, p, _t = await asyncio.wait_for(q.get(), timeout)
                except TimeoutError:
                    now = time.monotonic()
                    if first_at is not None and now >= first_at + self.max_delay:
                        await submit(everything())
                    else:
                        await submit([n for n, t in moved.items() if now >= t + self.checkpoint_every])
                    continue
            if name == _STOP:  # readers are gone: store what was read, with its checkpoint
                await submit(everything())
                if inflight is not None:
                    await inflight
                return
            if rec is not None:
                pending.setdefault(name, []).append(rec)
                n_pending += 1
                if first_at is None:
                    first_at = time.monotonic()
            if p is not None:
                pos[name] = p
                moved.setdefault(name, time.monotonic())
            if n_pending >= self.batch_size or (first_at is not None
                                                and time.monotonic() >= first_at + self.max_delay):
                await submit(everything())

    async def _handle_group(self, group: list[tuple[str, list[Record], Position]]) -> None:
        for name, items, p in group:
            await self._handle(name, items, p)

    async def _handle(self, name: str, items: list[Record], position: Position) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                res = await loop.run_in_executor(self._pool, self.sink.handle, name, items, position)
                break
            except Exception as e:  # a store hiccup (locked, connection lost): retry, never drop
                self.stats.errors += 1
                self.stats.last_error = f"{type(e).__name__}: {e}"
                self.log(f"{name}: storing a batch failed ({self.stats.last_error}); retrying in 1s")
                await asyncio.sleep(1.0)
        self.stats.batches += 1
        self.stats.stored += sum(1 for it in items if isinstance(it, Post))
        if res is not None:
            self.stats.alerts += int(getattr(res, "alerts", 0) or 0)

    # -- running ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None,
                  on_status: Callable[[LiveRunner], None] | None = None, status_every: float = 1.0) -> LiveStats:
        """Run until `stop` is set (or every source ends); the last batch is stored on the way out."""
        self._stop = stop or asyncio.Event()
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        readers = [asyncio.create_task(self._read_guarded(s), name=f"read:{s.name}") for s in self.sources]
        processor = asyncio.create_task(self._process(), name="process")
        status = asyncio.create_task(self._status(on_status, status_every)) if on_status else None

        async def all_done() -> None:
            await asyncio.gather(*readers, return_exceptions=True)
            self._stop.set()  # type: ignore[union-attr]

        done_watch = asyncio.create_task(all_done())
        await self._stop.wait()
        for t in readers:
            t.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        done_watch.cancel()
        await self._queue.put((_STOP, None, None, 0.0))
        await processor  # drains what was read and stores it with its checkpoint
        if status is not None:
            status.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await status
            self._sample(getattr(self, "_span", 10.0))
            on_status(self)  # type: ignore[misc]
        await asyncio.get_running_loop().run_in_executor(self._pool, self.sink.close)
        self._pool.shutdown(wait=True)
        return self.stats

    async def _read_guarded(self, src: LiveSource) -> None:
        """Run a source; an unexpected error restarts it from its stored checkpoint (after a
        growing pause) instead of ending it, since a watcher is meant to run for weeks."""
        pause = 1.0
        while True:
            try:
                await self._read(src)
                return  # the source ended by itself (finite sources, tests)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug in one source must not stop the others
                self.stats.errors += 1
                self.stats.last_error = f"{src.name}: {type(e).__name__}: {e}"
                self.log(f"{src.name}: unexpected error {type(e).__name__}: {e}; restarting it in {pause:.0f}s")
                await asyncio.sleep(pause)
                pause = min(pause * 2, 300.0)

    def _sample(self, span: float) -> None:
        """Update per-source rates (posts/s over the last `span` seconds) and the queue gauge."""
        now = time.monotonic()
        for st in self.stats.sources.values():
            st._window.append((now, st.posts))
            st._window = [w for w in st._window if now - w[0] <= span + 1e-6] or st._window[-1:]
            t0, n0 = st._window[0]
            st.last_rate = (st.posts - n0) / (now - t0) if now > t0 else 0.0
        if self._queue is not None:
            self.stats.queued = self._queue.qsize()
            self.stats.max_queued = max(self.stats.max_queued, self.stats.queued)

    async def _status(self, on_status: Callable[[LiveRunner], None], every: float) -> None:
        self._span = max(10.0, 2 * every)  # rate over the last 10 s (at least two samples)
        t_start = time.monotonic()
        for st in self.stats.sources.values():
            st._window = [(t_start, st.posts)]
        while True:
            await asyncio.sleep(every)
            self._sample(self._span)
            on_status(self)


def _human(seconds: float) -> str:
    s = max(0.0, seconds)
    if s < 120:
        return f"{s:.1f}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    if s < 172800:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.0f}d"


def status_line(r: LiveRunner) -> str:
    """One line: per-source rate and lag (now - newest post time), queue, stored, alerts."""
    now = time.time()
    parts = []
    for name, st in r.stats.sources.items():
        src = next((s for s in r.sources if s.name == name), None)
        lag = _human(now - st.newest) if st.newest else "-"
        rc = getattr(src, "reconnects", 0)
        parts.append(f"{name[:40]} {st.last_rate:,.1f}/s lag {lag}" + (f" reconnects {rc}" if rc else ""))
    s = r.stats
    return (" | ".join(parts) + f" | queue {s.queued}/{r.queue_size} | stored {s.stored:,} | "
            f"alerts {s.alerts}" + (f" | errors {s.errors}" if s.errors else ""))


# -- source specs -----------------------------------------------------------------------------
def parse_source(spec: str, *, token: str | None = None, zstd_dict: bytes | None = None,
                 rewind_s: float = 5.0, rss_interval: float = 300.0) -> LiveSource:
    """`--source` value → a source. Raises ValueError naming the bad spec."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "jetstream":
        from .sources.jetstream import DEFAULT_URL, JetstreamSource

        urls = [u.strip() for u in arg.split(",") if u.strip()] or [DEFAULT_URL]
        return JetstreamSource(urls, zstd_dict=zstd_dict, rewind_s=rewind_s)
    if kind == "firehose":
        from .sources.firehose import FirehoseSource

        return FirehoseSource.from_spec(arg)  # URL[,URL...][?verify=0][&plc=https://...]
    if kind == "mastodon":
        from .sources.mastodon import MastodonSource

        if not arg:
            raise ValueError(f"--source {spec!r}: mastodon needs an instance, e.g. mastodon:mastodon.social#tag")
        return MastodonSource.from_spec(arg, token=token)
    if kind in ("rss", "atom", "feed"):
        from .sources.rss import FeedSource

        if not arg.startswith(("http://", "https://")):
            raise ValueError(f"--source {spec!r}: rss needs a feed URL, e.g. rss:https://example.org/feed.xml")
        return FeedSource(arg, interval=rss_interval)
    raise ValueError(f"--source {spec!r}: unknown kind {kind!r}; known: jetstream, firehose, mastodon, rss")


def _install_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """First SIGINT/SIGTERM: stop cleanly (store the batch in hand). A second one exits at
    once — safe too, since every batch is committed with its checkpoint or not at all."""
    def handler(sig: int) -> None:
        if stop.is_set():
            print(f"\n{signal.Signals(sig).name} again: exiting now (checkpoints are consistent)",
                  file=sys.stderr, flush=True)
            os._exit(130)
        print(f"\n{signal.Signals(sig).name}: stopping after the batch in hand ...", file=sys.stderr, flush=True)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler, sig)


def register(app: Any) -> None:
    """Add `threatwatch watch` to the CLI."""
    from .cli import _fail, _watchlist

    @app.command()
    def watch(
        source: Annotated[list[str], typer.Option(
            "--source", "-s",
            help="jetstream[:URL[,URL...]] | firehose[:URL][?verify=0][&plc=URL] | mastodon:INSTANCE[#hashtag|/local] | rss:URL "
                 "(repeatable)")],
        watchlist: Annotated[str | None, typer.Option("--watchlist", "-w", help="Watchlist TOML file.")] = None,
        db: Annotated[str, typer.Option("--db", help="SQLite file path, or postgresql://... URL.")] = "threatwatch.sqlite",
        bus: Annotated[str | None, typer.Option(
            "--bus", help="redis://... : publish posts to the bus for `threatwatch worker`s instead of judging here.")] = None,
        judge: Annotated[str, typer.Option(help="Judge model: default | lexicon.")] = "default",
        notify: Annotated[list[str] | None, typer.Option(
            "--notify", help="webhook:URL | smtp://[user@]host[:port]?to=ADDR[&from=ADDR][&starttls=1] (repeatable)")] = None,
        token_env: Annotated[str | None, typer.Option(help="Env var holding the Mastodon access token.")] = None,
        webhook_secret_env: Annotated[str, typer.Option(help="Env var holding the webhook HMAC secret.")] = "THREATWATCH_WEBHOOK_SECRET",
        smtp_password_env: Annotated[str, typer.Option(help="Env var holding the SMTP password.")] = "THREATWATCH_SMTP_PASSWORD",
        zstd_dict: Annotated[str | None, typer.Option(help="Jetstream zstd dictionary file: enables compress=true.")] = None,
        rewind: Annotated[float, typer.Option(help="Jetstream: seconds to rewind the cursor on resume.")] = 5.0,
        rss_interval: Annotated[float, typer.Option(help="RSS/Atom: seconds between polls.", min=1.0)] = 300.0,
        batch_size: Annotated[int, typer.Option(help="Posts per batch at most.", min=1)] = 500,
        max_delay: Annotated[float, typer.Option(help="Seconds a post may wait for its batch to fill.", min=0.0)] = 0.2,
        queue_size: Annotated[int, typer.Option(help="Posts held in memory at most (backpressure above).", min=1)] = 5000,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status line.")] = False,
    ) -> None:
        """Watch live sources until stopped (Ctrl-C / SIGTERM stop cleanly, checkpoints saved)."""
        from .judge import load_judge
        from .pipeline import Pipeline
        from .store import open_store

        if bus is None and watchlist is None:
            raise _fail("--watchlist is required (unless --bus hands posts to workers that have it)")
        if bus is not None and notify:
            raise _fail("--notify belongs to the workers when --bus is used (threatwatch worker --notify ...)")
        token = None
        if token_env:
            token = os.environ.get(token_env)
            if not token:
                raise _fail(f"--token-env: environment variable {token_env} is not set or empty")
        zd = None
        if zstd_dict:
            try:
                with open(zstd_dict, "rb") as fh:
                    zd = fh.read()
            except OSError as e:
                raise _fail(f"--zstd-dict: cannot read {zstd_dict}: {e.strerror}") from None
        try:
            sources = [parse_source(s, token=token, zstd_dict=zd, rewind_s=rewind, rss_interval=rss_interval)
                       for s in source]
        except ValueError as e:
            raise _fail(str(e)) from None
        if bus is not None:
            from .bus.redis_streams import RedisPublisherSink

            try:
                sink: Sink = RedisPublisherSink(bus)
            except Exception as e:
                raise _fail(f"--bus {bus}: {e}") from None
            _run_live(LiveRunner(sources, sink, batch_size=batch_size, max_delay=max_delay, queue_size=queue_size),
                      quiet, f"the bus {bus}")
            return
        wl = _watchlist(watchlist)  # type: ignore[arg-type]
        try:
            jd = load_judge(judge)
        except ValueError as e:
            raise _fail(f"--judge: {e}") from None
        store = open_store(db)
        notifiers = []
        if notify:
            from .notify import NotifyConfigError, build_notifiers

            try:
                notifiers = build_notifiers(notify, store, secret_env=webhook_secret_env,
                                            password_env=smtp_password_env)
            except NotifyConfigError as e:
                raise _fail(str(e)) from None
        pipe = Pipeline(wl, store, jd, batch_size=batch_size, notifiers=notifiers)
        runner = LiveRunner(sources, PipelineSink(pipe), batch_size=batch_size, max_delay=max_delay,
                            queue_size=queue_size)
        _run_live(runner, quiet, db)
        store.close()



def _run_live(runner: LiveRunner, quiet: bool, where: str) -> LiveStats:
    """Run until SIGINT/SIGTERM with a status line on stderr (rewritten in place on a terminal)."""
    tty = sys.stderr.isatty()

    def show(r: LiveRunner) -> None:
        if quiet:
            return
        line = f"{datetime.now(UTC):%H:%M:%S} {status_line(r)}"
        sys.stderr.write(("\r\x1b[2K" + line) if tty else line + "\n")
        sys.stderr.flush()

    async def main() -> LiveStats:
        stop = asyncio.Event()
        _install_signals(asyncio.get_running_loop(), stop)
        return await runner.run(stop, on_status=show, status_every=1.0 if tty else 10.0)

    stats = asyncio.run(main())
    if tty and not quiet:
        sys.stderr.write("\n")
    print(f"stopped: {stats.stored:,} posts handled in {stats.batches:,} batches, {stats.alerts} new alerts; "
          f"checkpoints saved in {where}", file=sys.stderr)
    return stats

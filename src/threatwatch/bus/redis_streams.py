"""Redis Streams as the durable queue between readers and N judge workers.

Message: one stream entry per record, fields `k` (b"p" post | b"r" reject) and `v` (the
msgspec-MessagePack-encoded `Post` or `Reject`). Readers publish with `XADD ... MAXLEN ~ N`.

Delivery, and why nothing is lost or counted twice:
- workers read with `XREADGROUP` in one consumer group; an entry stays in the group's pending
  list (PEL) until the worker `XACK`s it, and a worker acks only AFTER the batch (aggregates,
  alerts, rejects, its checkpoint) is committed to the store in one transaction;
- a worker that dies leaves its entries pending; any live worker `XAUTOCLAIM`s entries idle
  longer than `claim_idle` seconds and processes them. A batch committed but not yet acked
  when the worker died is processed again, and the store's idempotency (one `seen` row per
  post id and target; alerts unique on post id and target) makes the second pass count nothing;
- an entry delivered more than `max_deliveries` times, or one that cannot be decoded, is moved
  to the dead-letter stream (`<stream>:dead`, with the reason) and acked in one MULTI, so a
  poison message cannot block the group forever nor vanish silently.

Retention: the stream is trimmed to about `maxlen` entries (approximate trimming, whole
macro-nodes, cheap). Trimming ignores consumer groups: if workers fall more than `maxlen`
entries behind, the oldest unread entries are dropped (counted in the `trimmed` metric when a
worker meets a trimmed pending entry). Size `maxlen` for the longest outage to ride out,
e.g. 6,000 posts/s x 1 h ~ 21.6 M entries ~ 5 GB of Redis memory at ~250 bytes an entry (measured for
short posts by bench/scale_bench.py); a publisher with a watchlist sends only posts naming a
target. Watch the group's `lag`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import redis

from ..post import Post, Reject
from . import metrics as m

log = logging.getLogger(__name__)

STREAM = "threatwatch:posts"
GROUP = "workers"
MAXLEN = 1_000_000
KIND_POST, KIND_REJECT = b"p", b"r"

_enc = msgspec.msgpack.Encoder()
_dec_post = msgspec.msgpack.Decoder(Post)
_dec_reject = msgspec.msgpack.Decoder(Reject)


def dead_stream(stream: str) -> str:
    return f"{stream}:dead"


def checkpoint_key(stream: str) -> str:
    """Redis hash: source -> position published so far (the publisher's resume point)."""
    return f"{stream}:checkpoints"


def encode(item: Post | Reject) -> dict[bytes, bytes]:
    return {b"k": KIND_REJECT if isinstance(item, Reject) else KIND_POST, b"v": _enc.encode(item)}


def decode(fields: dict[bytes, bytes]) -> Post | Reject:
    """Raises ValueError naming what is wrong with the entry."""
    kind, raw = fields.get(b"k"), fields.get(b"v")
    if raw is None:
        raise ValueError("entry has no 'v' field")
    try:
        if kind == KIND_POST:
            return _dec_post.decode(raw)
        if kind == KIND_REJECT:
            return _dec_reject.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        raise ValueError(f"cannot decode {'post' if kind == KIND_POST else 'reject'}: {e}") from None
    raise ValueError(f"unknown entry kind {kind!r}")


def connect(url: str) -> redis.Redis:
    """A client that retries a dropped connection (e.g. Redis restarting) a few times."""
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10, health_check_interval=30,
                                retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), 8),
                                retry_on_error=[redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError])


# -- publishing ----------------------------------------------------------------------------------
class RedisPublisher:
    """Publishes records to the stream, bounded with MAXLEN ~ `maxlen`.

    `publish(items, source, position)` sends the entries and, in the same MULTI/EXEC, the
    source's new position into `<stream>:checkpoints`, so a publisher restarted after a crash
    resumes where its last acknowledged batch ended (never ahead of what is in the stream).
    """

    def __init__(self, url: str, *, stream: str = STREAM, maxlen: int = MAXLEN, watchlist: Any = None) -> None:
        """With a `watchlist`, only posts that name one of its targets (the same matcher the
        workers run first) are published: the rest could never be counted or alerted, so the
        result is the same while the bus carries, and retains, only posts about targets."""
        if maxlen < 1:
            raise ValueError("maxlen must be at least 1")
        self.url, self.stream, self.maxlen = url, stream, maxlen
        self.r = connect(url)
        self.matcher = None
        if watchlist is not None:
            from ..match import Matcher

            self.matcher = Matcher(watchlist)
        self.published = 0
        self.filtered = 0

    def _wanted(self, it: Post | Reject) -> bool:
        if self.matcher is None or isinstance(it, Reject):
            return True
        from ..normalise import fold

        return bool(self.matcher.find(it.text, fold(it.text)))

    def publish(self, items: Sequence[Post | Reject], source: str | None = None, position: str | None = None) -> int:
        """Publish (the wanted part of) one batch with its source position; returns entries added."""
        now = time.time()
        sent = 0
        with m.PUBLISH_SECONDS.labels(self.stream).time():
            p = self.r.pipeline(transaction=True)
            for it in items:
                if not self._wanted(it):
                    continue
                if isinstance(it, Post) and it.received_at is None:
                    it.received_at = now
                p.xadd(self.stream, encode(it), maxlen=self.maxlen, approximate=True)  # type: ignore[arg-type]
                sent += 1
            if source is not None and position is not None:
                p.hset(checkpoint_key(self.stream), source, position)
            p.execute()
        m.PUBLISHED.labels(self.stream).inc(sent)
        self.published += sent
        if len(items) - sent:
            self.filtered += len(items) - sent
            m.FILTERED.labels(self.stream).inc(len(items) - sent)
        return sent

    def checkpoint(self, source: str) -> str | None:
        v = self.r.hget(checkpoint_key(self.stream), source)
        return v.decode() if isinstance(v, bytes) else v  # type: ignore[return-value]

    def reset_checkpoints(self) -> None:
        self.r.delete(checkpoint_key(self.stream))

    def close(self) -> None:
        self.r.close()


class RedisPublisherSink:
    """A `threatwatch.live.Sink` that publishes batches to the bus instead of judging them.

    `watch --bus redis://...` builds `RedisPublisherSink(url)` in place of the local
    `PipelineSink`: each batch and its source checkpoint go to Redis atomically; workers judge.
    `submit(posts)` publishes records without a checkpoint (for other producers).
    """

    def __init__(self, url: str, *, stream: str = STREAM, maxlen: int = MAXLEN, watchlist: Any = None) -> None:
        self.publisher = RedisPublisher(url, stream=stream, maxlen=maxlen, watchlist=watchlist)

    def checkpoint(self, source: str) -> str | None:
        return self.publisher.checkpoint(source)

    def handle(self, source: str, items: list[Post | Reject], position: str | None) -> None:
        self.publisher.publish(items, source, position)
        return None

    def submit(self, posts: Sequence[Post | Reject]) -> int:
        return self.publisher.publish(posts)

    def close(self) -> None:
        self.publisher.close()


def publish_inputs(publisher: RedisPublisher, items: Iterable[Post | Reject], *, batch_size: int = 500,
                   resume: bool = True) -> dict[str, int]:
    """Publish file records in batches; per source the checkpoint is the number of records
    published so far. With `resume`, records up to a file's checkpoint are skipped (files are
    read in the same order again; a file that changed since should be published with
    resume=False). Returns records published per source."""
    done: dict[str, int] = {}
    start: dict[str, int] = {}
    batch: list[Post | Reject] = []
    cur: str | None = None

    def flush() -> None:
        if batch and cur is not None:
            publisher.publish(batch, cur, str(done[cur]))
            batch.clear()

    for it in items:
        src = it.source
        if src != cur:
            flush()
            cur = src
            if src not in start:
                # only files can be read again in the same order; stdin never resumes
                cp = publisher.checkpoint(src) if resume and os.path.isfile(src) else None
                start[src] = int(cp) if cp and cp.isdigit() else 0
                done[src] = 0
        done[src] += 1
        if done[src] <= start[src]:
            continue
        batch.append(it)
        if len(batch) >= batch_size:
            flush()
    flush()
    return {s: n - min(n, start.get(s, 0)) for s, n in done.items()}


# -- consuming -----------------------------------------------------------------------------------
class Fault(Exception):
    """Raised by fault injection in tests (never in normal runs)."""


@dataclass
class WorkerStats:
    batches: int = 0
    messages: int = 0
    posts: int = 0
    rejects: int = 0
    counted: int = 0
    already_counted: int = 0
    alerts: int = 0
    claimed: int = 0
    dead_lettered: int = 0
    trimmed: int = 0
    failures: int = 0
    seconds: float = 0.0
    store_seconds: float = 0.0  # inside the store's batch transaction
    idle_seconds: float = 0.0  # blocked on the bus waiting for entries


class _TimedStore:
    """Wraps the store so the worker can split batch time into judge vs store."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.seconds = 0.0

    def commit_batch(self, *a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._store.commit_batch(*a, **kw)
        finally:
            self.seconds += time.perf_counter() - t0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _transient(e: BaseException) -> bool:
    """Errors that say 'the store or bus is unreachable', not 'this message is bad'."""
    import sqlite3

    if isinstance(e, ConnectionError | TimeoutError | redis.ConnectionError | redis.TimeoutError | sqlite3.OperationalError):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(e, psycopg.OperationalError | psycopg.InterfaceError)


class Worker:
    """Consumes the stream in a consumer group and runs each batch through a `Pipeline`.

    `fault` is for crash tests only: "before-commit:N" hangs after reading batch N (so a
    `kill -9` lands mid-batch); "before-ack:N" hangs after committing batch N but before XACK.
    """

    def __init__(self, url: str, pipeline: Any, *, stream: str = STREAM, group: str = GROUP,
                 consumer: str | None = None, batch_size: int = 500, block_ms: int = 1000,
                 claim_idle: float = 60.0, max_deliveries: int = 5, fault: str | None = None) -> None:
        self.url, self.stream, self.group = url, stream, group
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.batch_size, self.block_ms = batch_size, block_ms
        self.claim_idle_ms = max(1, int(claim_idle * 1000))
        self.max_deliveries = max_deliveries
        self.r = connect(url)
        self.pipeline = pipeline
        self.timed = _TimedStore(pipeline.store)
        pipeline.store = self.timed
        self.stats = WorkerStats()
        self.fault = fault
        self._claim_cursor = "0-0"
        self._last_claim = 0.0
        self._last_gauges = 0.0
        self._recover = True  # first re-read our own pending entries (a restart under the same name)
        self._healthy = True  # False after a store/bus outage, until a probe succeeds
        self.stop_event = threading.Event()
        self.checkpoint_source = f"redis:{stream}/{group}/{self.consumer}"
        self.ensure_group()

    def ensure_group(self) -> None:
        """Create the group at the stream's start (id 0) if missing; safe from many workers."""
        try:
            self.r.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    # -- reading --------------------------------------------------------------------------------
    def _claim(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Take over entries other (dead or stuck) consumers left pending too long."""
        now = time.monotonic()
        if now - self._last_claim < min(self.claim_idle_ms / 2000, 5.0):
            return []
        self._last_claim = now
        res = self.r.xautoclaim(self.stream, self.group, self.consumer, self.claim_idle_ms,
                                start_id=self._claim_cursor, count=self.batch_size)
        cursor, msgs = res[0], res[1]
        deleted = res[2] if len(res) > 2 else []
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        if deleted:  # pending but trimmed away by MAXLEN before anyone processed them
            self.r.xack(self.stream, self.group, *deleted)
            self.stats.trimmed += len(deleted)
            m.MESSAGES.labels(self.stream, self.group, "trimmed").inc(len(deleted))
            log.warning("%d pending entries were trimmed from %s before processing", len(deleted), self.stream)
        msgs = [(i, f) for i, f in msgs if f is not None]
        if msgs:
            self.stats.claimed += len(msgs)
            m.MESSAGES.labels(self.stream, self.group, "claimed").inc(len(msgs))
            log.info("%s claimed %d idle pending entries", self.consumer, len(msgs))
        return msgs

    def _deliveries(self, ids: Sequence[bytes]) -> dict[bytes, int]:
        if not ids:
            return {}
        lo, hi = min(ids, key=_id_key), max(ids, key=_id_key)
        rows = self.r.xpending_range(self.stream, self.group, min=lo, max=hi, count=len(ids) * 4 + 10,
                                     consumername=self.consumer)
        return {r["message_id"]: int(r["times_delivered"]) for r in rows}

    def _read_own(self) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Our own pending entries (id 0 = history): after a restart under the same name or a
        store outage, they are retried at once instead of after `claim_idle`."""
        resp = self.r.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=self.batch_size)
        entries = resp[0][1] if resp else []
        gone = [i for i, f in entries if not f]
        if gone:  # trimmed while pending
            self.r.xack(self.stream, self.group, *gone)
            self.stats.trimmed += len(gone)
            m.MESSAGES.labels(self.stream, self.group, "trimmed").inc(len(gone))
        return [(i, f) for i, f in entries if f]

    def _probe(self) -> None:
        """After an outage: touch the store and Redis before taking entries again, so entries
        are not redelivered (and their delivery counts raised) while nothing can succeed."""
        self.timed.query("SELECT 1")
        self.r.ping()
        self._healthy = True

    def _read(self, block_ms: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        resp = self.r.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=self.batch_size,
                                 block=block_ms or None)
        if not resp:
            return []
        return [(i, f) for i, f in resp[0][1] if f is not None]

    # -- dead letters ----------------------------------------------------------------------------
    def dead_letter(self, msg_id: bytes, fields: dict[bytes, bytes], reason: str, deliveries: int) -> None:
        """Move one entry to the dead-letter stream and ack it, atomically."""
        p = self.r.pipeline(transaction=True)
        p.xadd(dead_stream(self.stream), {**fields, b"id": msg_id, b"reason": reason[:500].encode(),
                                          b"deliveries": str(deliveries).encode(), b"consumer": self.consumer.encode(),
                                          b"at": str(time.time()).encode()})
        p.xack(self.stream, self.group, msg_id)
        p.execute()
        self.stats.dead_lettered += 1
        m.MESSAGES.labels(self.stream, self.group, "dead_lettered").inc()
        log.error("entry %s moved to %s: %s", msg_id, dead_stream(self.stream), reason)

    # -- processing --------------------------------------------------------------------------------
    def _process(self, entries: list[tuple[bytes, dict[bytes, bytes], Post | Reject]]) -> None:
        """Commit entries to the store, then ack them. On a content error, bisect so the good
        entries commit and only the bad one stays pending (its delivery count then grows)."""
        if not entries:
            return
        items = [e[2] for e in entries]
        last = entries[-1][0].decode()
        store_before = self.timed.seconds
        t0 = time.perf_counter()
        try:
            st = self.pipeline.process_batch(items, checkpoint=(self.checkpoint_source, last))
        except Exception as e:
            if _transient(e):
                raise
            if len(entries) == 1:
                self.stats.failures += 1
                m.MESSAGES.labels(self.stream, self.group, "failed").inc()
                log.warning("entry %s failed (%s: %s); left pending for retry", entries[0][0], type(e).__name__, e)
                return
            mid = len(entries) // 2
            self._process(entries[:mid])
            self._process(entries[mid:])
            return
        total = time.perf_counter() - t0
        store_s = self.timed.seconds - store_before
        self._hit_fault("before-ack")
        self.r.xack(self.stream, self.group, *[e[0] for e in entries])
        self.stats.messages += len(entries)
        self.stats.posts += st.read
        self.stats.rejects += st.rejected_total
        self.stats.counted += st.counted
        self.stats.already_counted += st.already_counted
        self.stats.alerts += st.alerts
        self.stats.store_seconds += store_s
        m.MESSAGES.labels(self.stream, self.group, "processed").inc(len(entries))
        m.POSTS.labels(self.stream, self.group).inc(st.read)
        m.COUNTED.labels(self.stream, self.group, "new").inc(st.counted)
        m.COUNTED.labels(self.stream, self.group, "already").inc(st.already_counted)
        m.ALERTS.labels(self.stream, self.group).inc(st.alerts)
        m.BATCH_SECONDS.labels("store").observe(store_s)
        m.BATCH_SECONDS.labels("judge").observe(max(0.0, total - store_s))
        m.BATCH_SECONDS.labels("total").observe(total)
        now = time.time()
        for it in items:
            if isinstance(it, Post) and it.received_at:
                m.LATENCY.observe(max(0.0, now - it.received_at))

    def _hit_fault(self, where: str) -> None:
        if not self.fault:
            return
        kind, _, n = self.fault.partition(":")
        if kind == where and self.stats.batches + 1 == int(n or "1"):
            print(f"FAULT {where} batch {self.stats.batches + 1}", flush=True)
            threading.Event().wait()  # hang here until killed

    def step(self, block_ms: int | None = None) -> int:
        """One batch: claimed stale entries first, else new ones. Returns entries handled."""
        if not self._healthy:
            self._probe()
        msgs: list[tuple[bytes, dict[bytes, bytes]]] = []
        if self._recover:
            msgs = self._read_own()
            self._recover = bool(msgs)
        if not msgs:
            msgs = self._claim()
        deliveries: dict[bytes, int] = {}
        if msgs:
            deliveries = self._deliveries([i for i, _ in msgs])
        else:
            t_read = time.perf_counter()
            msgs = self._read(self.block_ms if block_ms is None else block_ms)
            if not msgs:
                self.stats.idle_seconds += time.perf_counter() - t_read
        if not msgs:
            return 0
        t0 = time.perf_counter()
        good: list[tuple[bytes, dict[bytes, bytes], Post | Reject]] = []
        for msg_id, fields in msgs:
            n = deliveries.get(msg_id, 1)
            if n > self.max_deliveries:
                self.dead_letter(msg_id, fields, f"failed {n - 1} deliveries", n)
                continue
            try:
                good.append((msg_id, fields, decode(fields)))
            except ValueError as e:
                self.dead_letter(msg_id, fields, str(e), n)
        self._hit_fault("before-commit")
        self._process(good)
        self.stats.batches += 1
        self.stats.seconds += time.perf_counter() - t0
        return len(msgs)

    def group_info(self) -> dict[str, int]:
        """pending, lag (entries not yet delivered to the group; Redis >= 7) and lengths."""
        out = {"pending": 0, "lag": 0, "length": int(self.r.xlen(self.stream)),
               "dead": int(self.r.xlen(dead_stream(self.stream)))}
        for g in self.r.xinfo_groups(self.stream):
            name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
            if name == self.group:
                out["pending"] = int(g.get("pending") or 0)
                lag = g.get("lag")
                out["lag"] = int(lag) if lag is not None else -1
        return out

    def _gauges(self, force: bool = False) -> dict[str, int] | None:
        now = time.monotonic()
        if not force and now - self._last_gauges < 2.0:
            return None
        self._last_gauges = now
        info = self.group_info()
        m.PENDING.labels(self.stream, self.group).set(info["pending"])
        m.LAG.labels(self.stream, self.group).set(info["lag"])
        m.LENGTH.labels(self.stream).set(info["length"])
        m.LENGTH.labels(dead_stream(self.stream)).set(info["dead"])
        return info

    def run(self, *, exit_when_idle: float | None = None, max_batches: int | None = None) -> WorkerStats:
        """Loop until stopped. With `exit_when_idle`, return once nothing arrived for that many
        seconds and the group has nothing pending or undelivered (for batch jobs and tests)."""
        idle_since = time.monotonic()
        backoff = 0.5
        while not self.stop_event.is_set():
            if max_batches is not None and self.stats.batches >= max_batches:
                break
            try:
                n = self.step()
                backoff = 0.5
            except Exception as e:
                if not _transient(e):
                    raise
                self._healthy = False
                self._recover = True
                log.warning("store or bus unavailable (%s: %s); retrying in %.1fs", type(e).__name__, e, backoff)
                m.ERRORS.labels(type(e).__name__).inc()
                self.stop_event.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            try:
                self._gauges()
            except redis.RedisError:
                pass
            now = time.monotonic()
            if n:
                idle_since = now
            elif exit_when_idle is not None and now - idle_since >= exit_when_idle:
                info = self.group_info()
                if info["pending"] == 0 and info["lag"] <= 0:
                    break
        return self.stats

    def close(self) -> None:
        self.r.close()


def _id_key(i: bytes) -> tuple[int, int]:
    a, _, b = i.decode().partition("-")
    return int(a), int(b or 0)


def bus_status(url: str, stream: str = STREAM) -> dict[str, Any]:
    """Stream length, dead letters and per-group pending/lag/consumers (for `bus-status`)."""
    r = connect(url)
    try:
        out: dict[str, Any] = {"stream": stream, "length": int(r.xlen(stream)),
                               "dead_letter": {"stream": dead_stream(stream), "length": int(r.xlen(dead_stream(stream)))},
                               "groups": []}
        if not r.exists(stream):
            return out
        for g in r.xinfo_groups(stream):
            name = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
            consumers = r.xinfo_consumers(stream, name)
            out["groups"].append({
                "group": name, "pending": int(g.get("pending") or 0),
                "lag": None if g.get("lag") is None else int(g["lag"]),
                "consumers": [{"name": c["name"].decode() if isinstance(c["name"], bytes) else c["name"],
                               "pending": int(c["pending"]), "idle_ms": int(c["idle"])} for c in consumers],
            })
        return out
    finally:
        r.close()


def replay_dead_letters(url: str, stream: str = STREAM, *, maxlen: int = MAXLEN, count: int = 1000) -> int:
    """Put dead-lettered entries back on the stream (after the cause is fixed) and remove them
    from the dead-letter stream, each in one MULTI. Returns how many were replayed."""
    r = connect(url)
    n = 0
    try:
        for dl_id, f in r.xrange(dead_stream(stream), count=count):
            p = r.pipeline(transaction=True)
            p.xadd(stream, {b"k": f.get(b"k", b""), b"v": f.get(b"v", b"")}, maxlen=maxlen, approximate=True)
            p.xdel(dead_stream(stream), dl_id)
            p.execute()
            n += 1
        return n
    finally:
        r.close()


def dead_letters(url: str, stream: str = STREAM, count: int = 100) -> list[dict[str, Any]]:
    """The dead-letter stream's entries (oldest first), with the reason each was moved."""
    r = connect(url)
    try:
        out = []
        for dl_id, f in r.xrange(dead_stream(stream), count=count):
            out.append({"dead_id": dl_id.decode(), "id": f.get(b"id", b"").decode(),
                        "reason": f.get(b"reason", b"").decode(errors="replace"),
                        "deliveries": int(f.get(b"deliveries", b"0") or 0),
                        "kind": f.get(b"k", b"").decode(errors="replace")})
        return out
    finally:
        r.close()

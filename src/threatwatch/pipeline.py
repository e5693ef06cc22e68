"""Wires the stages: sources -> normalise -> match -> judge -> aggregate/alert -> store.

Posts move in batches (the judge embeds a whole batch at once; the store writes a batch in
one transaction with its checkpoint). Each stage is a plain function or object that can be
used and tested alone; this module only connects them and keeps the run's numbers.
"""

from __future__ import annotations

import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from operator import attrgetter
from typing import NamedTuple

import msgspec

from .alerts import Notifier, should_alert
from .config import Watchlist
from .judge import Judge, JudgeInput, Judgement, load_judge
from .match import Matcher, Mention
from .normalise import detect_lang, fold, fold_many
from .post import Post, Reject
from .store.sql import BatchResult, SQLStore


class RunStats(msgspec.Struct):
    """What a run did, for the closing summary (and tests)."""

    read: int = 0
    rejected: dict[str, int] = {}
    mentions: int = 0  # (post, target) pairs the matcher found
    on_target: int = 0
    off_target: int = 0
    counted: int = 0  # newly counted in aggregates (re-ingested posts are not)
    already_counted: int = 0
    alerts: int = 0  # new alerts stored
    sentiment: dict[str, dict[str, int]] = {}  # target -> sentiment -> on-target count
    seconds: float = 0.0

    def add(self, other: RunStats) -> None:
        for f in ("read", "mentions", "on_target", "off_target", "counted", "already_counted", "alerts"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        for k, v in other.rejected.items():
            self.rejected[k] = self.rejected.get(k, 0) + v
        for t, d in other.sentiment.items():
            mine = self.sentiment.setdefault(t, {})
            for s, n in d.items():
                mine[s] = mine.get(s, 0) + n

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class Pipeline:
    """The whole flow for one watchlist, one judge and one store."""

    def __init__(self, watchlist: Watchlist, store: SQLStore | None, judge: Judge | None = None, *,
                 batch_size: int = 2000, notifiers: Sequence[Notifier] = (), overlap_after: int | None = 5,
                 judge_helpers: int = 0, judge_group: int = 512) -> None:
        self.watchlist = watchlist
        self.matcher = Matcher(watchlist)
        self.store = store
        self.judge = judge or load_judge("default")
        self.batch_size = batch_size
        self.notifiers = list(notifiers)
        # run(): after this many batches, judge in a helper process (None: never; see run)
        self.overlap_after = overlap_after
        # helper processes that judge while this one reads and matches (0: judge in-process);
        # helpers are sent the same groups of batches as below, one group per call.
        # 0 by default here; `threatwatch run` starts `auto_helpers()` of them (2 on 2 cores:
        # 74,904 vs 51,817 posts/s in one process with the trained judge, BENCHMARKS.md)
        self.judge_helpers = judge_helpers
        self.helpers_used = 0  # how many helpers the last run() started (for benchmarks)
        # run(): judge the mentions of consecutive batches together, up to this many pairs (or
        # _MAX_GROUP batches); the judge's per-call cost then falls on many more pairs (trained
        # judge: ~470 pairs/s in calls of 40, ~1,050 in calls of 512). 1: one call per batch
        self.judge_group = judge_group
        self._targets = {t.name: t for t in watchlist.targets}
        self._folded: dict[str, str] = {}  # text -> folded text, for the batch just matched
        if store is not None:
            store.register_targets(self._targets)

    # -- stages -------------------------------------------------------------------------------
    def match(self, posts: Sequence[Post]) -> list[tuple[Post, Mention]]:
        """Normalise and match: (post, mention) for every target a post names. The whole batch
        is folded and prefiltered at once (see `fold_many`, `Matcher.find_many`)."""
        pairs: list[tuple[Post, Mention]] = []
        texts = [p.text for p in posts]
        folded = fold_many(texts)
        self._folded = {}
        for i, mentions in self.matcher.find_sparse(texts, folded).items():  # in post order
            post = posts[i]
            post.lang = detect_lang(post.text, post.lang)
            pairs.extend((post, m) for m in mentions)
            self._folded[post.text] = folded[i]
        return pairs

    def _inputs(self, pairs: Sequence[tuple[Post, Mention]]) -> list[JudgeInput]:
        known = self._folded
        return [
            JudgeInput(text=p.text, folded=known.get(p.text) or fold(p.text), lang=p.lang,
                       target=self._targets[m.target], mention_spans=list(m.spans))
            for p, m in pairs
        ]

    def judge_pairs(self, pairs: Sequence[tuple[Post, Mention]]) -> list[Judgement]:
        inputs = self._inputs(pairs)
        return self.judge.judge_batch(inputs) if inputs else []

    def process_batch(self, items: Sequence[Post | Reject], checkpoint: tuple[str, str] | None = None) -> RunStats:
        """Run one batch through every stage and store it atomically with its checkpoint."""
        prep = self._prepare(items)
        return self._finish(prep, self.judge.judge_batch(prep.inputs) if prep.inputs else [], checkpoint)

    def _prepare(self, items: Sequence[Post | Reject]) -> _Prepared:
        """The stages before the judge: split posts from rejects, normalise, match."""
        stats = RunStats()
        rejects: list[Reject] = [it for it in items if isinstance(it, Reject)]
        posts: list[Post] = [it for it in items if not isinstance(it, Reject)] if rejects else list(items)  # type: ignore[misc]
        for r in rejects:
            stats.rejected[r.reason] = stats.rejected.get(r.reason, 0) + 1
        stats.read = len(posts)
        pairs = self.match(posts)
        return _Prepared(stats, posts, rejects, pairs, self._inputs(pairs))

    def _finish(self, prep: _Prepared, judgements: Sequence[Judgement],
                checkpoint: tuple[str, str] | None) -> RunStats:
        """The stages after the judge: count, alert, store (one transaction), notify."""
        stats, posts, rejects, pairs = prep.stats, prep.posts, prep.rejects, prep.pairs
        counted: list[tuple[Post, Judgement]] = []
        to_alert: list[tuple[Post, Judgement]] = []
        stats.mentions = len(pairs)
        for (post, m), j in zip(pairs, judgements, strict=True):
            if not j.on_target:
                stats.off_target += 1
                continue
            stats.on_target += 1
            counted.append((post, j))
            per = stats.sentiment.setdefault(m.target, {})
            per[j.sentiment] = per.get(j.sentiment, 0) + 1
            if should_alert(j, self._targets.get(m.target)):
                to_alert.append((post, j))
        if self.store is not None:
            cp = (checkpoint[0], checkpoint[1], len(posts), len(rejects)) if checkpoint else None
            res: BatchResult = self.store.commit_batch(counted, to_alert, rejects=rejects, checkpoint=cp,
                                                       judge_name=getattr(self.judge, "name", ""))
            stats.counted, stats.already_counted = res.counted, res.duplicates
            stats.alerts = len(res.new_alert_ids)
            if self.notifiers and res.new_alert_ids:
                for aid in res.new_alert_ids:
                    alert = self.store.get_alert(aid)
                    if alert is not None and alert.status != "duplicate":
                        for n in self.notifiers:
                            n.notify(alert)
        else:
            stats.counted = len(counted)
            stats.alerts = len(to_alert)
        return stats

    def run(self, items: Iterable[Post | Reject], *, on_batch: Callable[[RunStats], None] | None = None) -> RunStats:
        """Consume a stream of posts and rejects in batches; returns the run's totals.
        Each batch's checkpoint is (source, records read from it so far in this run).

        Mentions from consecutive batches are judged in one call (see `judge_group`); each batch
        is still stored in its own transaction with its own checkpoint, in order.

        With `judge_helpers` > 0, on a long run (more than `overlap_after` batches) with a judge
        that can be loaded by name, judging moves to that many helper processes, batches dealt
        out in turn: while they judge, this process reads and matches the next batches. Batches
        are still stored one at a time, in order, each with its checkpoint, so results and
        resume behave exactly as without helpers. If a helper dies, the rest is judged here."""
        total = RunStats()
        t0 = time.perf_counter()
        per_source: Counter[str] = Counter()
        helpers: list[JudgeHelper] = []
        self.helpers_used = 0
        # groups of batches sent to helpers, oldest first: (batches with checkpoints, helper or None)
        Group = list[tuple[_Prepared, tuple[str, str] | None]]
        pending: deque[tuple[Group, JudgeHelper | None]] = deque()
        dealt = 0

        def record(st: RunStats) -> None:
            total.add(st)
            if on_batch:
                on_batch(st)

        def stop_helpers() -> None:
            for h in helpers:
                h.close()
            helpers.clear()

        def store_group(grp: Group, judgements: list[Judgement]) -> None:
            """Store each batch of a judged group in order; a batch leaves the group only once
            stored, so a retry after an error never stores it twice."""
            k = 0
            while grp:
                prep, cp = grp[0]
                st = self._finish(prep, judgements[k : k + len(prep.inputs)], cp)
                grp.pop(0)
                k += len(prep.inputs)
                record(st)

        def finish_oldest() -> None:
            grp, helper = pending[0]
            inputs = _group_inputs(grp)
            judgements: list[Judgement] = []
            if helper is not None and helper in helpers:
                try:
                    judgements = helper.result()  # each helper answers its own requests in order
                except HelperDied:  # judge here from now on, including what is in flight
                    stop_helpers()
            if inputs and not judgements:
                judgements = self.judge.judge_batch(inputs)
            pending[0] = (grp, None)  # answered: a retry after a store error judges what is left here
            store_group(grp, judgements)
            pending.popleft()

        group: Group = []  # batches waiting to be judged together

        def group_full() -> bool:
            return sum(len(p.inputs) for p, _ in group) >= self.judge_group or len(group) >= _MAX_GROUP

        def flush_group() -> None:
            """Judge the waiting batches' mentions in one call, here, then store them in order."""
            inputs = _group_inputs(group)
            store_group(group, self.judge.judge_batch(inputs) if inputs else [])

        def send_group() -> None:
            """Hand the waiting batches' mentions to the next helper as one call (calls of ~500
            pairs judge about twice as fast as one 2,000-post batch's ~40); store older groups
            while it works."""
            nonlocal group, dealt
            if not group:
                return
            inputs = _group_inputs(group)
            helper = None
            if inputs and helpers:
                helper = helpers[dealt % len(helpers)]
                dealt += 1
                helper.submit(inputs)
            pending.append((group, helper))
            group = []
            while len(pending) > len(helpers):  # store older groups while helpers judge newer ones
                finish_oldest()

        try:
            for n, batch in enumerate(batched(items, self.batch_size)):
                per_source.update(map(_source_of, batch))
                last = batch[-1].source
                cp = (last, str(per_source[last])) if last else None
                if n == self.overlap_after and (name := self._helper_name()) is not None:
                    flush_group()
                    try:
                        for _ in range(self.judge_helpers):
                            helpers.append(JudgeHelper(name))
                    except OSError:  # cannot start processes here: judge in this one
                        stop_helpers()
                    self.helpers_used = len(helpers)
                if not helpers:
                    while pending:
                        finish_oldest()
                    if self.judge_group <= 1:
                        record(self.process_batch(batch, checkpoint=cp))
                        continue
                    group.append((self._prepare(batch), cp))
                    if group_full():
                        flush_group()
                    continue
                group.append((self._prepare(batch), cp))
                if group_full():
                    send_group()
            if helpers:
                send_group()
            flush_group()
            while pending:
                finish_oldest()
        except Exception:
            try:  # keep what was read (and judged)
                while pending:
                    finish_oldest()
                if group:
                    flush_group()
            except Exception:  # the first error is the one to report
                pass
            raise
        finally:
            stop_helpers()
        total.seconds = time.perf_counter() - t0
        return total

    def _helper_name(self) -> str | None:
        """The judge's name if helpers are wanted and can load the very same judge, else None."""
        if self.overlap_after is None or self.judge_helpers < 1 or (os.cpu_count() or 1) < 2:
            return None
        name = getattr(self.judge, "name", None)
        if not isinstance(name, str) or not name:
            return None
        try:
            return name if load_judge(name) is self.judge else None
        except Exception:
            return None


_source_of = attrgetter("source")
_MAX_GROUP = 16  # batches held back at most while gathering mentions to judge together


def _group_inputs(group: list[tuple[_Prepared, tuple[str, str] | None]]) -> list[JudgeInput]:
    """The judge inputs of a group of batches, in batch order (what one judge call gets)."""
    return [x for prep, _ in group for x in prep.inputs]


class _Prepared(NamedTuple):
    stats: RunStats
    posts: list[Post]
    rejects: list[Reject]
    pairs: list[tuple[Post, Mention]]
    inputs: list[JudgeInput]


class HelperDied(RuntimeError):
    """The judge helper process ended (crashed, killed, out of memory)."""


def auto_helpers() -> int:
    """How many judge helper processes `threatwatch run` starts by default: 2 where there are 2
    cores or more (the fastest measured on a 2-core machine, BENCHMARKS.md), else none."""
    return 2 if (os.cpu_count() or 1) >= 2 else 0


class JudgeHelper:
    """A second process running a named judge, so judging overlaps reading and matching (the
    pipeline's two halves each keep one core busy). Requests are answered in order; inputs
    and judgements cross a pipe as length-prefixed pickles. A plain subprocess, not
    multiprocessing: it never re-imports the caller's __main__ module."""

    def __init__(self, judge_name: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # the same threatwatch as ours
        # a helper is one of several processes sharing the cores: one embedding thread each
        # (measured on 2 cores: 2 helpers x 1 thread 44,760 posts/s; in-process, 2 threads 38,680)
        env.setdefault("THREATWATCH_EMBED_THREADS", "1")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from threatwatch.pipeline import _helper_main; _helper_main()", judge_name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        # a writer thread, so that sending batch k+1 never waits on us reading batch k's answer
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="judge-helper-writer", daemon=True)
        self._writer.start()

    def _write_loop(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            while (frame := self._queue.get()) is not None:
                stdin.write(frame)
                stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the helper is gone; result() reports it
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def submit(self, inputs: list[JudgeInput]) -> None:
        data = pickle.dumps(inputs, protocol=pickle.HIGHEST_PROTOCOL)
        self._queue.put(struct.pack("<Q", len(data)) + data)

    def result(self) -> list[Judgement]:
        """Judgements for the oldest request not yet answered."""
        out = self._proc.stdout
        assert out is not None
        head = out.read(8)
        if len(head) < 8:
            raise HelperDied(f"judge helper process ended (exit status {self._proc.poll()})")
        (n,) = struct.unpack("<Q", head)
        status, value = pickle.loads(out.read(n))
        if status != "ok":
            raise RuntimeError(f"judge failed in the helper process: {value}")
        return value

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join(timeout=5)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def _helper_main() -> None:
    """The helper process: load the judge named in argv, answer requests until stdin closes."""
    proto = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the judge prints goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    judge = load_judge(sys.argv[1])
    stdin = sys.stdin.buffer
    while len(head := stdin.read(8)) == 8:
        (n,) = struct.unpack("<Q", head)
        inputs = pickle.loads(stdin.read(n))
        try:
            res: tuple[str, object] = ("ok", judge.judge_batch(inputs))
        except Exception as e:  # sent back and raised in the pipeline
            res = ("error", f"{type(e).__name__}: {e}")
        data = pickle.dumps(res, protocol=pickle.HIGHEST_PROTOCOL)
        proto.write(struct.pack("<Q", len(data)) + data)
        proto.flush()


def batched(items: Iterable[Post | Reject], n: int) -> Iterator[list[Post | Reject]]:
    """Lists of `n` items (the last one shorter)."""
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch

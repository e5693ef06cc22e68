"""Wires the stages: sources -> normalise -> match -> judge -> aggregate/alert -> store.

Posts move in batches (the judge embeds a whole batch at once; the store writes a batch in
one transaction with its checkpoint). Each stage is a plain function or object that can be
used and tested alone; this module only connects them and keeps the run's numbers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence

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
                 batch_size: int = 2000, notifiers: Sequence[Notifier] = ()) -> None:
        self.watchlist = watchlist
        self.matcher = Matcher(watchlist)
        self.store = store
        self.judge = judge or load_judge("default")
        self.batch_size = batch_size
        self.notifiers = list(notifiers)
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
        for post, f, mentions in zip(posts, folded, self.matcher.find_many(texts, folded), strict=True):
            if mentions:
                post.lang = detect_lang(post.text, post.lang)
                pairs.extend((post, m) for m in mentions)
                self._folded[post.text] = f
        return pairs

    def judge_pairs(self, pairs: Sequence[tuple[Post, Mention]]) -> list[Judgement]:
        known = self._folded
        inputs = [
            JudgeInput(text=p.text, folded=known.get(p.text) or fold(p.text), lang=p.lang,
                       target=self._targets[m.target], mention_spans=list(m.spans))
            for p, m in pairs
        ]
        return self.judge.judge_batch(inputs) if inputs else []

    def process_batch(self, items: Sequence[Post | Reject], checkpoint: tuple[str, str] | None = None) -> RunStats:
        """Run one batch through every stage and store it atomically with its checkpoint."""
        stats = RunStats()
        posts: list[Post] = []
        rejects: list[Reject] = []
        for it in items:
            if isinstance(it, Reject):
                rejects.append(it)
                stats.rejected[it.reason] = stats.rejected.get(it.reason, 0) + 1
            else:
                posts.append(it)
        stats.read = len(posts)
        pairs = self.match(posts)
        judgements = self.judge_pairs(pairs)
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
        Each batch's checkpoint is (source, records read from it so far in this run)."""
        total = RunStats()
        t0 = time.perf_counter()
        per_source: Counter[str] = Counter()
        for batch in batched(items, self.batch_size):
            for it in batch:
                per_source[it.source] += 1
            last = batch[-1].source
            st = self.process_batch(batch, checkpoint=(last, str(per_source[last])) if last else None)
            total.add(st)
            if on_batch:
                on_batch(st)
        total.seconds = time.perf_counter() - t0
        return total


def batched(items: Iterable[Post | Reject], n: int) -> Iterator[list[Post | Reject]]:
    batch: list[Post | Reject] = []
    for it in items:
        batch.append(it)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch

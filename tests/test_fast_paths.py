"""The batch fast paths give exactly what the one-post-at-a-time code gives.

`fold_many` and `Matcher.find_many` exist only for speed (one hyperscan scan per batch instead
of regexes per post); a user relies on them finding every evasion and every mention the plain
functions find. Random texts are built from the characters the folding rules care about, so
the prefilter's "nothing can change here" answer is tested where it is most likely wrong.
"""

from __future__ import annotations

import random

from threatwatch.config import Target, Watchlist
from threatwatch.match import Matcher
from threatwatch.normalise import fold, fold_many
from threatwatch.pipeline import Pipeline
from threatwatch.post import Post

ALPHABETS = [
    "ab k1@ .-_*\n",
    "abc de 0134578 !|$@",
    "aab ·é 日€ _ -",
    "ka i.l-l*x y z",
    "Aaa bBB ccc 3 !",
    "é ñ a b · € 1 @ x\u200bＫС",
]

EXAMPLES = [
    "", "plain text, nothing to fold", "k i l l", "k1ll them", "sh!t", "Whitfield!", "@user", "$5",
    "2026", "kiiiill", "sooo good", "Ｋ１ＬＬ", "іСЕ agents", "k\u200bill", "m-a-t-a-r", "I.C.E",
    "k·i·l·l", "5€x", "ééé", "日日日", "😂😂😂", "a\nb\nc", "\ud83d lone surrogate k i l l",
]


def test_fold_many_equals_fold_on_examples() -> None:
    assert fold_many(EXAMPLES) == [fold(t) for t in EXAMPLES]


def test_fold_many_equals_fold_on_random_texts() -> None:
    rng = random.Random(7)
    for alphabet in ALPHABETS:
        for _ in range(300):
            texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(25)]
            assert fold_many(texts) == [fold(t) for t in texts]


def test_fold_many_keeps_order_and_length() -> None:
    assert fold_many([]) == []
    assert fold_many(["b4d", "fine", "g u n"]) == ["bad", "fine", "gun"]


WATCHLIST = Watchlist(targets=[
    Target(name="ICE", aliases=["la migra", "ICE agents"], case_sensitive=True),
    Target(name="Lincoln High School", kind="place", aliases=["Lincoln High", "LHS"]),
    Target(name="Dana Whitfield", kind="person", aliases=["Mayor Whitfield", "Whitfield"]),
    Target(name="Vela Energía", aliases=["Vela Energia", "Vela"]),
    Target(name="Marcus Ortega", kind="person", aliases=["Dr. Ortega"]),
])

FRAGMENTS = ["ICE", "ice", "Ice", "I.C.E", "1CE", "la migra", "Lincoln High", "LincolnHigh", "#LincolnHigh",
             "Whitfield", "Vela", "Energía", "Energia", "price", "nice", " ", "-", "_", "é", "\u200b", "Ｉ", "С",
             "\n", "!", "k1ll", "x", "@", "Dr.", "Ortega", "ávila"]


def test_find_many_equals_find() -> None:
    m = Matcher(WATCHLIST)
    rng = random.Random(11)
    texts = ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 8))) for _ in range(3000)]
    texts += ["ICE agents raided a store", "black ice on the roads", "Lincoln-High is closed", "#LincolnHigh",
              "the price of ice", "Vela Energía!!", "\ud83d ICE raid", "x\x00ICE"]
    expected = [m.find(t, fold(t)) for t in texts]
    got: list = []
    for i in range(0, len(texts), 500):
        got += m.find_many(texts[i : i + 500])
    assert got == expected
    assert sum(bool(x) for x in expected) > 100  # the test exercises real mentions


def test_pipeline_match_finds_the_same_pairs_as_find() -> None:
    from datetime import UTC, datetime

    class NoJudge:
        name = "none"

        def judge_batch(self, items: list) -> list:
            raise AssertionError("not called")

    pipe = Pipeline(WATCHLIST, None, NoJudge())
    now = datetime(2026, 11, 20, tzinfo=UTC)
    texts = ["ICE agents at Lincoln High", "nothing here", "M a y o r Whitfield", "ice cream", "la m1gra"]
    posts = [Post(id=f"t:{i}", platform="t", text=t, created_at=now, lang="en") for i, t in enumerate(texts)]
    pairs = pipe.match(posts)
    expected = [(p.id, m.target, m.spans) for p in posts for m in pipe.matcher.find(p.text, fold(p.text))]
    assert [(p.id, m.target, m.spans) for p, m in pairs] == expected
    assert {t for _, t, _ in expected} >= {"ICE", "Lincoln High School", "Dana Whitfield"}


def _run_into(tmp_path, name: str, overlap_after: int | None, posts: list[Post], helpers: int = 1,
              group: int = 1) -> list:
    from threatwatch.judge import load_judge
    from threatwatch.store import open_store

    store = open_store(str(tmp_path / f"{name}.sqlite"))
    pipe = Pipeline(WATCHLIST, store, load_judge("lexicon"), batch_size=7, overlap_after=overlap_after,
                    judge_helpers=helpers, judge_group=group)
    stats = pipe.run(iter(posts))
    tables = [store.query(q) for q in (
        "SELECT target, hour, sentiment, lang, platform, n FROM agg ORDER BY 1, 2, 3, 4, 5",
        "SELECT post_id, target, threat, threat_score, sentiment, explanation, cues, dup_of, status FROM alerts "
        "ORDER BY post_id, target",
        "SELECT source, position, posts, rejects FROM checkpoints",
        "SELECT key FROM seen ORDER BY key",
    )]
    store.close()
    return [stats.read, stats.mentions, stats.on_target, stats.alerts, *tables]


def test_run_with_judge_helper_process_stores_exactly_the_same(tmp_path) -> None:
    """Judging in helper processes (overlapping the next batch's matching), or judging several
    batches' mentions in one call, changes nothing stored (with a judge that scores each post
    on its own, as the keyword judge does)."""
    from datetime import UTC, datetime

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    rng = random.Random(3)
    texts = ["I will kill the ICE agents", "Lincoln High game tonight", "nothing to see", "burn down Vela Energía",
             "Mayor Whitfield should resign", "ice on the roads", "shoot up LHS tomorrow", "Dr. Ortega is great"]
    posts = [Post(id=f"t:{i}", platform="t", text=rng.choice(texts) + f" #{i}", created_at=now, lang="en",
                  source="feed.jsonl") for i in range(120)]
    plain = _run_into(tmp_path, "plain", None, [p.__copy__() for p in posts])
    helped = _run_into(tmp_path, "helped", 0, [p.__copy__() for p in posts])
    two = _run_into(tmp_path, "two", 2, [p.__copy__() for p in posts], helpers=2)
    grouped = _run_into(tmp_path, "grouped", None, [p.__copy__() for p in posts], group=20)
    assert helped == plain
    assert two == plain
    assert grouped == plain
    assert plain[3] > 0 and plain[4]  # alerts raised and sentiment counted


def test_judge_helper_reports_its_death() -> None:
    import pytest

    from threatwatch.judge import JudgeInput
    from threatwatch.pipeline import HelperDied, JudgeHelper

    helper = JudgeHelper("lexicon")
    try:
        helper.submit([JudgeInput(text="hello Lincoln High", target=WATCHLIST.targets[1])])
        assert len(helper.result()) == 1
        helper._proc.kill()
        helper._proc.wait()
        helper.submit([JudgeInput(text="hello", target=None)])
        with pytest.raises(HelperDied):
            helper.result()
    finally:
        helper.close()


def test_jetstream_created_at_fast_path_equals_parse_time() -> None:
    """The common RFC 3339 UTC form is parsed directly; anything else goes the general way."""
    from threatwatch.sources.formats._common import RecordError, parse_time
    from threatwatch.sources.formats.jetstream import _utc_iso

    samples = ["2026-11-07T19:39:16.294Z", "2026-11-07T19:39:16Z", "2026-11-07T19:39:16.123456Z",
               "2026-02-30T10:00:00Z", "2026-11-07 19:39:16Z", "2026-11-07T19:39:16.294+02:00",
               " 2026-11-07T19:39:16Z", "1763900000Z", "2026-11-07T24:00:00Z", "2026-11-07T19:39Z", "Z", ""]
    for s in samples:
        fast = _utc_iso(s)
        if fast is None:
            continue
        try:
            slow = parse_time(s, "createdAt")
        except RecordError:
            raise AssertionError(f"fast path accepted {s!r}, which parse_time rejects") from None
        assert fast == slow and fast.tzinfo == slow.tzinfo and fast.utcoffset() == slow.utcoffset(), s
    assert _utc_iso("2026-11-07T19:39:16.294Z") is not None

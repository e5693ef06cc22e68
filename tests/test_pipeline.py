"""The pipeline end to end with a stand-in judge: what gets counted, alerted and stored."""

from pathlib import Path

import pytest

from helpers import post
from threatwatch.config import load_watchlist
from threatwatch.judge.base import JudgeInput, Judgement
from threatwatch.pipeline import Pipeline
from threatwatch.post import Reject
from threatwatch.store import open_store

WL = load_watchlist(Path(__file__).parent / "fixtures" / "core" / "watchlist.toml")


class ScriptedJudge:
    """A judge whose answers are written in the post: 'THREAT' flags, 'OFF' is off-target."""

    name = "scripted"

    def __init__(self) -> None:
        self.seen: list[JudgeInput] = []

    def judge_batch(self, items: list[JudgeInput]) -> list[Judgement]:
        self.seen.extend(items)
        out = []
        for it in items:
            threat = "THREAT" in it.text
            out.append(Judgement(
                target=it.target.name if it.target else None, on_target="OFF" not in it.text,
                on_target_score=0.9, threat="threat" if threat else "none", threat_score=0.45 if threat else 0.01,
                subtype="direct" if threat else None, sentiment="negative" if threat else "positive",
                sentiment_scores={"negative": 0.5, "neutral": 0.25, "positive": 0.25}, explanation="scripted"))
        return out


@pytest.fixture
def setup(tmp_path: Path):
    store = open_store(str(tmp_path / "p.sqlite"))
    judge = ScriptedJudge()
    yield Pipeline(WL, store, judge, batch_size=3), store, judge
    store.close()


def test_only_posts_naming_a_target_are_judged(setup) -> None:
    pipe, store, judge = setup
    items = [post(1, "nothing to see"), post(2, "ICE agents THREAT"), post(3, "la migra llegó al barrio", lang=None),
             post(4, "ICE train OFF"), Reject(source="f", line=5, reason="malformed-json")]
    st = pipe.run(items)
    assert (st.read, st.mentions, st.on_target, st.off_target) == (4, 3, 2, 1)
    assert st.rejected == {"malformed-json": 1}
    assert [j.text for j in judge.seen] == ["ICE agents THREAT", "la migra llegó al barrio", "ICE train OFF"]
    assert judge.seen[1].lang == "es"  # language identified for matched posts
    assert judge.seen[0].mention_spans == [(0, 10)] or judge.seen[0].mention_spans == [(0, 3)]
    assert st.sentiment == {"ICE": {"negative": 1, "positive": 1}}


def test_threshold_is_per_target_and_off_target_never_alerts(setup) -> None:
    pipe, store, _ = setup
    # ICE threshold 0.5 > scripted score 0.45; Lincoln High School threshold 0.4 < 0.45
    st = pipe.run([post(1, "ICE THREAT"), post(2, "Lincoln High THREAT"), post(3, "Lincoln High THREAT OFF")])
    assert st.alerts == 1
    (a,) = store.alerts()
    assert a.target == "Lincoln High School" and a.judge == "scripted"


def test_rerun_counts_nothing_twice(setup) -> None:
    pipe, store, _ = setup
    items = [post(i, f"ICE post {i}") for i in range(7)] + [post(9, "Lincoln High THREAT")]
    first = pipe.run(items)
    again = pipe.run(items)
    assert (first.counted, again.counted, again.already_counted) == (8, 0, 8)
    assert (first.alerts, again.alerts) == (1, 0)
    assert store.week_summary("2026-W47")["targets"][0]["mentions"] == 7


def test_checkpoints_record_progress_per_source(setup) -> None:
    pipe, store, _ = setup
    pipe.run([post(i, "x", source="a.jsonl") for i in range(5)])
    assert store.get_checkpoint("a.jsonl") == "5"


def test_watchlist_targets_known_to_reports(setup) -> None:
    _, store, _ = setup
    assert store.targets() == ["ICE", "Lincoln High School", "Lucía Ferrer"]

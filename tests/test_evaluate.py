"""`threatwatch eval`: the numbers users rely on before trusting the judge on their own data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threatwatch.config import load_watchlist
from threatwatch.evaluate import EvalError, evaluate
from threatwatch.judge.base import JudgeInput, Judgement

FIX = Path(__file__).parent / "fixtures" / "judge"


class KeywordStub:
    """A fully predictable judge: KILL/MATAR is a threat, with 'should' an incitement."""

    name = "stub"

    def judge_batch(self, items: list[JudgeInput]) -> list[Judgement]:
        out = []
        for it in items:
            hit = "KILL" in it.text or "MATAR" in it.text
            label = ("incitement" if "should" in it.text else "threat") if hit else "none"
            sent = "positive" if "good" in it.text or "buena" in it.text else "negative"
            out.append(Judgement(target=it.target.name if it.target else None, on_target=True, on_target_score=1.0,
                                 threat=label, threat_score=1.0 if hit else 0.0, subtype=None, sentiment=sent,
                                 sentiment_scores={"negative": 0.0, "neutral": 0.0, "positive": 0.0} | {sent: 1.0},
                                 explanation="stub"))
        return out


@pytest.fixture(scope="module")
def wl():
    return load_watchlist(FIX / "watchlist.toml")


def test_threat_metrics_known_numbers(wl):
    res = evaluate(FIX / "eval_tiny.csv", wl, "threat", split="dev", judge=KeywordStub())
    en = res["by_lang"]["en"]
    assert en["n"] == 5
    assert en["labels"]["threat"]["precision"] == pytest.approx(0.5)
    assert en["labels"]["threat"]["recall"] == pytest.approx(0.5)
    assert en["labels"]["incitement"]["f1"] == pytest.approx(1.0)
    assert en["macro_recall"] == pytest.approx(2 / 3)
    assert en["macro_f1"] == pytest.approx(2 / 3)
    assert en["accuracy"] == pytest.approx(0.6)
    assert en["alert_recall"] == pytest.approx(2 / 3)
    # the hyperbole post raised an alert: a false alert on protected speech
    assert en["by_kind"]["hyperbole"] == {"n": 1, "alerts": 1, "alert_rate": 1.0}
    assert en["by_kind"]["support"]["alert_rate"] == 0.0
    es = res["by_lang"]["es"]
    assert es["n"] == 2 and es["macro_recall"] == pytest.approx(1.0)
    assert res["by_lang"]["all"]["n"] == 7


def test_bad_rows_named_by_file_and_line_and_skipped(wl):
    res = evaluate(FIX / "eval_tiny.csv", wl, "threat", split="dev", judge=KeywordStub())
    errs = res["errors"]
    assert res["skipped"] == 2
    assert any("eval_tiny.csv:10:" in e and "'text'" in e for e in errs)
    assert any("eval_tiny.csv:11:" in e and "maybe" in e for e in errs)


def test_sentiment_label_column_and_numeric_labels(wl):
    res = evaluate(FIX / "sentiment_label.csv", wl, "sentiment", judge=KeywordStub())
    m = res["by_lang"]["en"]
    assert m["n"] == 4
    # stub: 'good' -> positive (2 right), everything else negative (1 right, neutral missed)
    assert m["labels"]["positive"]["recall"] == 1.0
    assert m["labels"]["neutral"]["recall"] == 0.0
    assert m["macro_recall"] == pytest.approx(2 / 3)


def test_missing_file_is_a_clear_error(wl):
    with pytest.raises(EvalError, match="nope.csv: file not found"):
        evaluate(FIX / "nope.csv", wl, "threat", judge=KeywordStub())


def test_jsonl_input_with_bad_line(tmp_path, wl):
    p = tmp_path / "x.jsonl"
    p.write_text('{"text": "KILL Dana Whitfield", "threat": "threat", "target": "Dana Whitfield", "lang": "en"}\n'
                 "{not json\n", encoding="utf-8")
    res = evaluate(p, wl, "threat", judge=KeywordStub())
    assert res["rows"] == 1
    assert any("x.jsonl:2: malformed JSON" in e for e in res["errors"])


def test_cli_eval_json_with_lexicon_model():
    from threatwatch.cli import app

    r = CliRunner().invoke(app, ["eval", "--watchlist", str(FIX / "watchlist.toml"), "--data",
                                 str(FIX / "clear_cases.csv"), "--task", "threat", "--model", "lexicon", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout[r.stdout.index("{"):])
    assert out["task"] == "threat" and out["rows"] == 18
    assert set(out["by_lang"]) == {"en", "es", "all"}
    assert "hyperbole" in out["by_lang"]["en"]["by_kind"]


def test_cli_eval_table_output():
    from threatwatch.cli import app

    r = CliRunner().invoke(app, ["eval", "--watchlist", str(FIX / "watchlist.toml"), "--data",
                                 str(FIX / "clear_cases.csv"), "--task", "on_target", "--model", "lexicon"])
    assert r.exit_code == 0, r.output
    assert "macro-recall" in r.stdout and "alert rate per kind" in r.stdout
    # the per-kind table of an on-target run also says how on-target did on each kind
    assert "on_target accuracy" in r.stdout


def test_per_kind_accuracy_for_sentiment(wl):
    res = evaluate(FIX / "eval_tiny.csv", wl, "sentiment", split="dev", judge=KeywordStub())
    kinds = res["by_lang"]["en"]["by_kind"]
    # stub: no 'good' -> negative: right on the hyperbole row, wrong on "Whitfield did well today"
    assert kinds["hyperbole"]["accuracy"] == 1.0
    assert kinds["support"]["accuracy"] == 0.0
    assert "accuracy" not in evaluate(FIX / "eval_tiny.csv", wl, "threat", split="dev",
                                      judge=KeywordStub())["by_lang"]["en"]["by_kind"]["hyperbole"]


def test_dialect_split_for_the_bias_check(tmp_path, wl):
    p = tmp_path / "probes.csv"
    p.write_text("text,lang,target,threat,kind,dialect\n"
                 "Whitfield traffic KILL me,en,Dana Whitfield,none,hyperbole,aae\n"
                 "Whitfield traffic is awful,en,Dana Whitfield,none,hyperbole,standard\n"
                 "KILL Dana Whitfield,en,Dana Whitfield,threat,direct,aae\n"
                 "KILL Whitfield now,en,Dana Whitfield,threat,direct,standard\n", encoding="utf-8")
    res = evaluate(p, wl, "threat", judge=KeywordStub())
    assert res["by_dialect"]["aae"]["false_alert_rate"] == 1.0
    assert res["by_dialect"]["standard"]["false_alert_rate"] == 0.0
    assert res["by_dialect"]["standard"]["alert_recall"] == 1.0


def test_targets_missing_from_the_watchlist_are_judged_by_name(tmp_path, wl):
    """A labelled file from elsewhere names its own targets: rows are judged, not dropped."""
    p = tmp_path / "other.csv"
    p.write_text("text,lang,target,threat\n"
                 "KILL Councillor Ames,en,Councillor Ames,threat\n"
                 "Councillor Ames voted no,en,Councillor Ames,none\n", encoding="utf-8")
    res = evaluate(p, wl, "threat", judge=KeywordStub())
    assert res["rows"] == 2 and res["skipped"] == 0
    assert res["adhoc_targets"] == ["Councillor Ames"]


def test_rows_naming_no_target_are_still_judged_for_threat(tmp_path):
    """Without a target column the default judge says whether the post threatens anyone."""
    from threatwatch.evaluate import _empty_watchlist

    p = tmp_path / "plain.csv"
    p.write_text("text,lang,threat\n"
                 "I am going to shoot up the school tomorrow with my dad's rifle,en,threat\n"
                 "this traffic is killing me lol,en,none\n", encoding="utf-8")
    res = evaluate(p, _empty_watchlist(), "threat")
    assert res["by_lang"]["en"]["labels"]["threat"]["recall"] == 1.0
    assert res["by_lang"]["en"]["labels"]["none"]["recall"] == 1.0

"""`threatwatch classify`: the line contract evaluation relies on, exactly."""

import json
from pathlib import Path

from typer.testing import CliRunner

from threatwatch.cli import app

WL = str(Path(__file__).parent / "fixtures" / "core" / "watchlist.toml")
KEYS = ["id", "target", "on_target", "threat", "threat_score", "sentiment", "sentiment_scores", "explanation"]


def classify(lines: list[str], *args: str) -> tuple[int, list[dict], str]:
    r = CliRunner().invoke(app, ["classify", "--watchlist", WL, "--judge", "lexicon", *args],
                           input="\n".join(lines) + "\n")
    out = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    return r.exit_code, out, r.stderr


def test_contract_keys_and_types() -> None:
    code, out, _ = classify([json.dumps({"id": "a1", "text": "ICE agents helped my abuela after the flood"})])
    assert code == 0
    (rec,) = out
    assert list(rec) == KEYS
    assert rec["id"] == "a1" and rec["target"] == "ICE" and rec["on_target"] is True
    assert rec["threat"] in ("threat", "incitement", "none")
    assert 0.0 <= rec["threat_score"] <= 1.0
    assert rec["sentiment"] in ("negative", "neutral", "positive")
    assert set(rec["sentiment_scores"]) == {"negative", "neutral", "positive"}
    assert abs(sum(rec["sentiment_scores"].values()) - 1.0) < 0.01
    assert isinstance(rec["explanation"], str) and rec["explanation"]


def test_one_line_per_matched_target_and_null_target_when_none() -> None:
    _, out, _ = classify([json.dumps({"id": 1, "text": "ICE at Lincoln High today"}),
                          json.dumps({"id": 2, "text": "lovely weather", "lang": "en"})])
    assert [(r["id"], r["target"]) for r in out] == [(1, "ICE"), (1, "Lincoln High School"), (2, None)]
    assert out[2]["on_target"] is False


def test_no_target_is_never_on_target_with_the_trained_judge() -> None:
    r = CliRunner().invoke(app, ["classify", "--watchlist", WL], input=json.dumps({"id": 9, "text": "nothing here"}) + "\n")
    (rec,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert rec["target"] is None and rec["on_target"] is False


def test_unknown_target_is_judged_by_name_with_a_note() -> None:
    _, out, stderr = classify([json.dumps({"id": 4, "text": "the Acme board meets today", "target": "Acme"})])
    assert [(r["id"], r["target"]) for r in out] == [(4, "Acme")]
    assert "'Acme' is not in the watchlist" in stderr


def test_given_target_is_judged_even_when_not_named() -> None:
    _, out, _ = classify([json.dumps({"id": 3, "text": "they will regret coming back", "target": "ICE"})])
    assert [(r["id"], r["target"]) for r in out] == [(3, "ICE")]


def test_bad_lines_are_named_and_skipped(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_bytes(b'{"id": 1, "text": "ICE raid"}\nnot json\n{"id": 3}\n\xff\xfe\n{"id": 5, "text": "ok"}\n')
    r = CliRunner().invoke(app, ["classify", "-w", WL, "--judge", "lexicon", "--input", str(f)])
    assert r.exit_code == 3
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == [1, 5]
    assert f"{f}:2: malformed JSON" in r.stderr
    assert f"{f}:3: field 'text' is missing" in r.stderr
    assert f"{f}:4: invalid UTF-8" in r.stderr


def test_output_file_and_details(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(app, ["classify", "-w", WL, "--judge", "lexicon", "-o", str(out), "--details"],
                           input=json.dumps({"id": 1, "text": "kill the ICE agents"}) + "\n")
    assert r.exit_code == 0
    rec = json.loads(out.read_text())
    assert rec["cues"] and {"start", "end", "text", "cue"} <= set(rec["cues"][0])


def test_bad_watchlist_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "w.toml"
    bad.write_text('[[target]]\nname = "X"\nkind = "robot"\n')
    r = CliRunner().invoke(app, ["classify", "-w", str(bad)], input="")
    assert r.exit_code == 2 and "field 'kind'" in r.stderr


def test_missing_input_and_unwritable_output_are_named(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["classify", "--watchlist", WL, "--judge", "lexicon", "-i", str(tmp_path / "nope.jsonl")])
    assert r.exit_code == 2 and "--input" in r.output and "nope.jsonl" in r.output
    r = CliRunner().invoke(app, ["classify", "--watchlist", WL, "--judge", "lexicon", "-o", str(tmp_path / "no" / "x" / "o.jsonl")],
                           input='{"id": 1, "text": "hi"}\n')
    assert r.exit_code == 2 and "--output" in r.output

"""Matching finds targets however the name is written, and only real word matches."""

from pathlib import Path

import pytest

from threatwatch.config import load_watchlist, parse_watchlist
from threatwatch.match import Matcher

WL = load_watchlist(Path(__file__).parent / "fixtures" / "core" / "watchlist.toml")
M = Matcher(WL)


def names(text: str) -> list[str]:
    return [m.target for m in M.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ICE agents raided the plant", ["ICE"]),
        ("Immigration and Customs Enforcement said", ["ICE"]),
        ("la migra anda en el parking", ["ICE"]),
        ("I C E out of our town", ["ICE"]),
        ("1CE is here", ["ICE"]),
        ("la m1gra llegó", ["ICE"]),
        ("lincoln high is closed today", ["Lincoln High School"]),
        ("#LincolnHigh game tonight", ["Lincoln High School"]),
        ("Lincoln-High parents", ["Lincoln High School"]),
        ("la alcaldesa Ferrer dimite", ["Lucía Ferrer"]),
        ("Lucia Ferrer dimite", ["Lucía Ferrer"]),  # accent-insensitive
        ("ICE and Lincoln High", ["ICE", "Lincoln High School"]),
    ],
)
def test_finds_targets(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    "text",
    ["black ice on the roads", "Ice cold beer", "the NICE people", "Lincolnshire sausages", "ICEland trip", "hello"],
)
def test_no_false_matches(text: str) -> None:
    assert names(text) == []


def test_spans_point_at_original_text() -> None:
    text = "ugh, the I C E agents again"
    (m,) = M.find(text)
    s, e = m.spans[0]
    assert text[s:e] == "I C E agents" or text[s:e] == "I C E"


def test_context_hint() -> None:
    (m,) = M.find("the ICE train to Munich was late")
    assert m.hint == -1
    (m,) = M.find("ICE agents detained two people")
    assert m.hint == 0


def test_acronym_case_rule_only_when_asked() -> None:
    wl = parse_watchlist('[[target]]\nname = "ICE"\n', "w.toml")
    assert [m.target for m in Matcher(wl).find("ice on the roads")] == ["ICE"]


@pytest.mark.parametrize(
    ("text", "expected", "span_text"),
    [
        ("#AbolishICE now", ["ICE"], "ICE"),
        ("#NoMoreICEraids", ["ICE"], "ICE"),
        ("go #ICE_raids", ["ICE"], "ICE"),
        ("#LincolnHighStrong", ["Lincoln High School"], "LincolnHigh"),
        ("#StopLaMigra", ["ICE"], "LaMigra"),
    ],
)
def test_hashtags(text: str, expected: list[str], span_text: str) -> None:
    ms = M.find(text)
    assert [m.target for m in ms] == expected
    s, e = ms[0].spans[0]
    assert text[s:e] == span_text
    assert [[m.target for m in x] for x in M.find_many([text])] == [expected]


@pytest.mark.parametrize("text", ["#nice day", "#NICE", "#abolishice", "#Lincolnshire"])
def test_hashtags_need_a_word_boundary(text: str) -> None:
    assert names(text) == []

"""The watchlist is written by hand: it must load the documented shape and name bad fields."""

from pathlib import Path

import pytest

from threatwatch.config import ConfigError, load_watchlist, parse_watchlist

FIXTURES = Path(__file__).parent / "fixtures" / "core"

ISSUE_SHAPE = '''
[[target]]
name = "ICE"
kind = "organization"            # person | organization | place
description = "U.S. Immigration and Customs Enforcement, the federal immigration agency"
aliases = ["Immigration and Customs Enforcement", "la migra", "ICE agents"]
'''


def test_documented_shape_loads() -> None:
    wl = parse_watchlist(ISSUE_SHAPE, "w.toml")
    (t,) = wl.targets
    assert t.name == "ICE" and t.kind == "organization"
    assert t.all_aliases() == ["ICE", "Immigration and Customs Enforcement", "la migra", "ICE agents"]
    assert t.threshold == 0.5


def test_fixture_loads_with_extra_fields() -> None:
    wl = load_watchlist(FIXTURES / "watchlist.toml")
    assert [t.name for t in wl.targets] == ["ICE", "Lincoln High School", "Lucía Ferrer"]
    assert wl.by_name("lincoln high school").threshold == 0.4
    assert wl.targets[0].case_sensitive is True


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[[target]]\nkind = "person"\n', "target #1: field 'name' is required"),
        ('[[target]]\nname = "X"\nkind = "robot"\n', "target #1 ('X'): field 'kind' must be one of"),
        ('[[target]]\nname = "X"\naliases = "solo"\n[[target]]\nname = "Y"\naliases = [1]\n', "target #2 ('Y'): field 'aliases'"),
        ('[[target]]\nname = "X"\nthreshold = 2\n', "field 'threshold' must be a number between 0 and 1"),
        ('[[target]]\nname = "X"\nalias = ["x"]\n', "unknown field(s) alias"),
        ('[[target]]\nname = "X"\n[[target]]\nname = "x"\n', "duplicate target name"),
        ('name = "X"\n', "no [[target]] entries"),
        ('[[target]\nname = "X"\n', "not valid TOML"),
    ],
)
def test_errors_name_the_file_and_field(toml: str, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_watchlist(toml, "bad.toml")
    assert str(e.value).startswith("bad.toml: ")
    assert needle in str(e.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml: watchlist file not found"):
        load_watchlist(tmp_path / "nope.toml")


def test_typoed_table_name_is_named() -> None:
    # [[targets]] used to be reported as "no [[target]] entries", hiding the typo.
    with pytest.raises(ConfigError, match=r"wl\.toml: no \[\[target\]\] entries.*unknown top-level key\(s\) 'targets'"):
        parse_watchlist('[[targets]]\nname = "X"\nkind = "place"\n', "wl.toml")
    with pytest.raises(ConfigError, match=r"wl\.toml: unknown top-level key\(s\) 'treshold'"):
        parse_watchlist('treshold = 0.4\n[[target]]\nname = "X"\nkind = "place"\n', "wl.toml")


def test_group_kind_for_a_watched_community() -> None:
    wl = parse_watchlist('[[target]]\nname = "migrants"\nkind = "group"\naliases = ["refugees"]\n', "w.toml")
    assert wl.targets[0].kind == "group"


def test_on_off_values_are_read_alike_everywhere() -> None:
    """One reading of on/off values for options (?verify=0, &starttls=1) and 0/1 columns."""
    from threatwatch.config import parse_flag

    for v in ("1", "true", "YES", "On"):
        assert parse_flag(v) is True
    for v in ("0", "false", "No", "OFF"):
        assert parse_flag(v) is False
    for v in ("", "2", "y", " 1", "maybe"):
        assert parse_flag(v) is None

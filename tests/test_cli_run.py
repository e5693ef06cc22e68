"""`threatwatch run` and `report` as a user runs them: files in, counts and alerts out."""

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threatwatch.cli import app
from threatwatch.store import open_store

CORE = Path(__file__).parent / "fixtures" / "core"
WL = str(CORE / "watchlist.toml")


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "tw.sqlite")


def test_run_counts_alerts_and_keeps_rejects(db: str) -> None:
    r = run("run", "-q", "-w", WL, "--db", db, "--judge", "lexicon", str(CORE / "mixed.jsonl"))
    assert r.exit_code == 3, r.stdout  # two bad lines: the run goes on, the status says so
    assert "Read 4 posts" in r.stdout
    store = open_store(db)
    rej = store.rejects()
    assert {(x["line"], x["source"]) for x in rej} == {(5, str(CORE / "mixed.jsonl")), (6, str(CORE / "mixed.jsonl"))}
    assert all(x["reason"] for x in rej)
    alerts = store.alerts()
    assert sorted(a.target for a in alerts) == ["ICE", "Lincoln High School"]  # one post, two targets
    for a in alerts:
        assert a.text == "I will shoot every ICE agent who comes to Lincoln High tomorrow"
        assert a.url == "https://bsky.app/profile/did:plc:aaa222/post/3m6aaa2"


def test_same_file_twice_counts_each_post_once(db: str, tmp_path: Path) -> None:
    copy = tmp_path / "again.jsonl"
    shutil.copy(CORE / "mixed.jsonl", copy)
    run("run", "-q", "-w", WL, "--db", db, "--judge", "lexicon", str(CORE / "mixed.jsonl"))
    first = json.loads(run("report", "--db", db, "--week", "2026-W47").stdout)
    r = run("run", "-q", "-w", WL, "--db", db, "--judge", "lexicon", str(CORE / "mixed.jsonl"), str(copy))
    assert "newly counted 0" in r.stdout
    second = json.loads(run("report", "--db", db, "--week", "2026-W47").stdout)
    assert first == second
    assert len(open_store(db).alerts(include_duplicates=True)) == 2  # 1 post x 2 targets


def test_report_json_contract(db: str) -> None:
    run("run", "-q", "-w", WL, "--db", db, "--judge", "lexicon", str(CORE / "mixed.jsonl"))
    r = run("report", "--db", db, "--week", "2026-W47", "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["week"] == "2026-W47"
    by = {t["target"]: t for t in data["targets"]}
    assert list(by) == ["ICE", "Lincoln High School", "Lucía Ferrer"]  # every watchlist target
    for t in data["targets"]:
        assert {"target", "mentions", "negative", "neutral", "positive", "alerts"} <= set(t)
        assert t["mentions"] == t["negative"] + t["neutral"] + t["positive"]
    assert by["ICE"]["mentions"] == 2 and by["Lincoln High School"]["mentions"] == 2
    assert by["Lucía Ferrer"]["mentions"] == 1
    assert by["ICE"]["alerts"] == 1
    prev = json.loads(run("report", "--db", db, "--week", "2026-W46").stdout)
    assert all(t["mentions"] == 0 for t in prev["targets"])  # the W46 post names no target


def test_report_csv_and_html(db: str, tmp_path: Path) -> None:
    run("run", "-q", "-w", WL, "--db", db, "--judge", "lexicon", str(CORE / "mixed.jsonl"))
    csv_out = run("report", "--db", db, "--week", "2026-W47", "--format", "csv").stdout
    assert csv_out.splitlines()[0].startswith("week,target,mentions,negative,neutral,positive,alerts")
    assert "2026-W47,ICE,2," in csv_out
    page = tmp_path / "r.html"
    assert run("report", "--db", db, "--week", "2026-W47", "--format", "html", "-o", str(page)).exit_code == 0
    assert "Lucía Ferrer" in page.read_text(encoding="utf-8")


def test_bad_options_are_named(db: str) -> None:
    r = run("report", "--db", db, "--week", "47")
    assert r.exit_code == 2 and "--week" in r.stderr
    r = run("run", "-w", WL, "--db", db, "--format", "myspace", str(CORE / "mixed.jsonl"))
    assert r.exit_code == 2 and "--format" in r.stderr
    for bad in ("many", "-1"):
        r = run("run", "-w", WL, "--db", db, "--judge-helpers", bad, str(CORE / "mixed.jsonl"))
        assert r.exit_code == 2 and "--judge-helpers" in r.stderr and bad in r.stderr


def test_read_commands_refuse_a_missing_store_and_bad_output(db: str, tmp_path: Path) -> None:
    # A typo'd --db must not create an empty store and print an empty report with status 0.
    for args in (("report", "--week", "2026-W47"), ("rejects",)):
        r = run(*args, "--db", db)
        assert r.exit_code == 2 and "--db" in r.stderr and db in r.stderr.replace("\n", ""), r.stderr
        assert not Path(db).exists()
    r = run("report", "--db", db, "--week", "2026-W47", "--format", "xml")
    assert r.exit_code == 2 and "pdf" in r.stderr
    assert run("run", "-q", "-w", WL, "--db", db, "--judge", "lexicon", str(CORE / "mixed.jsonl")).exit_code == 3
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = run("report", "--db", db, "--week", "2026-W47", "-o", str(blocker / "r.json"))
    assert r.exit_code == 2 and "--output" in r.stderr and "Traceback" not in r.stderr


def test_unusable_db_path_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A directory or a file that is not a database: exit 2 naming --db and the path, no traceback.
    monkeypatch.chdir(tmp_path)
    Path("adir").mkdir()
    Path("posts.csv").write_text("id,text\n1,hi\n")
    for bad, why in (("adir", "is a directory"), ("posts.csv", "not a SQLite database")):
        for args in (("run", "-q", "-w", WL, "--judge", "lexicon", str(CORE / "mixed.jsonl")), ("report",), ("rejects",)):
            r = run(*args, "--db", bad)
            flat = re.sub(r"[\s│╭╮╰╯─]+", " ", r.output)
            assert r.exit_code == 2 and "Traceback" not in r.output, r.output
            assert f"--db: {bad}: " in flat and why in flat, flat


def test_stdin_input(db: str) -> None:
    r = run("run", "-q", "-w", WL, "--db", db, "--judge", "lexicon", "--format", "jetstream", "-",
            input=(CORE / "mixed.jsonl").read_text().splitlines()[1] + "\n")
    assert r.exit_code == 0 and "Read 1 posts" in r.stdout


def test_batch_size_zero_and_emoji_codes_in_values(db: str) -> None:
    # --batch-size 0 used to read nothing and exit 0; ":x" in a value was printed as an emoji.
    r = run("run", "-q", "-w", WL, "--db", db, "--batch-size", "0", str(CORE / "mixed.jsonl"))
    assert r.exit_code == 2 and "--batch-size" in r.output
    r = run("watch", "-q", "-w", WL, "--db", db, "--source", "jetstream", "--notify", "pager:x")
    assert r.exit_code == 2 and "pager:x" in r.stderr and "❌" not in r.stderr


def test_week_is_printed_in_canonical_form(db: str) -> None:
    assert run("run", "-q", "-w", WL, "--db", db, "--judge", "lexicon", str(CORE / "mixed.jsonl")).exit_code == 3
    r = run("report", "--db", db, "--week", " 2026-w47")
    assert r.exit_code == 0 and json.loads(r.stdout)["week"] == "2026-W47"


def test_unreachable_postgres_is_a_clear_error() -> None:
    url = "postgresql://tw@127.0.0.1:1/tw"  # nothing listens on port 1
    for args in (("run", "-q", "-w", WL, str(CORE / "mixed.jsonl")), ("report",), ("rejects",)):
        r = run(*args, "--db", url)
        flat = re.sub(r"[\s│╭╮╰╯─]+", " ", r.output)
        assert r.exit_code == 2 and "cannot connect to PostgreSQL" in flat and "Traceback" not in r.output, r.output

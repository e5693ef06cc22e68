"""Formats are recognised from their first bytes; --format overrides; unknowns are rejected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from threatwatch.post import Post, Reject
from threatwatch.sources import detect_format, read_file, read_inputs

FIX = Path(__file__).parent / "fixtures" / "sources"


@pytest.mark.parametrize(("name", "fmt"), [
    ("jetstream.jsonl", "jetstream"),
    ("mastodon_timeline.json", "mastodon"),
    ("mastodon_statuses.ndjson", "mastodon"),
    ("mastodon_status.json", "mastodon"),
    ("x_search_page.json", "x"),
    ("x_pages.ndjson", "x"),
    ("reddit_thread.json", "reddit"),
    ("RC_2025-11_sample.ndjson", "reddit"),
    ("telegram_result.json", "telegram"),
    ("posts.csv", "csv"),
])
def test_detect_from_head(name, fmt):
    head = (FIX / name).read_bytes()[:65536]
    assert detect_format(str(FIX / name), head) == fmt


def test_detect_without_helpful_name():
    head = (FIX / "jetstream.jsonl").read_bytes()
    assert detect_format("/tmp/whatever", head) == "jetstream"
    assert detect_format("dump", b"id,created_at,text\n1,2025-01-01,hi\n") == "csv"
    assert detect_format("dump.json", b"hello world\n") is None


def test_zst_is_sniffed_after_decompression():
    assert [type(i) for i in read_file(str(FIX / "RC_2025-11_sample.zst"))] == [Post, Post, Post]


def test_format_override(tmp_path):
    f = tmp_path / "data.txt"
    f.write_bytes((FIX / "jetstream.jsonl").read_bytes())
    assert len([p for p in read_file(str(f), "jetstream") if isinstance(p, Post)]) == 5
    # forcing the wrong format gives clear rejects, not a crash
    items = list(read_file(str(FIX / "x_search_page.json"), "reddit"))
    assert all(isinstance(i, Reject) for i in items) or items == []


def test_unknown_format_rejected_once(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("\n\njust some prose\nmore prose\n")
    items = list(read_file(str(f)))
    assert len(items) == 1
    r = items[0]
    assert isinstance(r, Reject) and r.reason == "unknown-format" and r.line == 3 and r.source == str(f)
    bad = list(read_file(str(FIX / "posts.csv"), "myspace"))
    assert bad[0].reason == "unknown-format" and "myspace" in bad[0].detail


def test_stdin_dash():
    code = ("import sys; from threatwatch.sources import read_file\n"
            "items = list(read_file('-'))\n"
            "print(len(items), items[0].source, items[0].platform)")
    out = subprocess.run([sys.executable, "-c", code], input=(FIX / "jetstream.jsonl").read_bytes(),
                         capture_output=True, check=True).stdout.decode()
    assert out.split() == ["5", "<stdin>", "bluesky"]


def test_stdin_zst():
    code = ("from threatwatch.sources import read_file\n"
            "print(len([p for p in read_file('-')]))")
    out = subprocess.run([sys.executable, "-c", code], input=(FIX / "RC_2025-11_sample.zst").read_bytes(),
                         capture_output=True, check=True).stdout.decode()
    assert out.strip() == "3"


def test_read_inputs_walks_directories(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    (d / "a.jsonl").write_bytes((FIX / "jetstream.jsonl").read_bytes())
    (d / "b.json").write_bytes((FIX / "x_search_page.json").read_bytes())
    items = list(read_inputs([str(d), str(FIX / "posts.csv")]))
    platforms = {i.platform for i in items if isinstance(i, Post)}
    assert platforms == {"bluesky", "x", "csv"}


def test_array_whose_first_item_is_bad_is_still_detected(tmp_path):
    # One malformed first status used to lose the whole file as unknown-format.
    f = tmp_path / "timeline.json"
    good = {"id": "2", "created_at": "2026-11-18T10:00:00Z", "content": "<p>hi</p>", "account": {"acct": "a"},
            "url": "https://m.example/@a/2"}
    f.write_text(json.dumps([{"id": "1"}, good]))
    items = list(read_file(str(f)))
    assert [type(i).__name__ for i in items] == ["Reject", "Post"]
    assert items[0].reason == "missing-field"

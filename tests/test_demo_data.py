"""The demo generator writes realistic posts that every file source reads back, with the mix
of speech kinds and the week-over-week change the demo and reports rely on."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from threatwatch import demo_data
from threatwatch.config import load_watchlist
from threatwatch.post import Post, Reject
from threatwatch.sources import read_file, read_inputs

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SAMPLES = Path(demo_data.__file__).parent / "samples"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    summary = demo_data.generate(out, n=1200, seed=3, now=NOW, labels=True)
    return out, summary


def _read(out: Path) -> list[Post | Reject]:
    files = sorted(str(p) for p in out.iterdir() if p.name != "labels.jsonl")
    return list(read_inputs(files))


def test_every_generated_post_reads_back(generated):
    out, summary = generated
    items = _read(out)
    posts = [i for i in items if isinstance(i, Post)]
    labels = [json.loads(x) for x in (out / "labels.jsonl").read_text().splitlines()]
    assert len(labels) == 1200
    ids = {p.id for p in posts}
    assert all(lab["id"] in ids for lab in labels)  # the ids the writers promise are the readers' ids
    assert {p.platform for p in posts} == {"bluesky", "mastodon", "x", "reddit", "telegram", "csv"}
    assert all(p.created_at.tzinfo is not None for p in posts)


def test_only_bad_lines_are_rejected(generated):
    out, _ = generated
    rejects = [i for i in _read(out) if isinstance(i, Reject)]
    assert {(Path(r.source).name, r.line, r.reason) for r in rejects} == {
        ("bad_lines.jsonl", 2, "malformed-json"), ("bad_lines.jsonl", 3, "missing-field")}


def test_mix_of_speech_kinds_and_languages(generated):
    out, summary = generated
    cats = summary["categories"]
    assert cats["filler"] > summary["n"] / 2  # most posts mention no target
    for c in ("threat_direct", "threat_conditional", "threat_veiled", "incitement", "hyperbole", "criticism",
              "insult", "protest", "news", "quote_condemn", "support", "off_target"):
        assert cats.get(c, 0) > 0, c
    labels = [json.loads(x) for x in (out / "labels.jsonl").read_text().splitlines()]
    langs = Counter(lab["lang"] for lab in labels)
    assert langs["es"] > 200 and langs["en"] > 400
    targets = {lab["target"] for lab in labels if lab["on_target"]}
    assert targets == {t.name for t in load_watchlist(demo_data.sample_watchlist_path()).targets}


def test_three_iso_weeks_with_a_threat_spike(generated):
    out, _ = generated
    labels = {json.loads(x)["id"]: json.loads(x) for x in (out / "labels.jsonl").read_text().splitlines()}
    posts = [i for i in _read(out) if isinstance(i, Post) and i.id in labels]
    weeks = Counter(p.created_at.isocalendar()[1] for p in posts)
    assert sorted(weeks) == [45, 46, 47]  # the three complete ISO weeks before NOW (2026-W48)
    threats = Counter(p.created_at.isocalendar()[1] for p in posts
                      if labels[p.id]["category"] in demo_data.THREAT_CATEGORIES)
    on = Counter(p.created_at.isocalendar()[1] for p in posts if labels[p.id]["on_target"])
    assert threats[47] > 2 * threats[45]
    assert on[47] > on[45]


def test_texts_are_varied_not_one_template(generated):
    out, _ = generated
    posts = [i for i in _read(out) if isinstance(i, Post)]
    assert len({p.text for p in posts}) > 0.8 * len(posts)
    assert demo_data.sentence_count() >= 250


def test_deterministic_for_seed_and_now(tmp_path):
    a = demo_data.generate(tmp_path / "a", n=200, seed=5, now=NOW)
    b = demo_data.generate(tmp_path / "b", n=200, seed=5, now=NOW)
    assert a == b
    for name in a["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_subset_of_formats_and_bad_format(tmp_path):
    s = demo_data.generate(tmp_path, n=100, seed=1, now=NOW, formats=["mastodon", "csv"], bad_lines=False)
    assert sorted(s["files"]) == ["forum_posts.csv", "mastodon_timeline.json"]
    with pytest.raises(ValueError, match="myspace"):
        demo_data.generate(tmp_path, n=10, formats=["myspace"])


def test_jetstream_stream_is_valid_and_fast(tmp_path):
    import time

    t = time.perf_counter()
    lines = list(demo_data.generate_jetstream_stream(50_000, on_target_rate=0.1, seed=2, now=NOW))
    elapsed = time.perf_counter() - t
    assert len(lines) == 50_000 and elapsed < 10  # ~4 s per million lines on 2 cores
    f = tmp_path / "bench.jsonl"
    f.write_text("".join(lines), encoding="utf-8")
    posts = [p for p in read_file(str(f))]
    assert len(posts) == 50_000 and all(isinstance(p, Post) for p in posts)
    assert len({p.id for p in posts}) == 50_000
    with_likes = list(demo_data.generate_jetstream_stream(2000, seed=2, other_events=0.2, now=NOW))
    f.write_text("".join(with_likes), encoding="utf-8")
    n = sum(isinstance(p, Post) for p in read_file(str(f)))
    assert 1400 < n < 1800


def test_shipped_sample_reads_with_two_rejects():
    files = sorted(str(p) for p in SAMPLES.iterdir() if p.name not in ("watchlist.toml", "README.md"))
    items = list(read_inputs(files))
    posts = [i for i in items if isinstance(i, Post)]
    assert 2000 < len(posts) < 6000
    assert sorted(r.reason for r in items if isinstance(r, Reject)) == ["malformed-json", "missing-field"]
    assert sum(p.stat().st_size for p in SAMPLES.iterdir()) < 5_000_000


def test_cli_writes_files(tmp_path):
    demo_data.main(["--out", str(tmp_path), "--n", "50", "--formats", "jetstream,x"])
    assert (tmp_path / "jetstream.jsonl").exists() and (tmp_path / "x_search_pages.jsonl").exists()
    demo_data.main(["--out", str(tmp_path), "--jetstream-lines", "100"])
    assert len((tmp_path / "bench_jetstream.jsonl").read_text().splitlines()) == 100

"""Bad input never stops a run: each problem becomes a Reject naming file, line and reason."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import zstandard

from threatwatch.post import MAX_TEXT_BYTES, Post, Reject
from threatwatch.sources import read_file
from threatwatch.sources.formats.tabular import mapping_from_options

FIX = Path(__file__).parent / "fixtures" / "sources"
JS = (FIX / "jetstream.jsonl").read_bytes().splitlines(keepends=True)
GOOD = JS[1]  # a post-create event


def read(path: Path, fmt: str | None = None) -> tuple[list[Post], list[Reject]]:
    items = list(read_file(str(path), fmt))
    return [i for i in items if isinstance(i, Post)], [i for i in items if isinstance(i, Reject)]


def one(rejects: list[Reject]) -> Reject:
    assert len(rejects) == 1, rejects
    return rejects[0]


def test_malformed_json_line_run_goes_on(tmp_path):
    f = tmp_path / "js.jsonl"
    f.write_bytes(GOOD + b'{"did": "did:plc:x", "kind": commit}\n' + JS[2])
    ps, rj = read(f)
    assert len(ps) == 2
    r = one(rj)
    assert (r.source, r.line, r.reason) == (str(f), 2, "malformed-json") and "did:plc:x" in r.sample


def test_invalid_utf8_line_then_next_lines(tmp_path):
    f = tmp_path / "js.jsonl"
    bad = GOOD.replace(b"School board", b"School \xff\xfe board")
    f.write_bytes(GOOD + bad + JS[2])
    ps, rj = read(f)
    assert len(ps) == 2
    r = one(rj)
    assert (r.line, r.reason) == (2, "invalid-utf8") and "byte" in r.detail


def test_invalid_utf8_in_csv(tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes(b"id,created_at,text\n1,2025-11-21T00:00:00Z,ok\n2,2025-11-21T00:00:00Z,bad \xff\n3,2025-11-21T00:00:00Z,ok\n")
    ps, rj = read(f)
    assert [p.id for p in ps] == ["csv:1", "csv:3"]
    assert (one(rj).line, one(rj).reason) == (3, "invalid-utf8")


def test_csv_without_the_text_column_is_one_reject_naming_the_columns(tmp_path):
    # A wrong --text-col must not produce one identical reject per row of a large export.
    f = tmp_path / "p.csv"
    f.write_text("msg_id,body,when\n" + "".join(f"{i},hi,2025-11-21T00:00:00Z\n" for i in range(50)))
    ps, rj = read(f)
    r = one(rj)
    assert ps == [] and (r.source, r.line, r.reason) == (str(f), 1, "missing-column")
    assert "'text'" in r.detail and "'created_at'" in r.detail and "msg_id, body, when" in r.detail
    mapped = list(read_file(str(f), mapping=mapping_from_options(text="body", created_at="when", id="msg_id")))
    assert len(mapped) == 50 and all(isinstance(p, Post) for p in mapped)


def test_missing_field_names_the_field(tmp_path):
    ev = json.loads(GOOD)
    del ev["commit"]["rkey"]
    st = json.loads((FIX / "mastodon_statuses.ndjson").read_text().splitlines()[0])
    del st["created_at"]
    f = tmp_path / "js.jsonl"
    f.write_text(json.dumps(ev) + "\n")
    r = one(read(f)[1])
    assert (r.line, r.reason) == (1, "missing-field") and "commit.rkey" in r.detail
    g = tmp_path / "m.ndjson"
    g.write_text(json.dumps(json.loads((FIX / "mastodon_statuses.ndjson").read_text().splitlines()[1])) + "\n"
                 + json.dumps(st) + "\n")
    ps, rj = read(g)
    assert len(ps) == 1 and (one(rj).line, one(rj).reason) == (2, "missing-field") and "created_at" in one(rj).detail


def test_wrong_type_is_invalid_field(tmp_path):
    ev = json.loads(GOOD)
    ev["commit"]["record"]["text"] = 42
    f = tmp_path / "js.jsonl"
    f.write_text(json.dumps(ev) + "\n")
    r = one(read(f)[1])
    assert r.reason == "invalid-field" and "text" in r.detail


def test_too_large_post(tmp_path):
    ev = json.loads(GOOD)
    ev["commit"]["record"]["text"] = "é" * (MAX_TEXT_BYTES // 2 + 10)
    f = tmp_path / "js.jsonl"
    f.write_text(json.dumps(ev) + "\n" + GOOD.decode())
    ps, rj = read(f)
    assert len(ps) == 1
    r = one(rj)
    assert (r.line, r.reason) == (1, "too-large") and str(MAX_TEXT_BYTES) in r.detail


def test_truncated_last_line(tmp_path):
    f = tmp_path / "js.jsonl"
    f.write_bytes(GOOD + JS[2][:60])
    ps, rj = read(f)
    assert len(ps) == 1 and (one(rj).line, one(rj).reason) == (2, "truncated")


def test_truncated_whole_document(tmp_path):
    f = tmp_path / "result.json"
    data = (FIX / "telegram_result.json").read_bytes()
    f.write_bytes(data[: len(data) // 2])
    ps, rj = read(f)
    assert ps == [] and one(rj).reason == "truncated" and one(rj).line and one(rj).line > 1


def test_truncated_zst(tmp_path):
    lines = b"".join(json.dumps({"subreddit": "x", "id": f"c{i}", "body": f"comment {i} " * 20,
                                 "created_utc": 1763721000 + i, "author": "a"}).encode() + b"\n" for i in range(2000))
    data = zstandard.ZstdCompressor().compress(lines)
    f = tmp_path / "RC_cut.zst"
    f.write_bytes(data[: len(data) * 2 // 3])
    ps, rj = read(f)
    assert 0 < len(ps) < 2000
    assert rj and rj[-1].reason == "truncated" and rj[-1].source == str(f)


def test_empty_and_blank_files(tmp_path):
    for content in (b"", b"\n\n  \n"):
        f = tmp_path / "empty.jsonl"
        f.write_bytes(content)
        r = one(read(f)[1])
        assert (r.reason, r.source) == ("empty-file", str(f))


def test_unreadable(tmp_path):
    r = one(read(tmp_path / "nope.jsonl")[1])
    assert r.reason == "unreadable" and r.source == str(tmp_path / "nope.jsonl")
    d = tmp_path / "dir.jsonl"
    d.mkdir()
    assert one(read(d)[1]).reason == "unreadable"


def test_pretty_document_with_bad_json_names_line(tmp_path):
    f = tmp_path / "page.json"
    text = (FIX / "x_search_page.json").read_text().replace('"lang": "es"', '"lang": es', 1)
    f.write_text(text)
    r = one(read(f)[1])
    assert r.reason == "malformed-json"
    assert text.splitlines()[r.line - 1].strip().startswith('"lang": es')


def test_start_line_resumes(tmp_path):
    f = tmp_path / "js.jsonl"
    f.write_bytes(b"".join(JS))
    all_ids = [p.id for p in read_file(str(f)) if isinstance(p, Post)]
    later = [p.id for p in read_file(str(f), start_line=3) if isinstance(p, Post)]
    assert later == all_ids[2:]


def test_large_file_streams_in_constant_memory(tmp_path):
    f = tmp_path / "big.jsonl"
    ev = json.loads(GOOD)
    with open(f, "w") as out:
        for i in range(40_000):
            ev["commit"]["rkey"] = f"k{i}"
            out.write(json.dumps(ev) + "\n")
    assert os.path.getsize(f) > 15_000_000
    tracemalloc.start()
    n = 0
    for item in read_file(str(f)):
        assert isinstance(item, Post)
        n += 1
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert n == 40_000
    assert peak < 8_000_000, peak  # far below the file size: nothing is held beyond a buffer


def test_gzip_plain_and_cut(tmp_path):
    import gzip

    body = b"".join(JS)
    f = tmp_path / "js.jsonl.gz"
    f.write_bytes(gzip.compress(body))
    assert len(read(f)[0]) == 5
    big = b"".join(JS[1:2]) * 1
    lines = b"".join(big.replace(b"3m6bq2tam7k2a", f"k{i:08d}".encode()) for i in range(3000))
    g = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(lines)
    g.write_bytes(data[: len(data) // 2])
    ps, rj = read(g)
    assert 0 < len(ps) < 3000  # what was there before the cut is still read
    assert rj[-1].reason == "truncated"


def test_csv_unclosed_quote_at_end_is_truncated(tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes(b'id,created_at,text\n1,2025-11-21T00:00:00Z,"ok"\n2,2025-11-21T00:00:00Z,"unclosed')
    ps, rj = read(f)
    assert [p.id for p in ps] == ["csv:1"]
    assert (one(rj).line, one(rj).reason) == (3, "truncated")


def test_csv_too_many_fields_and_tsv_and_bom(tmp_path):
    f = tmp_path / "p.csv"
    f.write_bytes(b"\xef\xbb\xbfid,created_at,text\n1,2025-11-21T00:00:00Z,ok,extra\n2,2025-11-21T00:00:00Z,fine\n")
    ps, rj = read(f)
    assert [p.id for p in ps] == ["csv:2"]
    assert (one(rj).line, one(rj).reason) == (2, "malformed-csv")
    t = tmp_path / "p.tsv"
    t.write_bytes(b"id\tcreated_at\ttext\n1\t2025-11-21T00:00:00Z\tok, with a comma\n")
    assert read(t)[0][0].text == "ok, with a comma"


def test_over_long_line_is_too_large(tmp_path, monkeypatch):
    from threatwatch.sources import files

    monkeypatch.setattr(files, "MAX_LINE_BYTES", 2000)
    f = tmp_path / "js.jsonl"
    f.write_bytes(GOOD + b'{"did": "' + b"x" * 5000 + b'"}\n' + JS[2])
    ps, rj = read(f)
    assert len(ps) == 2 and (one(rj).line, one(rj).reason) == (2, "too-large")


def test_whole_document_over_limit_is_too_large(tmp_path, monkeypatch):
    from threatwatch.sources import files

    monkeypatch.setattr(files, "MAX_DOCUMENT_BYTES", 500)
    r = one(read(FIX / "telegram_result.json")[1])
    assert r.reason == "too-large" and "500" in r.detail


def test_telegram_account_export_reads_only_public_chats(tmp_path):
    full = {"about": "Here is the data you requested.", "chats": {"about": "", "list": [
        json.loads((FIX / "telegram_private.json").read_text()),
        json.loads((FIX / "telegram_result.json").read_text())]}}
    f = tmp_path / "result.json"
    f.write_text(json.dumps(full, indent=1))
    ps, rj = read(f)
    assert [p.id for p in ps] == ["telegram:1987654321/2", "telegram:1987654321/3"]
    assert sorted(r.reason for r in rj) == ["missing-field", "not-public"]
    assert all("Family" not in r.detail for r in rj)  # a private chat's name is not recorded


def test_first_ndjson_line_cut_does_not_lose_the_file(tmp_path):
    f = tmp_path / "m.ndjson"
    lines = (FIX / "mastodon_statuses.ndjson").read_bytes().splitlines(keepends=True)
    f.write_bytes(lines[0][:50] + b"\n" + lines[1])
    ps, rj = read(f, "mastodon")
    assert len(ps) == 1 and (one(rj).line, one(rj).reason) == (1, "malformed-json")


def test_skip_items_resumes_exactly_on_multi_post_lines():
    path = str(FIX / "x_pages.ndjson")  # two pages on two lines, four tweets
    all_ids = [p.id for p in read_file(path)]
    assert [p.id for p in read_file(path, skip_items=3)] == all_ids[3:]


def test_array_on_one_jsonl_line_names_each_bad_item(tmp_path):
    f = tmp_path / "p.jsonl"
    f.write_text('{"id": "a", "text": "hi", "created_at": "2025-11-21T00:00:00Z"}\n'
                 '[1, {"id": "b", "text": "yo"}, {"id": "c", "text": "ok", "created_at": "2025-11-21T00:00:00Z"}]\n')
    ps, rj = read(f)
    assert [p.id for p in ps] == ["jsonl:a", "jsonl:c"]
    assert [(r.line, r.detail.split(":")[0]) for r in rj] == [(2, "item 1 of the array"), (2, "item 2 of the array")]
    assert "created_at" in rj[1].detail

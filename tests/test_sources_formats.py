"""Every platform format maps to Post fields the way a reviewer expects to see them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from threatwatch.post import Post, Reject
from threatwatch.sources import ColumnMapping, parse_jetstream_event, parse_mastodon_status, read_file

FIX = Path(__file__).parent / "fixtures" / "sources"


def posts(path: Path | str, **kw) -> list[Post]:
    return [p for p in read_file(str(path), **kw) if isinstance(p, Post)]


def rejects(path: Path | str, **kw) -> list[Reject]:
    return [r for r in read_file(str(path), **kw) if isinstance(r, Reject)]


def by_id(items: list[Post]) -> dict[str, Post]:
    return {p.id: p for p in items}


def test_jetstream_posts_only_creates_of_feed_posts():
    ps = posts(FIX / "jetstream.jsonl")
    # identity, account, like and delete events are skipped, not rejected
    assert len(ps) == 5
    assert rejects(FIX / "jetstream.jsonl") == []
    first = ps[0]
    did, rkey = "did:plc:q6gjnaw2blty4crticxkmujt", "3m6bq2tam7k2a"
    assert first.id == f"bluesky:at://{did}/app.bsky.feed.post/{rkey}"
    assert first.url == f"https://bsky.app/profile/{did}/post/{rkey}"
    assert first.platform == "bluesky"
    assert first.author == did
    assert first.lang == "en"
    assert first.created_at == datetime(2025, 11, 21, 8, 0, 0, 101000, tzinfo=UTC)
    assert first.source == str(FIX / "jetstream.jsonl")


def test_jetstream_reply_and_quotes():
    ps = posts(FIX / "jetstream.jsonl")
    parent = "at://did:plc:q6gjnaw2blty4crticxkmujt/app.bsky.feed.post/3m6bq2tam7k2a"
    reply = ps[1]
    assert reply.reply_to == parent and reply.lang == "es"
    assert ps[2].quote_of == parent  # app.bsky.embed.record
    assert ps[3].quote_of == "at://did:plc:w2rkx5sm3ylcjzyq7xvj4hbd/app.bsky.feed.post/3m6bq2xjz4c2f"  # recordWithMedia
    assert ps[4].lang is None


def test_parse_jetstream_event_for_live_client():
    ev = {"did": "did:plc:abc", "time_us": 1763712000000000, "kind": "commit",
          "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post", "rkey": "k1",
                     "record": {"$type": "app.bsky.feed.post", "text": "hi", "createdAt": "garbage"}, "cid": "c"}}
    p = parse_jetstream_event(ev, "jetstream-live", 7)
    assert isinstance(p, Post)
    # a bogus client createdAt falls back to the relay's time_us
    assert p.created_at == datetime.fromtimestamp(1763712000, tz=UTC)
    assert parse_jetstream_event({"did": "did:plc:abc", "kind": "identity"}, "s", 1) is None
    del ev["commit"]["record"]["text"]
    r = parse_jetstream_event(ev, "jetstream-live", 7)
    assert isinstance(r, Reject) and r.reason == "missing-field" and "commit.record.text" in r.detail and r.line == 7


@pytest.mark.parametrize("name", ["mastodon_timeline.json", "mastodon_statuses.ndjson", "mastodon_status.json"])
def test_mastodon_shapes(name):
    ps = posts(FIX / name)
    assert ps, name
    p = ps[0]
    assert p.id == "mastodon:https://mastodon.example/users/lenamarsh/statuses/115580000000000001"
    assert p.url == "https://mastodon.example/@lenamarsh/115580000000000001"
    assert p.author == "@lenamarsh"
    assert p.platform == "mastodon" and p.lang == "en"
    assert p.created_at == datetime(2025, 11, 21, 9, 1, tzinfo=UTC)


def test_mastodon_html_to_text():
    ps = posts(FIX / "mastodon_timeline.json")
    # paragraphs → blank line, entities unescaped, link → its full text (hidden spans included)
    assert ps[0].text == (
        "Polls at the Northgate County Elections Office open at 7am & close at 8pm.\n\n"
        "Check your precinct: https://elections.example.gov/lookup"
    )
    assert "<" not in ps[1].text
    assert ps[1].text == 'Hoy hay pleno en el Ayuntamiento de Villa Serena.\nOrden del día: presupuestos "participativos". #VillaSerena'
    assert ps[1].author == "@tomasveliz@social.example.es" and ps[1].reply_to == "115579999999999999"


def test_mastodon_spoiler_quote_and_boost():
    ps = posts(FIX / "mastodon_timeline.json")
    assert ps[2].text == "CW: politics\n\nSpoiler body text here."
    assert ps[2].quote_of == "https://social.example.es/users/tomasveliz/statuses/115580000000000003"
    boost = ps[3]  # the boost stands for the boosted status
    assert boost.id == "mastodon:https://social.example.es/users/tomasveliz/statuses/115580000000000005"
    assert boost.text == "Boosted: la biblioteca amplía su horario." and boost.lang == "es"


def test_parse_mastodon_status_for_streaming():
    r = parse_mastodon_status({"id": "1", "content": "<p>x</p>"}, "stream", 3)
    assert isinstance(r, Reject) and r.reason == "missing-field" and "'uri'" in r.detail and r.line == 3


def test_x_page_users_refs_and_note_tweets():
    ps = posts(FIX / "x_search_page.json")
    d = by_id(ps)
    first = d["x:1991814027733311542"]
    assert first.author == "@hvunified"
    assert first.url == "https://x.com/hvunified/status/1991814027733311542"
    assert first.created_at == datetime(2025, 11, 21, 10, 2, 11, tzinfo=UTC)
    assert d["x:1991815552211009638"].reply_to == "x:1991814027733311542"
    assert d["x:1991816001234567890"].quote_of == "x:1991814027733311542"
    assert d["x:1991816001234567890"].lang == "es"
    assert d["x:1991817000000000001"].text.endswith("including this final sentence.")  # note_tweet
    # the retweet stands for the included original (the store de-duplicates the id)
    assert [p.id for p in ps].count("x:1991814027733311542") == 2
    assert "x:1991818000000000002" not in d


def test_x_ndjson_pages_and_empty_page():
    items = list(read_file(str(FIX / "x_pages.ndjson")))
    assert all(isinstance(i, Post) for i in items)
    assert len(items) == 4
    assert items[3].author == "@hvunified"


def test_reddit_thread_listing_nested_replies():
    ps = posts(FIX / "reddit_thread.json")
    d = by_id(ps)
    sub = d["reddit:t3_1p2xq7k"]
    assert sub.text == "Early voting hours extended at Northgate County Elections Office\n\nThey added Saturday hours this week."
    assert sub.author == "u/civic_mapper"
    assert sub.url == "https://www.reddit.com/r/northgate/comments/1p2xq7k/early_voting_hours_extended/"
    assert sub.created_at == datetime.fromtimestamp(1763719200, tz=UTC)
    nested = d["reddit:t1_nq9c2d1"]
    assert nested.author is None  # "[deleted]"
    assert nested.reply_to == "reddit:t1_nq9b7a2"
    assert "reddit:t1_nq9b8zz" not in d  # "[removed]" carries no text
    assert len(ps) == 3


@pytest.mark.parametrize("name", ["RC_2025-11_sample.ndjson", "RC_2025-11_sample.zst"])
def test_reddit_dump_plain_and_zst(name):
    ps = posts(FIX / name)
    assert [p.id for p in ps] == ["reddit:t1_nqa0001", "reddit:t1_nqa0002", "reddit:t3_1p2zz02"]
    assert ps[0].url == "https://www.reddit.com/comments/1p2zz01/_/nqa0001/"
    assert ps[1].created_at == datetime.fromtimestamp(1763721060, tz=UTC)  # string created_utc
    assert ps[2].text == "Presupuestos participativos\n\nSe vota el jueves."


def test_telegram_public_channel():
    items = list(read_file(str(FIX / "telegram_result.json")))
    ps = [p for p in items if isinstance(p, Post)]
    assert [p.id for p in ps] == ["telegram:1987654321/2", "telegram:1987654321/3"]
    assert ps[1].text == "Más información: https://villaserena.example/alegaciones y en #VillaSerena"
    assert ps[1].reply_to == "telegram:1987654321/2"
    assert ps[0].author == "Noticias Villa Serena"
    assert ps[0].created_at == datetime.fromtimestamp(1763717400, tz=UTC)
    rej = [r for r in items if isinstance(r, Reject)]
    assert len(rej) == 1 and rej[0].reason == "missing-field" and rej[0].line == 5 and "'text'" in rej[0].detail


def test_telegram_private_chat_is_refused():
    rej = rejects(FIX / "telegram_private.json")
    assert posts(FIX / "telegram_private.json") == []
    assert len(rej) == 1 and rej[0].reason == "not-public" and "private_group" in rej[0].detail


def test_csv_default_columns():
    items = list(read_file(str(FIX / "posts.csv")))
    ps = [p for p in items if isinstance(p, Post)]
    assert ps[0].id == "csv:r1" and ps[0].author == "@porchlight_pete" and ps[0].url == "https://forum.example/t/1"
    assert ps[1].text == "La alcaldía respondió, por fin.\nSegunda línea del mismo mensaje."  # quoted newline
    assert ps[1].created_at == datetime.fromtimestamp(1763722800, tz=UTC)
    assert ps[2].id.startswith("csv:h")  # no id → stable content hash
    assert ps[2].id == [p for p in read_file(str(FIX / "posts.csv")) if isinstance(p, Post)][2].id
    rej = [r for r in items if isinstance(r, Reject)]
    assert [(r.line, r.reason) for r in rej] == [(6, "missing-field"), (7, "invalid-field")]
    assert "'created_at'" in rej[0].detail


def test_csv_platform_label():
    ps = posts(FIX / "posts.csv", mapping=ColumnMapping(platform="x"))
    assert ps[0].id == "x:r1" and ps[0].platform == "x"


def test_jsonl_column_mapping_with_dotted_paths():
    m = ColumnMapping(id="post_id", text="body", created_at="ts", author="user.handle", lang="language")
    items = list(read_file(str(FIX / "posts.jsonl"), "jsonl", mapping=m))
    p = items[0]
    assert isinstance(p, Post)
    assert p.id == "jsonl:j1" and p.author == "@gridwalker" and p.lang == "en"
    assert p.created_at == datetime(2025, 11, 21, 11, 0, tzinfo=UTC)
    r = items[1]
    assert isinstance(r, Reject) and r.reason == "missing-field" and "'ts'" in r.detail and r.line == 2


def test_jsonl_default_columns(tmp_path):
    f = tmp_path / "export.jsonl"
    f.write_text('{"text": "hello", "created_at": "2025-11-21T10:00:00Z"}\n')
    ps = posts(f)
    assert len(ps) == 1 and ps[0].platform == "jsonl" and ps[0].id.startswith("jsonl:h")


def test_mapping_from_cli_options():
    from threatwatch.sources import mapping_from_options

    m = mapping_from_options(text="body", id=None, created_at="ts", platform="x")
    assert (m.text, m.id, m.created_at, m.platform) == ("body", "id", "ts", "x")
    assert mapping_from_options() == ColumnMapping()

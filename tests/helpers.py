"""Small builders shared by the core tests."""

from __future__ import annotations

from datetime import UTC, datetime

from threatwatch.judge.base import Judgement
from threatwatch.post import Post


def post(i: int | str, text: str, *, when: datetime | None = None, platform: str = "bluesky",
         lang: str | None = "en", source: str = "test") -> Post:
    return Post(id=f"{platform}:{i}", platform=platform, text=text, lang=lang, source=source,
                created_at=when or datetime(2026, 11, 18, 10, 30, tzinfo=UTC),
                url=f"https://example.com/{i}", author=f"@user{i}.example")


def judgement(target: str | None, *, threat: str = "none", score: float = 0.05, sentiment: str = "neutral",
              on_target: bool = True) -> Judgement:
    return Judgement(target=target, on_target=on_target, on_target_score=1.0 if on_target else 0.0,
                     threat=threat, threat_score=score, subtype="direct" if threat != "none" else None,
                     sentiment=sentiment, sentiment_scores={"negative": 0.2, "neutral": 0.6, "positive": 0.2},
                     explanation="test")

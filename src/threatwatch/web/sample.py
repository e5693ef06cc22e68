"""A small invented data set for trying the desk and for its tests: five weeks of counts for
two invented targets, a few alerts in English and Spanish, and a burst of alerts on the last
day (a spike). Every name and handle here is made up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from ..judge.base import Cue, Judgement
from ..post import Post
from ..store.sql import SQLStore

TARGETS = ("Riverside School District", "Oficina Electoral de Valdeluna")
END = datetime(2026, 11, 22, 18, tzinfo=UTC)  # a Sunday: the last day of 2026-W47

ALERTS = [
    ("en", "Riverside School District", "I'm going to shoot up Riverside School District on Monday, watch me.",
     "threat", 0.93, "direct", [("going to shoot up", "first-person-intent", 0.9)]),
    ("es", "Oficina Electoral de Valdeluna", "Si cuentan mal los votos, quemamos la Oficina Electoral de Valdeluna. Ñandú avisa.",
     "threat", 0.81, "conditional", [("quemamos", "violent-act", 0.7), ("Si cuentan mal", "condition", 0.3)]),
    ("en", "Riverside School District", "Someone should teach Riverside School District a lesson they won't survive.",
     "incitement", 0.74, "incitement", [("should teach", "call-to-action", 0.5), ("won't survive", "violent-outcome", 0.6)]),
    ("en", "Riverside School District", "Riverside School District's board can go to hell, I'd kill for a better budget lol",
     "threat", 0.52, "veiled", [("I'd kill for", "idiom", -0.4), ("go to hell", "insult", 0.1)]),
]


def _judgement(target: str, sentiment: str, threat: str = "none", score: float = 0.02, subtype: str | None = None,
               cues: list[Cue] | None = None, explanation: str = "") -> Judgement:
    scores = {"negative": 0.1, "neutral": 0.1, "positive": 0.1}
    scores[sentiment] = 0.8
    return Judgement(target=target, on_target=True, on_target_score=0.95, threat=threat, threat_score=score,
                     subtype=subtype, sentiment=sentiment, sentiment_scores=scores,
                     explanation=explanation or "No threat cues.", cues=cues or [])


def seed(store: SQLStore, *, weeks: int = 5, rng_seed: int = 7, spike: bool = True) -> dict[str, int]:
    """Fill `store` with invented counts and alerts; returns what was added. Idempotent."""
    rng = random.Random(rng_seed)
    store.register_targets(TARGETS)
    counted = []
    start = END - timedelta(days=7 * weeks)
    n = 0
    t = start
    while t < END:
        for target in TARGETS:
            busy = 3 if t.hour in range(8, 22) else 1
            for _ in range(rng.randint(0, busy)):
                n += 1
                sent = rng.choices(("negative", "neutral", "positive"), weights=(3, 5, 2))[0]
                lang = "es" if "Valdeluna" in target else rng.choice(("en", "en", "es"))
                platform = rng.choice(("bluesky", "mastodon"))
                p = Post(id=f"{platform}:seed{n}", platform=platform, text="(counted only)", lang=lang,
                         created_at=t + timedelta(minutes=rng.randint(0, 59)))
                counted.append((p, _judgement(target, sent)))
        t += timedelta(hours=1)
    alerts = []
    for i, (lang, target, text, threat, score, subtype, cues) in enumerate(ALERTS):
        cue_objs = []
        for span, kind, w in cues:
            s = text.find(span)
            cue_objs.append(Cue(start=s, end=s + len(span), text=span, cue=kind, weight=w))
        p = Post(id=f"bluesky:alert{i}", platform="bluesky", text=text, lang=lang,
                 created_at=END - timedelta(hours=30 + 5 * i), author=f"invented-handle-{i}.example",
                 url=f"https://bsky.app/profile/invented-handle-{i}.example/post/{i}")
        j = _judgement(target, "negative", threat, score, subtype, cue_objs,
                       f"Flagged {subtype}: " + ", ".join(c.cue for c in cue_objs) + ".")
        alerts.append((p, j))
        counted.append((p, j))
    if spike:  # a burst of alerts on the last day for the school district
        for k in range(8):
            text = f"Bomb threat #{k}: Riverside School District will burn tomorrow, everyone get ready."
            s = text.find("will burn")
            p = Post(id=f"mastodon:burst{k}", platform="mastodon", text=text, lang="en",
                     created_at=END - timedelta(hours=6, minutes=7 * k), author=f"invented-burst-{k}.example")
            j = _judgement("Riverside School District", "negative", "threat", 0.66 + k / 100, "direct",
                           [Cue(start=s, end=s + 9, text="will burn", cue="violent-act", weight=0.6)],
                           "Flagged direct: violent-act.")
            alerts.append((p, j))
            counted.append((p, j))
    res = store.commit_batch(counted, alerts, checkpoint=("seed", "done", len(counted), 0), judge_name="sample")
    return {"counted": res.counted, "alerts": len(res.new_alert_ids)}

"""A violent-keyword baseline: how a keyword monitor behaves.

It flags any on-target post containing a violent word, with no sense of intent, idiom,
news or quotation. It exists as a yardstick in benchmarks (its false-alert rate on protected
speech is the problem the trained model solves) and as a fallback needing no weights.
Sentiment: VADER for English, a small word list otherwise.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .base import Cue, JudgeInput, Judgement

VIOLENT_WORDS = [
    # English
    "kill", "killing", "killed", "shoot", "shooting", "shot", "stab", "bomb", "burn", "murder",
    "hang", "lynch", "beat", "attack", "destroy", "die", "dead", "gun", "guns", "rifle", "blood",
    "explode", "blow up", "torch", "execute", "slit", "strangle",
    # Spanish
    "matar", "mato", "matarlo", "matarla", "matarlos", "muerte", "muerto", "muertos", "disparar",
    "balear", "balacera", "bomba", "quemar", "quemen", "apuñalar", "linchar", "colgar", "golpear",
    "reventar", "plomo", "fusilar", "degollar", "sangre", "armas", "pistola",
]
_VIOLENT_RE = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in VIOLENT_WORDS) + r")(?!\w)", re.IGNORECASE)

_ES_NEG = {"odio", "asco", "malo", "mala", "peor", "basura", "corruptos", "corrupto", "vergüenza",
           "fuera", "mierda", "ladrones", "inútil", "inútiles", "pésimo", "terrible", "abajo"}
_ES_POS = {"gracias", "bueno", "buena", "excelente", "genial", "orgullo", "apoyo", "bien", "mejor",
           "increíble", "felicidades", "felicitaciones", "ayudaron", "ayuda", "amo", "encanta"}


@lru_cache(maxsize=1)
def _vader():  # noqa: ANN202 - third-party object
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment_scores(text: str, lang: str | None) -> dict[str, float]:
    """Overall negative/neutral/positive scores (VADER in English, word counts otherwise)."""
    if lang in (None, "en"):
        s = _vader().polarity_scores(text)
        c = s["compound"]
        neg = max(0.0, -c)
        pos = max(0.0, c)
        neu = max(0.0, 1.0 - abs(c) * 2) if abs(c) < 0.05 else max(0.0, 1.0 - abs(c))
    else:
        words = re.findall(r"\w+", text.lower())
        n = sum(w in _ES_NEG for w in words)
        p = sum(w in _ES_POS for w in words)
        neg, pos = float(n), float(p)
        neu = 1.0 if n == p else 0.5
    total = neg + pos + neu or 1.0
    return {"negative": neg / total, "neutral": neu / total, "positive": pos / total}


class LexiconJudge:
    """Keyword monitor: any violent word near a target is a 'threat'."""

    name = "lexicon"

    def judge_batch(self, items: list[JudgeInput]) -> list[Judgement]:
        return [self.judge(it) for it in items]

    def judge(self, it: JudgeInput) -> Judgement:
        text = it.folded or it.text
        hits = list(_VIOLENT_RE.finditer(it.text)) or list(_VIOLENT_RE.finditer(text))
        on_target = it.target is not None and bool(it.mention_spans or it.target is not None)
        scores = sentiment_scores(it.text, it.lang)
        sentiment = max(scores, key=scores.__getitem__)
        flagged = bool(hits) and it.target is not None
        cues = [Cue(start=m.start(), end=m.end(), text=m.group(0), cue="violent-word", weight=1.0)
                for m in hits if m.end() <= len(it.text) and it.text[m.start():m.end()] == m.group(0)]
        for s, e in it.mention_spans:
            cues.append(Cue(start=s, end=e, text=it.text[s:e], cue="target-mention", weight=0.0))
        if flagged:
            words = ", ".join(sorted({m.group(0).lower() for m in hits}))
            expl = f"Violent word(s) {words} in a post naming {it.target.name if it.target else 'a target'}."
        else:
            expl = "No violent keyword."
        return Judgement(
            target=it.target.name if it.target else None,
            on_target=on_target,
            on_target_score=1.0 if on_target else 0.0,
            threat="threat" if flagged else "none",
            threat_score=0.9 if flagged else 0.05,
            subtype="direct" if flagged else None,
            sentiment=sentiment,
            sentiment_scores=scores,
            explanation=expl,
            cues=cues,
        )

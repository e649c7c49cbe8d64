"""The shipped embedding cache: exact hits, live misses, never a stale vector."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings import FusedEmbeddings, make_embeddings
from assistant.settings import Settings
from ingest.index import Indexer
from ingest.vectors import (
    CachedEmbeddings,
    VectorCache,
    cache_path,
    quantize,
    with_cache,
    write_cache,
)

TEXTS = [
    "Le vendeur est tenu de livrer la marchandise convenue.",
    "Electronic Export Information must be filed in AES before export.",
    "The consumer has a period of 14 days to withdraw from a distance contract.",
]


@pytest.fixture(scope="module")
def use():
    return make_embeddings("use")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_int8_rows_keep_the_direction_of_the_vectors():
    vectors = np.random.default_rng(0).normal(size=(50, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ints, scales = quantize(vectors)
    assert ints.dtype == np.int8
    assert _cosines(ints * scales[:, None], vectors).min() > 0.999


def test_cached_texts_are_read_and_others_embedded_live(tmp_path, use):
    write_cache(tmp_path, use, TEXTS[:2])
    cached = with_cache(use, tmp_path)
    assert isinstance(cached, CachedEmbeddings)

    vectors = cached.encode_passages(TEXTS)

    assert (cached.hits, cached.misses) == (2, 1)
    assert _cosines(vectors, use.encode_passages(TEXTS)).min() > 0.999
    assert cached.name == use.name and cached.embed_query(TEXTS[0]) == use.embed_query(TEXTS[0])


def test_a_cache_made_with_other_weights_is_not_used(tmp_path, use):
    (path,) = write_cache(tmp_path, use, TEXTS)
    with np.load(path) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "fingerprint": "0123456789abcdef"}))
    with path.open("wb") as handle:
        np.savez(handle, **arrays)

    assert VectorCache.load(tmp_path, use) is None
    assert with_cache(use, tmp_path) is use


def test_a_fused_embedder_reads_the_cache_of_each_part(tmp_path, use, embeddings):
    fused = FusedEmbeddings([(embeddings, 1.0), (use, 1.0)])
    write_cache(tmp_path, use, TEXTS)  # only one part cached

    cached = with_cache(fused, tmp_path)

    parts = [e for e, _ in cached.parts]
    assert not isinstance(parts[0], CachedEmbeddings) and isinstance(parts[1], CachedEmbeddings)
    assert cached.name == fused.name
    assert _cosines(cached.encode_passages(TEXTS), fused.encode_passages(TEXTS)).min() > 0.999


def test_fused_cosine_is_the_weighted_mean_of_the_parts(use, embeddings):
    fused = FusedEmbeddings([(embeddings, 3.0), (use, 1.0)])
    a, b = fused.encode_passages(TEXTS[:2])
    expected = 0.75 * float(np.dot(*embeddings.encode_passages(TEXTS[:2]))) + 0.25 * float(
        np.dot(*use.encode_passages(TEXTS[:2]))
    )
    assert float(np.dot(a, b)) == pytest.approx(expected, abs=1e-4)
    assert fused.name == make_embeddings("minilm*3+use").name


@pytest.mark.slow
def test_the_shipped_cache_covers_the_shipped_corpus_and_matches_the_models():
    """Every chunk of corpus/ and every HS path the lookup embeds is cached for each part of
    the default embedder, and a random sample re-embedded now agrees with the cache (run
    `make vectors` after changing the corpus or the chunking)."""
    settings = Settings()
    indexer = Indexer(settings)
    plan = indexer.plan([settings.corpus_dir])
    texts = indexer.cacheable_texts(plan)
    embeddings = make_embeddings(settings.embedder)
    parts = [e for e, _ in embeddings.parts] if isinstance(embeddings, FusedEmbeddings) else []
    assert settings.vector_cache is not None
    sample = random.Random(7).sample(texts, 24)
    for part in parts or [embeddings]:
        assert cache_path(settings.vector_cache, part.name).is_file(), part.name
        cache = VectorCache.load(settings.vector_cache, part)
        assert cache is not None, f"the cache of {part.name} does not fit its model"
        found, _ = cache.lookup(texts)
        missing = [t[:60] for t, hit in zip(texts, found, strict=True) if not hit]
        assert not missing, f"{len(missing)} texts not cached, e.g. {missing[:3]}"
        _, cached = cache.lookup(sample)
        assert _cosines(cached, part.encode_passages(sample)).min() >= 0.99


def test_two_use_embedders_share_one_model_in_memory(use):
    assert make_embeddings("use")._session is use._session


def test_the_shipped_cache_is_small():
    folder = Settings().vector_cache
    assert folder is not None
    size = sum(p.stat().st_size for p in Path(folder).glob("*.npz"))
    assert 0 < size < 40e6

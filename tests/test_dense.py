"""Exact vector search: the same chunks as a brute-force cosine over Chroma's own vectors,
in the same order every time, following what is written to the collection."""

from __future__ import annotations

import chromadb
import numpy as np
import pytest
from langchain_chroma import Chroma

from assistant.dense import ExactSearch
from assistant.embeddings import make_embeddings


@pytest.fixture(scope="module")
def model():
    return make_embeddings("minilm")


@pytest.fixture
def store(tmp_path, model) -> Chroma:
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    collection = client.create_collection("dense-test", metadata={"hnsw:space": "cosine"})
    texts = [
        f"Exporters of product {i} must file a declaration within {i} days." for i in range(120)
    ]
    vectors = model.encode_passages(texts)
    collection.add(
        ids=[f"id-{i:03d}" for i in range(120)],
        documents=texts,
        embeddings=vectors.tolist(),
        metadatas=[{"language": "en" if i % 3 else "fr", "source": f"f{i}.md"} for i in range(120)],
    )
    return Chroma(client=client, collection_name="dense-test", embedding_function=model)


def test_the_top_is_the_brute_force_top(store, model):
    search = ExactSearch(store)
    query = np.asarray(model.embed_query("how many days to file a declaration for product 42?"))
    scores = search.score(query)
    top = scores.top(30)
    got = store.get(include=["embeddings"])
    matrix = np.asarray(got["embeddings"])
    cosine = matrix @ query / np.linalg.norm(matrix, axis=1) / np.linalg.norm(query)
    expected = [got["ids"][i] for i in np.argsort(-cosine)[:30]]
    assert [scores.snapshot.ids[i] for i in top] == expected
    assert np.allclose(scores.cosine[top], np.sort(cosine)[::-1][:30], atol=1e-5)


def test_a_mask_keeps_only_its_rows_and_runs_never_differ(store, model):
    search = ExactSearch(store)
    query = model.embed_query("declaration")
    french = search.score(query).snapshot.languages["fr"]
    first = search.score(query).top(20, mask=french)
    assert all(search.snapshot.metas[i]["language"] == "fr" for i in first)
    assert all(search.score(query).top(20, mask=french) == first for _ in range(3))


def test_writes_to_the_collection_are_followed(store, model):
    search = ExactSearch(store)
    query = model.embed_query("bananas from Ecuador need a phytosanitary certificate")
    assert search.score(query).snapshot.ids[search.score(query).top(1)[0]] != "new"
    store._collection.add(
        ids=["new"],
        documents=["Bananas from Ecuador need a phytosanitary certificate."],
        embeddings=model.encode_passages(
            ["Bananas from Ecuador need a phytosanitary certificate."]
        ).tolist(),
        metadatas=[{"language": "en"}],
    )
    scores = search.score(query)
    assert scores.snapshot.ids[scores.top(1)[0]] == "new" and len(search) == 121
    store._collection.delete(ids=["new", "id-000"])
    assert len(search.score(query).snapshot.ids) == 119 and "new" not in search.snapshot.rows

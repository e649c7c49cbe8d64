"""The BM25 store: a reader sees what another process's ingest wrote, and ranks like a full sort."""

from __future__ import annotations

import numpy as np

from assistant.lexical import LexicalIndex


def record(n: int, text: str) -> tuple[str, str, dict]:
    return f"c{n}", text, {"source": f"doc{n}.md", "root": "corpus"}


def test_a_reader_sees_writes_made_through_another_connection(tmp_path):
    path = tmp_path / "lexical.sqlite"
    writer, reader = LexicalIndex(path), LexicalIndex(path)
    writer.apply([record(1, "certificate of origin for textiles")], [])
    assert [hit[0] for hit in reader.search("certificate origin")] == ["c1"]
    writer.apply([record(2, "EORI number registration")], [])
    assert [hit[0] for hit in reader.search("EORI registration")] == ["c2"]
    writer.apply([], ["c1"])
    assert reader.search("certificate origin") == []
    assert len(reader) == 1


def test_top_k_is_the_head_of_the_full_ranking(tmp_path):
    rng = np.random.default_rng(0)
    words = ["duty", "tariff", "origin", "invoice", "export", "licence", "vat", "customs"]
    index = LexicalIndex(tmp_path / "lexical.sqlite")
    index.apply(
        [record(n, " ".join(rng.choice(words, size=rng.integers(3, 30)))) for n in range(300)], []
    )
    everything = index.search("tariff origin vat", k=1000)
    scores = [hit[3] for hit in everything]
    assert scores == sorted(scores, reverse=True)
    for k in (1, 5, 30):
        assert [h[3] for h in index.search("tariff origin vat", k=k)] == scores[:k]

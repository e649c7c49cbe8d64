"""Question -> ranked passages with their provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_chroma import Chroma

__all__ = ["Passage", "Retriever"]


@dataclass
class Passage:
    """One retrieved chunk: its text, where it comes from, and how well it matched."""

    id: str
    text: str
    metadata: dict = field(default_factory=dict)
    score: float = 0.0

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))


class Retriever:
    """Dense search over the Chroma store, with metadata filters."""

    def __init__(self, store: Chroma, *, k: int = 8) -> None:
        self.store = store
        self.k = k

    def search(
        self, query: str, *, k: int | None = None, filters: dict | None = None
    ) -> list[Passage]:
        where = None
        if filters:
            clauses = [{key: value} for key, value in filters.items() if value]
            where = clauses[0] if len(clauses) == 1 else ({"$and": clauses} if clauses else None)
        hits = self.store.similarity_search_with_relevance_scores(
            query, k=k or self.k, filter=where
        )
        return [
            Passage(id=str(doc.id), text=doc.page_content, metadata=dict(doc.metadata), score=score)
            for doc, score in hits
        ]

"""Scoring the assistant on a question set in the format of ``eval/dev.jsonl``.

Each item: ``id, lang, question, history, answerable, sources, facts``. Expected
sources are file names; a retrieved passage matches when its source path ends with
one of them.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EvalItem", "RetrievalScores", "load_items", "retrieval_query", "score_retrieval"]


@dataclass
class EvalItem:
    id: str
    question: str
    lang: str = "en"
    history: list[dict] = field(default_factory=list)
    answerable: bool = True
    sources: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


def load_items(path: Path) -> list[EvalItem]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            items.append(
                EvalItem(**{k: v for k, v in raw.items() if k in EvalItem.__dataclass_fields__})
            )
    return items


def retrieval_query(item: EvalItem) -> str:
    """The question merged with the previous user turn, so follow-ups keep their topic."""
    previous = [turn["content"] for turn in item.history if turn.get("role") == "user"]
    return f"{previous[-1]} {item.question}" if previous else item.question


def _matches(source: str, expected: Iterable[str]) -> bool:
    return any(source == e or source.endswith("/" + e) for e in expected)


@dataclass
class RetrievalScores:
    n: int
    hit_at_1: float
    hit_at_5: float
    mrr: float

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "hit@1": round(self.hit_at_1, 3),
            "hit@5": round(self.hit_at_5, 3),
            "mrr": round(self.mrr, 3),
        }


def score_retrieval(ranked: list[tuple[EvalItem, list[str]]]) -> RetrievalScores:
    """Hit@1, hit@5 and MRR of expected sources over answerable items.

    ``ranked`` pairs each item with its retrieved source paths, best first (duplicates allowed).
    """
    hits1, hits5, rr = [], [], []
    for item, sources in ranked:
        if not item.answerable or not item.sources:
            continue
        distinct = list(dict.fromkeys(sources))
        rank = next((i for i, s in enumerate(distinct, 1) if _matches(s, item.sources)), None)
        hits1.append(rank == 1)
        hits5.append(rank is not None and rank <= 5)
        rr.append(1 / rank if rank else 0.0)
    if not rr:
        return RetrievalScores(0, 0.0, 0.0, 0.0)
    return RetrievalScores(
        len(rr), statistics.mean(hits1), statistics.mean(hits5), statistics.mean(rr)
    )

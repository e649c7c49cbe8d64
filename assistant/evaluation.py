"""Scoring the assistant on a question set in the format of ``eval/dev.jsonl``.

Each item: ``id, lang, question, history, answerable, sources, facts``. Expected
sources are file names; a retrieved source path matches when it ends with one.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.answer import Answer
from assistant.pipeline import Turn, merge_history

__all__ = ["EvalItem", "EvalResult", "load_items", "retrieval_query", "run_eval", "summarise"]


@dataclass
class EvalItem:
    id: str
    question: str
    lang: str = "en"
    history: list[dict] = field(default_factory=list)
    answerable: bool = True
    sources: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)

    @property
    def turns(self) -> list[Turn]:
        return [Turn(t["role"], t["content"]) for t in self.history]


@dataclass
class EvalResult:
    item: EvalItem
    answer: Answer
    seconds: float

    def as_json(self) -> dict:
        return {
            "id": self.item.id,
            "answer": self.answer.text,
            "refused": self.answer.refused,
            "citations": [c.as_dict() for c in self.answer.citations],
            "retrieved": self.answer.retrieved,
            "mode": self.answer.mode,
            "notices": self.answer.notices,
            "seconds": round(self.seconds, 3),
        }


def load_items(path: Path) -> list[EvalItem]:
    fields = EvalItem.__dataclass_fields__
    return [
        EvalItem(**{k: v for k, v in json.loads(line).items() if k in fields})
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def retrieval_query(item: EvalItem) -> str:
    """The query the assistant itself retrieves with (follow-ups merged with the history)."""
    return merge_history(item.question, item.turns)


def _matches(source: str, expected: Iterable[str]) -> bool:
    return any(source == e or source.endswith("/" + e) for e in expected)


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def run_eval(items: list[EvalItem], ask: Callable[[EvalItem], Answer]) -> list[EvalResult]:
    results = []
    for item in items:
        started = time.perf_counter()
        answer = ask(item)
        results.append(EvalResult(item, answer, time.perf_counter() - started))
    return results


def _rate(values: list[bool]) -> float | None:
    return round(statistics.mean(values), 3) if values else None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def summarise(results: list[EvalResult]) -> dict:
    """hit@1, hit@5, MRR, fact recall, citation precision, refusals and latency."""
    hit1, hit5, rr, facts, precise, refused_ok, refused_wrong = [], [], [], [], [], [], []
    for r in results:
        item, answer = r.item, r.answer
        if not item.answerable:
            refused_ok.append(answer.refused)
            continue
        refused_wrong.append(answer.refused)
        if item.sources:
            rank = next(
                (i for i, s in enumerate(answer.retrieved, 1) if _matches(s, item.sources)), None
            )
            hit1.append(rank == 1)
            hit5.append(rank is not None and rank <= 5)
            rr.append(1 / rank if rank else 0.0)
        haystack = _norm(answer.text + " " + " ".join(c.snippet for c in answer.citations))
        facts += [_norm(f) in haystack for f in item.facts]
        for c in answer.citations:
            precise.append(
                any(_norm(f) in _norm(c.snippet) for f in item.facts)
                or _matches(c.source, item.sources)
            )
    seconds = [r.seconds for r in results]
    return {
        "n": len(results),
        "hit@1": _rate(hit1),
        "hit@5": _rate(hit5),
        "mrr": round(statistics.mean(rr), 3) if rr else None,
        "fact_recall": _rate(facts),
        "citation_precision": _rate(precise),
        "correct_refusal": _rate(refused_ok),
        "false_refusal": _rate(refused_wrong),
        "p50_s": _percentile(seconds, 0.5),
        "p95_s": _percentile(seconds, 0.95),
    }

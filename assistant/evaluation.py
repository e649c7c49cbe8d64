"""Scoring the assistant on a question set in the format of ``eval/dev.jsonl``.

Each item: ``id, lang, question, history, answerable, sources, facts, topic``. Expected
sources are file names; a retrieved source path matches when it ends with one.

The set is split into two fixed halves by a hash of each id (``half_of``): choices are
tuned on one and confirmed on the other. Every question is answered with the refusal
threshold off, so that one run gives the figures at the operating point (an answer is
refused there when its confidence is under the threshold, ``refused_at``) and the whole
trade-off: ``risk_coverage`` (threshold -> share answered, the fact in those, the
unanswerable refused) and ``reliability`` (is 0.8 right 8 times in 10?).
``naive_answer`` is the baseline the figures are compared with: LangChain's vector
top-k on the same Chroma collection, quoted as is.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answer import Answer, citation_for
from assistant.query import Turn, merge_history
from assistant.retrieval import Passage

if TYPE_CHECKING:
    from langchain_core.vectorstores import VectorStore

__all__ = [
    "HALVES",
    "EvalItem",
    "EvalResult",
    "auroc",
    "breakdown",
    "format_table",
    "half_of",
    "hit",
    "holds_fact",
    "load_items",
    "naive_answer",
    "percentile",
    "rank_scores",
    "refused_at",
    "reliability",
    "retrieval_query",
    "right",
    "risk_coverage",
    "run_eval",
    "source_rank",
    "summarise",
]

HALVES = ("tune", "confirm")


def half_of(item_id: str) -> str:
    """The fixed half an item belongs to: 'tune' or 'confirm' (63 / 76 on dev v2)."""
    return (
        "tune" if hashlib.sha256(("half:" + item_id).encode()).digest()[0] % 2 == 0 else "confirm"
    )


@dataclass
class EvalItem:
    id: str
    question: str
    lang: str = "en"
    history: list[dict] = field(default_factory=list)
    answerable: bool = True
    sources: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    topic: str = ""

    @property
    def turns(self) -> list[Turn]:
        return [Turn(t["role"], t["content"]) for t in self.history]

    @property
    def half(self) -> str:
        return half_of(self.id)


@dataclass
class EvalResult:
    item: EvalItem
    answer: Answer
    seconds: float

    def as_json(self) -> dict:
        return {
            "id": self.item.id,
            "half": self.item.half,
            "answer": self.answer.text,
            "refused": self.answer.refused,
            "confidence": self.answer.confidence,
            "evidence": self.answer.evidence,
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


# ---------------------------------------------------------------- figures


def _rate(values: list[bool]) -> float | None:
    return round(float(statistics.mean(values)), 3) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The value at quantile ``q`` (nearest rank, no interpolation); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def source_rank(retrieved: Iterable[str], expected: Iterable[str]) -> int | None:
    """1-based rank of the first expected file among the distinct retrieved sources."""
    expected = list(expected)
    distinct = dict.fromkeys(retrieved)
    return next((i for i, s in enumerate(distinct, 1) if _matches(s, expected)), None)


def hit(rank: int | None, k: int) -> bool:
    """Whether an expected source is among the first ``k`` (``rank`` from ``source_rank``)."""
    return rank is not None and rank <= k


def rank_scores(ranks: Sequence[int | None]) -> dict:
    """hit@1, hit@5 and MRR of expected-source ranks (None: not retrieved)."""
    return {
        "hit@1": _rate([hit(r, 1) for r in ranks]),
        "hit@5": _rate([hit(r, 5) for r in ranks]),
        "mrr": round(statistics.mean(1 / r if r else 0.0 for r in ranks), 3) if ranks else None,
    }


def refused_at(answer: Answer, threshold: float | None) -> bool:
    """Whether ``answer`` (made with the threshold off) is refused at ``threshold``:
    refused anyway (out of scope, nothing to quote) or its confidence is under it."""
    if answer.refused:
        return True
    return threshold is not None and answer.confidence is not None and answer.confidence < threshold


def holds_fact(result: EvalResult) -> bool:
    """The answer quotes one of the item's facts (a refusal quotes none)."""
    answer = result.answer
    if answer.refused or not result.item.facts:
        return False
    haystack = _norm(answer.text + " " + " ".join(c.snippet for c in answer.citations))
    return any(_norm(f) in haystack for f in result.item.facts)


def fact_was_read(result: EvalResult) -> bool:
    """One of the item's facts is in a passage the answer was made from."""
    texts = _norm(" ".join(result.answer.trace.texts))
    return any(_norm(f) in texts for f in result.item.facts)


def right(result: EvalResult, threshold: float | None) -> bool:
    """Answered, and the answer holds the fact (never right for an unanswerable item)."""
    return (
        result.item.answerable and not refused_at(result.answer, threshold) and holds_fact(result)
    )


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the chance that a right answer has a higher confidence
    than a wrong one (ties count half); None without both kinds."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return round(wins / (len(pos) * len(neg)), 3)


def summarise(results: list[EvalResult], threshold: float | None = None) -> dict:
    """Retrieval (hit@1, hit@5, MRR), the fact in the answer (of all answerable items, of
    those answered, of those whose fact was in a passage read), citation precision,
    refusals and latency, at ``threshold``; and the confidence's AUROC."""
    ranks, facts, answered_facts, read_facts, precise = [], [], [], [], []
    answered, refused_ok, scored, labels = [], [], [], []
    for r in results:
        item, answer = r.item, r.answer
        refused = refused_at(answer, threshold)
        if answer.confidence is not None:
            scored.append(answer.confidence)
            labels.append(right(r, None))
        if not item.answerable:
            refused_ok.append(refused)
            continue
        answered.append(not refused)
        if item.sources:
            ranks.append(source_rank(answer.retrieved, item.sources))
        hold = holds_fact(r) and not refused
        facts.append(hold)
        if not refused:
            answered_facts.append(hold)
        if fact_was_read(r):
            read_facts.append(holds_fact(r))
        if refused:
            continue
        for c in answer.citations:
            precise.append(
                any(_norm(f) in _norm(c.snippet) for f in item.facts)
                or _matches(c.source, item.sources)
            )
    seconds = [r.seconds for r in results]
    p50, p95 = percentile(seconds, 0.5), percentile(seconds, 0.95)
    return {
        "n": len(results),
        **rank_scores(ranks),
        "fact_recall": _rate(facts),
        "fact_answered": _rate(answered_facts),
        "fact_read": _rate(read_facts),
        "answered": _rate(answered),
        "citation_precision": _rate(precise),
        "correct_refusal": _rate(refused_ok),
        "auroc": auroc(scored, labels),
        "p50_s": None if p50 is None else round(p50, 3),
        "p95_s": None if p95 is None else round(p95, 3),
    }


def breakdown(
    results: list[EvalResult],
    halves: Sequence[str] = ("all", *HALVES),
    threshold: float | None = None,
) -> list[tuple[str, str, dict]]:
    """``summarise`` per (language, half): all / each language × the given halves."""
    langs = ["all", *sorted({r.item.lang for r in results})]
    return [
        (
            lang,
            half,
            summarise(
                [
                    r
                    for r in results
                    if lang in ("all", r.item.lang) and half in ("all", r.item.half)
                ],
                threshold,
            ),
        )
        for lang in langs
        for half in halves
    ]


COLUMNS = {
    "hit@1": "hit@1",
    "hit@5": "hit@5",
    "mrr": "MRR",
    "fact_recall": "fact",
    "fact_answered": "fact|ans",
    "fact_read": "fact|read",
    "answered": "answered",
    "correct_refusal": "refuse ok",
    "auroc": "AUROC",
    "citation_precision": "cit.prec",
    "p50_s": "p50 s",
}


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _aligned(header: list[str], rows: list[list[str]], labels: int) -> str:
    """Plain-text columns: the first ``labels`` left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i < labels else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def format_table(systems: dict[str, list[tuple[str, str, dict]]]) -> str:
    """``breakdown`` rows of one or more systems (e.g. ours, naive), interleaved so the
    systems' figures for the same language and half sit on adjacent lines."""
    show_system = len(systems) > 1
    header = ["lang", "half", *(["system"] if show_system else []), "n", *COLUMNS.values()]
    rows = []
    for groups in zip(*systems.values(), strict=True):
        for name, (lang, half, summary) in zip(systems, groups, strict=True):
            labels = [lang, half, *([name] if show_system else [])]
            rows.append([*labels, str(summary["n"]), *(_cell(summary[k]) for k in COLUMNS)])
    return _aligned(header, rows, labels=3 if show_system else 2)


# ---------------------------------------------------------------- refusal trade-off

RISK_COVERAGE = tuple(round(0.05 * i, 2) for i in range(20))
RELIABILITY_BINS = 10


def risk_coverage(results: list[EvalResult], thresholds: Sequence[float] = RISK_COVERAGE) -> str:
    """For each threshold and each (language, half): the share of answerable questions
    answered, the fact in those answered, and the unanswerable refused."""
    groups = [
        (lang, half)
        for lang in ["all", *sorted({r.item.lang for r in results})]
        for half in HALVES
        if any(r.item.half == half for r in results)
    ]
    header = ["threshold"]
    for lang, half in groups:
        header += [f"{lang}/{half}: ans", "fact", "refuse ok"]
    rows = []
    for t in thresholds:
        row = [f"{t:.2f}"]
        for lang, half in groups:
            mine = [r for r in results if lang in ("all", r.item.lang) and r.item.half == half]
            answerable = [r for r in mine if r.item.answerable]
            answered = [r for r in answerable if not refused_at(r.answer, t)]
            unanswerable = [r for r in mine if not r.item.answerable]
            row += [
                _cell(_rate([not refused_at(r.answer, t) for r in answerable])),
                _cell(_rate([holds_fact(r) for r in answered])),
                _cell(_rate([refused_at(r.answer, t) for r in unanswerable])),
            ]
        rows.append(row)
    return "\n".join(
        [
            "ans: answerable questions answered; fact: the fact in those answered; "
            "refuse ok: unanswerable questions refused",
            _aligned(header, rows, labels=1),
        ]
    )


def reliability(results: list[EvalResult], bins: int = RELIABILITY_BINS) -> str:
    """Confidence in bins against how often such answers were right, per half: a
    calibrated confidence of 0.8 is right about 8 times in 10."""
    header = ["confidence"]
    halves = [h for h in HALVES if any(r.item.half == h for r in results)]
    for half in halves:
        header += [f"{half}: n", "mean conf", "right"]
    rows = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        row = [f"{low:.1f}-{high:.1f}"]
        for half in halves:
            inside = [
                r
                for r in results
                if r.item.half == half
                and r.answer.confidence is not None
                and low <= r.answer.confidence < high + (b == bins - 1)
            ]
            row += [
                str(len(inside)),
                _cell(_rate_of([r.answer.confidence or 0.0 for r in inside])),
                _cell(_rate([right(r, None) for r in inside])),
            ]
        rows.append(row)
    return "\n".join(
        [
            "right: answerable, and the answer holds the fact (an unanswerable question "
            "is never right)",
            _aligned(header, rows, labels=1),
        ]
    )


def _rate_of(values: list[float]) -> float | None:
    return round(float(statistics.mean(values)), 3) if values else None


# ---------------------------------------------------------------- naive baseline


def naive_answer(store: VectorStore, query: str, language: str = "en", k: int = 5) -> Answer:
    """The naive LangChain baseline: vector top-``k``, the first passage as the answer,
    all ``k`` cited with their whole text. It never refuses."""
    docs = store.similarity_search(query, k=k)
    passages = [Passage(id=str(d.id or ""), text=d.page_content, metadata=d.metadata) for d in docs]
    return Answer(
        text=passages[0].text if passages else "",
        citations=[citation_for(n, p, p.text) for n, p in enumerate(passages, 1)],
        language=language,
        mode="naive",
        retrieved=list(dict.fromkeys(p.source for p in passages)),
    )

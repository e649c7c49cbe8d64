"""Scoring the assistant on a question set in the format of ``eval/dev.jsonl``.

Each item: ``id, lang, question, history, answerable, sources, facts, topic``. Expected
sources are file names; a retrieved source path matches when it ends with one.

The set is split into two fixed halves by a hash of each id (``half_of``): choices are
tuned on one and confirmed on the other. ``sweep`` turns the evidence score of each
answer into the refusal trade-off (threshold -> correct / false refusal), and
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
from assistant.pipeline import Turn, merge_history
from assistant.retrieval import Passage

if TYPE_CHECKING:
    from langchain_core.vectorstores import VectorStore

__all__ = [
    "HALVES",
    "EvalItem",
    "EvalResult",
    "SweepRow",
    "breakdown",
    "choose_threshold",
    "format_sweep",
    "format_table",
    "half_of",
    "hit",
    "load_items",
    "naive_answer",
    "percentile",
    "rank_scores",
    "refused_at",
    "retrieval_query",
    "run_eval",
    "source_rank",
    "summarise",
    "sweep",
    "sweep_thresholds",
]

HALVES = ("tune", "confirm")
MAX_FALSE_REFUSAL = 0.05


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


def summarise(results: list[EvalResult]) -> dict:
    """hit@1, hit@5, MRR, fact recall, citation precision, refusals and latency."""
    ranks, facts, precise, refused_ok, refused_wrong = [], [], [], [], []
    for r in results:
        item, answer = r.item, r.answer
        if not item.answerable:
            refused_ok.append(answer.refused)
            continue
        refused_wrong.append(answer.refused)
        if item.sources:
            ranks.append(source_rank(answer.retrieved, item.sources))
        haystack = _norm(answer.text + " " + " ".join(c.snippet for c in answer.citations))
        facts += [_norm(f) in haystack for f in item.facts]
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
        "citation_precision": _rate(precise),
        "correct_refusal": _rate(refused_ok),
        "false_refusal": _rate(refused_wrong),
        "p50_s": None if p50 is None else round(p50, 3),
        "p95_s": None if p95 is None else round(p95, 3),
    }


def breakdown(
    results: list[EvalResult], halves: Sequence[str] = ("all", *HALVES)
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
                ]
            ),
        )
        for lang in langs
        for half in halves
    ]


COLUMNS = {
    "hit@1": "hit@1",
    "hit@5": "hit@5",
    "mrr": "MRR",
    "fact_recall": "facts",
    "citation_precision": "cit.prec",
    "correct_refusal": "refuse ok",
    "false_refusal": "refuse wrong",
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


@dataclass
class SweepRow:
    """What one evidence threshold gives on a set of answers."""

    threshold: float
    correct_refusal: float | None  # share of unanswerable items refused
    false_refusal: float | None  # share of answerable items refused
    refused_answerable: int
    answerable: int


def refused_at(answer: Answer, threshold: float) -> bool:
    """Whether ``answer`` (made with the threshold off) would be refused at ``threshold``:
    refused anyway (scope, countries, nothing found) or its evidence is below it."""
    return answer.refused or (answer.evidence is not None and answer.evidence < threshold)


def sweep_thresholds(results: list[EvalResult], steps: int = 20) -> list[float]:
    """``steps`` evenly spaced thresholds from the lowest to the highest evidence seen."""
    seen = [r.answer.evidence for r in results if r.answer.evidence is not None]
    if not seen:
        return []
    low, high = min(seen), max(seen)
    if steps < 2 or high == low:
        return [low]
    return [low + (high - low) * i / (steps - 1) for i in range(steps)]


def sweep(results: list[EvalResult], thresholds: Iterable[float]) -> list[SweepRow]:
    """Correct and false refusal of ``results`` at each threshold."""
    answerable = [r.answer for r in results if r.item.answerable]
    unanswerable = [r.answer for r in results if not r.item.answerable]
    rows = []
    for t in thresholds:
        wrong = [refused_at(a, t) for a in answerable]
        rows.append(
            SweepRow(
                threshold=t,
                correct_refusal=_rate([refused_at(a, t) for a in unanswerable]),
                false_refusal=_rate(wrong),
                refused_answerable=sum(wrong),
                answerable=len(answerable),
            )
        )
    return rows


def choose_threshold(
    rows: list[SweepRow], max_false_refusal: float = MAX_FALSE_REFUSAL
) -> SweepRow | None:
    """The row with the highest correct refusal whose false refusal is at most
    ``max_false_refusal``; among equals, the lowest threshold (fewest refusals)."""
    allowed = [
        r
        for r in rows
        if r.false_refusal is not None
        and r.false_refusal <= max_false_refusal
        and r.correct_refusal is not None
    ]
    return max(allowed, key=lambda r: (r.correct_refusal, -r.threshold), default=None)


def format_sweep(results: list[EvalResult], steps: int = 20, fit_on: str = "tune") -> str:
    """The trade-off table per half, the threshold chosen on ``fit_on`` marked, and what
    it gives on the other half."""
    thresholds = sweep_thresholds(results, steps)
    if not thresholds:
        return "no evidence scores to sweep"
    halves = [h for h in HALVES if any(r.item.half == h for r in results)]
    by_half = {h: sweep([r for r in results if r.item.half == h], thresholds) for h in halves}
    by_half["all"] = sweep(results, thresholds)
    chosen = choose_threshold(by_half[fit_on]) if fit_on in by_half else None

    header = ["threshold"]
    for h in by_half:
        header += [f"{h}: ok", "false", "refused"]
    rows = []
    for i, t in enumerate(thresholds):
        mark = " <" if chosen is not None and t == chosen.threshold else ""
        row = [f"{t:.3f}{mark}"]
        for h_rows in by_half.values():
            r = h_rows[i]
            row += [
                _cell(r.correct_refusal),
                _cell(r.false_refusal),
                f"{r.refused_answerable}/{r.answerable}",
            ]
        rows.append(row)
    lines = [
        "ok: unanswerable items refused; false: answerable items refused (refused: how many)",
        _aligned(header, rows, labels=1),
    ]
    if chosen is None:
        lines.append(
            f"no threshold keeps false refusal <= {MAX_FALSE_REFUSAL} on the {fit_on} half"
        )
    else:
        i = thresholds.index(chosen.threshold)
        lines.append(
            f"chosen on {fit_on} (highest correct refusal with false refusal <= "
            f"{MAX_FALSE_REFUSAL}): threshold {chosen.threshold:.3f} -> "
            + "; ".join(
                f"{h}: refuse ok {_cell(r[i].correct_refusal)}, "
                f"refuse wrong {_cell(r[i].false_refusal)}"
                for h, r in by_half.items()
            )
        )
    return "\n".join(lines)


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

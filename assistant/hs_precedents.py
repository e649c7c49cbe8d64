"""Precedents: goods already classified by a customs authority, found by their words.

A classifier facing a description first looks for rulings on similar goods ("a
stabiliser bar for a motor vehicle" was 8708.80 last month). The lookup does the same
with a small file of binding tariff information rulings — each ruling's description as
folded word stems, and the 6-digit code the authority gave — built by
``python -m ingest.hs_precedents`` (``make hs-precedents``) from the *tune* half of the
development set only, so the confirm half still measures goods it has not seen. The
similar rulings vote for their codes by BM25 similarity.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.hs_languages import WordIndex, stems

__all__ = ["Precedents"]

log = logging.getLogger(__name__)


@dataclass
class Precedents:
    codes: list[str]  # six digits, one per ruling
    documents: list[str]  # the ruling's description as word stems
    neighbours: int = 5  # rulings that vote

    def __post_init__(self) -> None:
        self.index = WordIndex(self.documents)

    @classmethod
    def load(cls, path: Path | None) -> Precedents | None:
        """The file at ``path``, or None (no precedents) when there is none or it is bad."""
        if path is None or not path.is_file():
            return None
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                data = json.load(handle)
            return cls(data["codes"], data["documents"])
        except (OSError, ValueError, KeyError) as exc:
            log.warning("HS precedents unreadable (%s): none used", exc)
            return None

    def votes(self, description: str, *, leave_out_same: bool = False) -> dict[str, float]:
        """Each code's vote: the best share of the description's idf weight a similar
        ruling with that code holds (0 to 1), so a ruling sharing only a common word barely
        counts. ``leave_out_same`` skips a ruling with the very same words (measuring on
        the rulings themselves)."""
        scores = self.index.coverage(description)
        if leave_out_same:
            own = " ".join(stems(description))
            scores = np.where([d == own for d in self.documents], 0.0, scores)
        votes: dict[str, float] = defaultdict(float)
        for i in np.argsort(-scores, kind="stable")[: self.neighbours]:
            if scores[i] > 0:
                votes[self.codes[i]] = max(votes[self.codes[i]], float(scores[i]))
        return dict(votes)

"""Precedents: rulings on similar goods vote for their codes; the shipped file is the
tune half of the rulings development set, rebuilt the same by ``make hs-precedents``."""

from __future__ import annotations

import gzip
import json

import pytest

from assistant.hs_precedents import Precedents
from assistant.settings import Settings
from ingest.hs_precedents import RULINGS, build


def test_similar_rulings_vote_for_their_codes():
    precedents = Precedents(
        ["870880", "870880", "401699"],
        ["stabil stang motorv", "stabil veer motorv", "rubber kussen"],
    )
    votes = precedents.votes("een stabilisatorstang voor een motorvoertuig")
    assert max(votes, key=votes.get) == "870880"
    assert all(0 < v <= 1 for v in votes.values())
    # A ruling sharing one common word with a short name barely votes.
    assert max(precedents.votes("rubber gloves for surgery").values()) < 0.5
    # A ruling does not vote for itself when the rulings themselves are measured.
    alone = Precedents(["401699"], ["rubber kussen"])
    assert alone.votes("rubber kussen", leave_out_same=True) == {}


def test_a_missing_file_means_no_precedents(tmp_path):
    assert Precedents.load(tmp_path / "absent.json.gz") is None


@pytest.mark.skipif(not RULINGS.exists(), reason="the shared rulings are not beside the repo")
def test_the_shipped_precedents_are_the_tune_half_rebuilt():
    shipped = Settings(_env_file=None).hs_precedents
    with gzip.open(shipped, "rt", encoding="utf-8") as handle:
        assert json.load(handle) == build(RULINGS)
    precedents = Precedents.load(shipped)
    assert precedents is not None and 100 < len(precedents.codes) < 250

"""The reader and the extractive composer: the unit that answers comes first, nothing is
quoted twice, a French question finds its answer in an English passage, and the shipped
model scores a known case."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.answer import CitationNumbers, ExtractiveComposer, dated_notice
from assistant.embeddings import make_embeddings
from assistant.lexical import LexicalIndex
from assistant.query import understand
from assistant.reader import FEATURES, Reader
from assistant.retrieval import Passage
from assistant.units import UnitIndex


def passage(id_: str, text: str, language: str = "en") -> Passage:
    return Passage(id=id_, text=text, metadata={"source": f"{id_}.md", "language": language})


PENALTY = passage(
    "penalties",
    "Link: Electronic Export Information — https://example.org/aes\n"
    "The AES filer must correct errors as soon as they are known. "
    "A civil penalty not to exceed $1,100 for each day of delinquency, not to exceed "
    "$10,000 per violation, may be imposed for the failure to file timely. "
    "[T.D. 73-175, 38 FR 17447, July 2, 1973, as amended at 73 FR 31555]",
)
BONDS = passage(
    "bonds",
    "A bond may be cancelled when the importer files a written request. The port director "
    "decides on the cancellation of a bond within 30 days.",
)
WITHDRAWAL = passage(
    "withdrawal",
    "Member States shall ensure that the consumer has a period of 14 days to withdraw "
    "from a distance or off-premises contract. The trader shall keep records of "
    "all orders in a durable medium.",
)


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> Reader:
    """Over a BM25 index of these passages (for the words' idf) and a store of units."""
    folder = tmp_path_factory.mktemp("reader")
    lexical = LexicalIndex(folder / "bm25.sqlite")
    lexical.apply([(p.id, p.text, p.metadata) for p in (PENALTY, BONDS, WITHDRAWAL)], [])
    return Reader(lexical, UnitIndex(folder / "units.sqlite", make_embeddings("use")))


def compose(reader: Reader, question: str, passages: list[Passage]):
    query = understand(question)
    reading = reader.read(query, passages)
    composer = ExtractiveComposer()
    return composer.answer(composer.choose(reading.reads), query.language), reading


def quoted(text: str) -> list[str]:
    return [line.rsplit(" [", 1)[0] for line in text.split("\n\n", 1)[1].splitlines()]


def test_the_unit_that_answers_leads(reader):
    answer, reading = compose(
        reader, "What penalty applies when EEI is filed late?", [BONDS, PENALTY]
    )
    assert quoted(answer.text)[0].startswith("A civil penalty not to exceed $1,100")
    assert answer.text.split("\n\n", 1)[1].splitlines()[0].endswith("[1]")
    assert answer.citations[0].source == "penalties.md"
    # the passages are re-ranked by their best unit
    assert [p.id for p in reading.passages] == ["penalties", "bonds"]


def test_link_lines_and_citation_trailers_are_never_quoted(reader):
    answer, _ = compose(reader, "What is the fine for filing EEI late?", [PENALTY])
    assert "Link:" not in answer.text and "38 FR 17447" not in answer.text
    assert "https://" not in answer.text


def test_nothing_is_quoted_twice_and_the_answer_has_room_limits(reader):
    copy = passage("copy", PENALTY.text)
    answer, _ = compose(reader, "What is the fine for filing EEI late?", [PENALTY, copy])
    lines = quoted(answer.text)
    assert len(lines) == len(set(lines)) <= ExtractiveComposer().max_units
    assert sum(len(line) for line in lines) <= ExtractiveComposer().max_chars


def test_a_french_question_finds_the_english_sentence(reader):
    answer, _ = compose(
        reader, "Combien de jours le consommateur a-t-il pour se rétracter ?", [BONDS, WITHDRAWAL]
    )
    assert answer.text.startswith("Voici ce que disent les sources")
    assert "14 days to withdraw" in quoted(answer.text)[0]


def test_the_shipped_model_names_its_features_and_ranks_a_known_case(reader):
    assert tuple(reader.booster.feature_name()) == FEATURES
    query = understand("How many days does the consumer have to withdraw?")
    reading = reader.read(query, [WITHDRAWAL])
    best = reading.reads[0]
    assert best.unit.text.startswith("Member States shall ensure that the consumer has a period")
    assert best.score == max(r.score for r in reading.reads) and 0 < best.score <= 1
    assert np.isfinite([r.model for r in reading.reads]).all()


def test_citations_are_numbered_in_the_order_they_are_quoted(reader):
    answer, _ = compose(
        reader,
        "What penalty applies when EEI is filed late, and when is a bond cancelled?",
        [BONDS, PENALTY],
    )
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.text
        assert all(
            part and part in PENALTY.text + BONDS.text for part in citation.snippet.split(" … ")
        )


def test_dated_sources_are_named_once_with_their_year():
    old = passage("old", "Exporters must keep records for five years after export.")
    old.metadata["date"] = "2014-06-27 (adoption par l'Assemblée nationale ; numéro et date)"
    numbers = CitationNumbers()
    numbers.number(old, "a")
    numbers.number(passage("other", "x"), "b")
    again = Passage(id="old-2", text="y", metadata={**old.metadata})
    numbers.number(again, "c")
    notice = dated_notice(numbers.citations(), "fr", 2026)
    assert notice == "Vérifiez les dates : [1] [3] (2014) peuvent ne plus être à jour."


def test_citations_are_numbered_in_the_order_passages_are_first_cited():
    numbers = CitationNumbers()
    cited = [(BONDS, "a"), (PENALTY, "b"), (BONDS, "c")]
    assert [numbers.number(passage, snippet) for passage, snippet in cited] == [1, 2, 1]
    assert numbers.number(BONDS, "a") == 1  # the same snippet again: cited once
    citations = numbers.citations()
    assert [(c.n, c.source, c.snippet) for c in citations] == [
        (1, "bonds.md", "a … c"),
        (2, "penalties.md", "b"),
    ]


def test_the_composer_streams_its_answer_lines_then_citations_then_the_answer(reader):
    query = understand("When is a bond cancelled?")
    reading = reader.read(query, [PENALTY, BONDS])
    composer = ExtractiveComposer()
    events = list(composer.stream(query, reading.passages, reading.reads))
    assert [e.kind for e in events[-2:]] == ["citations", "done"]
    answer = events[-1].data
    assert "".join(e.data for e in events[:-2]) == answer.text
    assert answer == composer.answer(composer.choose(reading.reads), "en")

"""The extractive composer: the sentence that answers comes first, nothing is repeated,
and a French question finds its answer in an English passage."""

from __future__ import annotations

import pytest

from assistant.answer import CitationNumbers, ExtractiveComposer, dated_notice
from assistant.embeddings import make_embeddings
from assistant.lexical import LexicalIndex
from assistant.retrieval import Passage


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


@pytest.fixture(scope="module")
def composer(tmp_path_factory) -> ExtractiveComposer:
    """Over a BM25 index of these passages, so that words have their idf weights."""
    lexical = LexicalIndex(tmp_path_factory.mktemp("lexical") / "bm25.sqlite")
    lexical.apply([(p.id, p.text, p.metadata) for p in (PENALTY, BONDS)], [])
    return ExtractiveComposer(lexical, make_embeddings("use"))


def test_the_sentence_that_answers_leads(composer):
    question = "What penalty applies when EEI is filed late?"
    answer = composer.compose(question, [BONDS, PENALTY], "en")

    first = answer.text.split("\n\n", 1)[1].splitlines()[0]
    assert first.startswith("A civil penalty not to exceed $1,100")
    assert first.endswith("[1]") and answer.citations[0].source == "penalties.md"


def test_link_lines_and_citation_trailers_are_never_quoted(composer):
    answer = composer.compose("What is the fine for filing EEI late?", [PENALTY], "en")

    assert "Link:" not in answer.text and "38 FR 17447" not in answer.text
    assert "https://" not in answer.text


def test_no_sentence_is_quoted_twice(composer):
    copy = passage("copy", PENALTY.text)
    answer = composer.compose("What is the fine for filing EEI late?", [PENALTY, copy], "en")

    body = answer.text.split("\n\n", 1)[1].splitlines()
    quoted = [line.rsplit(" [", 1)[0] for line in body]
    assert len(quoted) == len(set(quoted)) and len(quoted) <= composer.max_sentences


def test_a_french_question_finds_the_english_sentence(composer):
    withdrawal = passage(
        "withdrawal",
        "Member States shall ensure that the consumer has a period of 14 days to withdraw "
        "from a distance or off-premises contract. The trader shall keep records of "
        "all orders in a durable medium.",
    )
    answer = composer.compose(
        "Combien de jours le consommateur a-t-il pour se rétracter ?", [BONDS, withdrawal], "fr"
    )

    assert answer.text.startswith("Voici ce que disent les sources")
    first = answer.text.split("\n\n", 1)[1].splitlines()[0]
    assert "14 days to withdraw" in first


def test_passages_are_reranked_by_their_best_sentence(composer):
    question = "What penalty applies when EEI is filed late?"
    ranked = composer.sentences(question, [BONDS, PENALTY], "en")

    assert [p.id for p in composer.rerank([BONDS, PENALTY], ranked)] == ["penalties", "bonds"]


def test_citations_are_numbered_in_the_order_they_are_quoted(composer):
    answer = composer.compose(
        "What penalty applies when EEI is filed late, and when is a bond cancelled?",
        [BONDS, PENALTY],
        "en",
    )

    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.text
        quoted = citation.snippet.split(" … ")
        assert all(part and part in PENALTY.text + BONDS.text for part in quoted)


def test_without_a_sentence_model_words_still_choose(tmp_path):
    lexical = LexicalIndex(tmp_path / "bm25.sqlite")
    lexical.apply([(p.id, p.text, p.metadata) for p in (PENALTY, BONDS)], [])
    composer = ExtractiveComposer(lexical)
    answer = composer.compose("When is a bond cancelled?", [PENALTY, BONDS], "en")

    assert "bond" in answer.text.split("\n\n", 1)[1].splitlines()[0]


def test_dated_sources_are_named_with_their_date(composer):
    old = passage("old", "Exporters must keep records for five years after export.")
    old.metadata["date"] = "2015"
    answer = composer.compose("How long must exporters keep records?", [old], "en")

    notice = dated_notice(answer.citations, "en", 2026)
    assert notice is not None and "[1] (2015)" in notice


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


def test_the_composer_streams_its_answer_lines_then_citations_then_the_answer(composer):
    question = "When is a bond cancelled?"
    ranked = composer.sentences(question, [PENALTY, BONDS], "en")
    events = list(composer.stream(question, [PENALTY, BONDS], "en", ranked))
    assert [e.kind for e in events[-2:]] == ["citations", "done"]
    answer = events[-1].data
    assert "".join(e.data for e in events[:-2]) == answer.text
    assert answer == composer.compose(question, [PENALTY, BONDS], "en")

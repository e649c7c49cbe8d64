"""The French -> English words learned from the corpus's parallel EU texts."""

from __future__ import annotations

from assistant.glossary import expand_query
from assistant.lexicon import learn_lexicon, parallel_units, translate
from assistant.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT / "corpus"


def test_words_that_keep_appearing_together_are_translations():
    pairs = [
        ("Le vendeur livre la facture.", "The seller delivers the invoice."),
        ("La facture est payée.", "The invoice is paid."),
        ("Le vendeur est payé.", "The seller is paid."),
        ("Une facture électronique.", "An electronic invoice."),
        ("Le vendeur et le client.", "The seller and the customer."),
    ]
    lexicon = learn_lexicon(pairs)
    assert lexicon["facture"] == "invoice" and lexicon["vendeur"] == "seller"
    assert "client" not in lexicon  # seen once: too rare to learn


def test_the_shipped_eu_acts_teach_the_vat_and_consumer_vocabulary():
    pairs = parallel_units(CORPUS)
    assert len(pairs) > 1000
    words = translate("Quel délai de rétractation pour un assujetti ? Et la facture ?", CORPUS)
    assert {"withdrawal", "taxable", "invoice"} <= set(words)


def test_french_questions_gain_the_learned_words_and_english_ones_nothing():
    question = "Le consommateur peut-il se rétracter ?"
    expanded = expand_query(question, "fr", None, CORPUS)
    assert expanded.startswith(question) and "withdraw" in expanded.split()
    assert expand_query("Can the consumer withdraw?", "en", None, CORPUS).endswith("withdraw?")
    assert translate(question, None) == []

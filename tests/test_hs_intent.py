"""When is an HS code asked for: a name of the code and a request for it, in one clause."""

from __future__ import annotations

import pytest

from assistant.evaluation import load_items, retrieval_query
from assistant.hs_intent import asks_for_hs_code, product_description
from assistant.settings import PROJECT_ROOT

DEV = PROJECT_ROOT.parent / "shared" / "eval" / "dev.jsonl"


@pytest.mark.parametrize(
    "question",
    [
        "HS code for men's leather shoes",
        "code SH pour des chaussures en cuir pour homme",
        "slt c koi le code sh pr la noix de cajou ?",
        "Un importateur nous demande la sous-position SH à 6 chiffres, c'est laquelle ?",
        "¿Cuál es el código arancelario de las zapatillas de deporte?",
        "Qual é a classificação fiscal do café torrado?",
        "ما هو رمز النظام المنسق للتمور؟",
        "I need the commodity code for polyester knitted fabric",
        "code sh du gingembre entier séché svp",
        "The broker wants the 6-digit HS code on the invoice. Which is it?",
    ],
)
def test_a_request_for_a_code_is_an_hs_lookup(question):
    assert asks_for_hs_code(question)


@pytest.mark.parametrize(
    "question",
    [
        # "sa" is a French possessive, not the Spanish "SA" of "código SA".
        "Il faut faire une déclaration EEI pour sa caisse à outils ?",
        "Le client doit pouvoir annuler sa commande : quel libellé pour le bouton ?",
        # A code named, none asked for.
        "Mon transitaire s'est trompé de position tarifaire : est-il responsable ?",
        "what if one digit of the HS code is wrong on the origin declaration?",
        "What penalty does Benin's customs code set for smuggling?",
        "L'administration a tranché sur le classement tarifaire de nos articles : recours ?",
        # A code the user already has.
        "What is the duty on HS 8471.30 in Canada?",
        "quel droit pour le code SH 0901 au Sénégal ?",
    ],
)
def test_a_code_named_but_not_asked_for_is_not(question):
    assert not asks_for_hs_code(question)


@pytest.mark.skipif(not DEV.exists(), reason="the shared dev set is not beside the repository")
def test_every_dev_question_routes_as_its_sources_say():
    """Routed to the lookup exactly when the item's source is the nomenclature, on the
    query the assistant routes (follow-ups merged with the previous question)."""
    items = load_items(DEV)
    wrong = [
        i.id
        for i in items
        if asks_for_hs_code(retrieval_query(i)) != ("harmonized-system.csv" in i.sources)
    ]
    assert wrong == []
    assert sum("harmonized-system.csv" in i.sources for i in items) >= 10


def test_the_product_keeps_its_own_words_and_script():
    assert product_description("What is the HS code for 冷冻虾?") == "冷冻虾"
    assert product_description("code SH des crevettes congelées ?") == "crevettes congelées"
    assert product_description("HS code for frozen shrimp") == "frozen shrimp"

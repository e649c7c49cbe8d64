"""Sentence splitting and non-sentence filtering on text copied from corpus/.

Each excerpt names the file it comes from; the few French abbreviations the corpus does
not contain ("p. ex.", "cf.", "M.") are tested on sentences written in the same style.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.sentences import MAX_SENTENCE, is_sentence, split_sentences

# --- abbreviations and numbers are not sentence ends ------------------------------------

ENGLISH = [
    pytest.param(
        # us-ita-country-commercial-guides-2015/colombia--us-export-controls.md
        "U.S. exporters should be aware that the U.S. Government may prohibit the export of "
        "certain products to Colombia or require an export license. The Department of "
        "Commerce’s Bureau of Industry and Security’s (BIS) Office of Export Enforcement "
        "licenses most controlled product and technology exports.",
        [
            "U.S. exporters should be aware that the U.S. Government may prohibit the export "
            "of certain products to Colombia or require an export license.",
            "The Department of Commerce’s Bureau of Industry and Security’s (BIS) Office of "
            "Export Enforcement licenses most controlled product and technology exports.",
        ],
        id="U.S.",
    ),
    pytest.param(
        # uk-trade-tariff-roo-cpc/customs-procedure-codes/uk-cpc-07xx.md
        "Release for free circulation is dependent on the application of customs formalities "
        "relating to the release of the goods. This includes the application of commercial "
        "policy measures, including any prohibitions or restrictions (Article 201, EU Reg. No. "
        "952/2013 (UCC)).",
        [
            "Release for free circulation is dependent on the application of customs "
            "formalities relating to the release of the goods.",
            "This includes the application of commercial policy measures, including any "
            "prohibitions or restrictions (Article 201, EU Reg. No. 952/2013 (UCC)).",
        ],
        id="Reg. No.",
    ),
    pytest.param(
        # us-ecfr-export-customs/15cfr-part-30.md
        "(d) A shipment destined for a country listed in Country Group E:1 or E:2 as set forth "
        "in Supplement No. 1 to 15 CFR part 740 shall require EEI filings regardless of value "
        "unless such shipment is eligible for an exemption in § 30.37(y) and does not require "
        "a license by BIS or any other Federal Government Agency.",
        [
            "(d) A shipment destined for a country listed in Country Group E:1 or E:2 as set "
            "forth in Supplement No. 1 to 15 CFR part 740 shall require EEI filings regardless "
            "of value unless such shipment is eligible for an exemption in § 30.37(y) and does "
            "not require a license by BIS or any other Federal Government Agency."
        ],
        id="No. 1, § 30.37(y)",
    ),
    pytest.param(
        # us-ecfr-export-customs/19cfr-part-191.md
        "(c)  No deduction of 1 percent will be made in drawback claims under section 313(d) "
        "of the Act, as amended (19 U.S.C. 1313(d)).",
        [
            "(c) No deduction of 1 percent will be made in drawback claims under section "
            "313(d) of the Act, as amended (19 U.S.C. 1313(d))."
        ],
        id="313(d), U.S.C.",
    ),
    pytest.param(
        # us-ita-country-commercial-guides-2015/argentina--used-capital-goods.md
        "This limitation applies to many products, including used medical equipment, used "
        "vehicles, remanufactured parts, tires, boats, etc. In some specific cases, there are "
        "exceptions; e.g., mining machinery.",
        [
            "This limitation applies to many products, including used medical equipment, used "
            "vehicles, remanufactured parts, tires, boats, etc.",
            "In some specific cases, there are exceptions; e.g., mining machinery.",
        ],
        id="etc. at an end, e.g.",
    ),
    pytest.param(
        # us-ita-country-commercial-guides-2015/argentina--import-export-documentation.md
        "Freight forwarding and/or agents' fees cannot be shown on airway bills on a freight "
        "collect basis; i.e. the fees must be prepaid.",
        [
            "Freight forwarding and/or agents' fees cannot be shown on airway bills on a "
            "freight collect basis; i.e. the fees must be prepaid."
        ],
        id="i.e.",
    ),
    pytest.param(
        # us-ita-country-commercial-guides-2015/china--project-financing.md
        "If a priority project exists for which you wish to consider U.S. sources of goods and "
        "services, please contact Mr. Geoff Jackson, Regional Director for Asia/Pacific, at "
        "USTDA's Arlington, VA office. Tel: (703) 875-4357, Fax: (703) 875-4009.",
        [
            "If a priority project exists for which you wish to consider U.S. sources of goods "
            "and services, please contact Mr. Geoff Jackson, Regional Director for "
            "Asia/Pacific, at USTDA's Arlington, VA office."
        ],
        id="Mr., and a Tel: line dropped",
    ),
    pytest.param(
        # us-ecfr-export-customs/19cfr-part-162.md
        "(a)  The following definitions, regulations, and criteria are designed to establish "
        "and implement procedures required by section 6079 of the Anti-Drug Abuse Act of "
        "1988, Pub. L. 100-690, title VI (102 Stat. 4181). They are intended to supplement "
        "existing law and procedures relative to the forfeiture of property under the "
        "identified statutory authority.",
        [
            "(a) The following definitions, regulations, and criteria are designed to "
            "establish and implement procedures required by section 6079 of the Anti-Drug "
            "Abuse Act of 1988, Pub. L. 100-690, title VI (102 Stat. 4181).",
            "They are intended to supplement existing law and procedures relative to the "
            "forfeiture of property under the identified statutory authority.",
        ],
        id="Pub. L., Stat.",
    ),
    pytest.param(
        # us-ita-country-commercial-guides-2015/brazil--electronic-commerce.md
        "A total of 88.3 million orders were placed in 2013, a 32% increase compared to the "
        "previous year. Throughout the year, 9.1 million people made their first online "
        "purchase.",
        [
            "A total of 88.3 million orders were placed in 2013, a 32% increase compared to "
            "the previous year.",
            "Throughout the year, 9.1 million people made their first online purchase.",
        ],
        id="88.3 million",
    ),
    pytest.param(
        # uk-trade-tariff-roo-cpc/rules-of-origin/uk-roo-kosovo.md, shortened, with a short
        # second paragraph run onto the same line (dropped as too short to quote)
        "1. The discovery of slight discrepancies between the statements made in the proof of "
        "origin and those made in the documents submitted to the customs office shall not "
        "ipso facto render the proof of origin null and void. 2. This applies too.",
        [
            "1. The discovery of slight discrepancies between the statements made in the proof "
            "of origin and those made in the documents submitted to the customs office shall "
            "not ipso facto render the proof of origin null and void.",
        ],
        id="list marker 1.",
    ),
]


@pytest.mark.parametrize(("text", "expected"), ENGLISH)
def test_english_abbreviations_and_numbers_do_not_end_sentences(text, expected):
    assert split_sentences(text, "en") == expected


FRENCH = [
    pytest.param(
        # ohada-cemac-benin-fr/cemac-traite-revise.md
        "Le prélèvement est effectué de plein droit par la B.E.A.C. à l’initiative du "
        "Président de la Commission dès lors qu’un Etat membre n’a pas effectué les "
        "versements auxquels il est astreint. Notification en est faite au Ministre des "
        "Finances de l’Etat concerné.",
        2,
        "Le prélèvement est effectué de plein droit par la B.E.A.C. à l’initiative",
        id="B.E.A.C.",
    ),
    pytest.param(
        # fr-service-public-pro/F23455_vente-en-ligne-e-commerce.md
        "- toute prestation, représentant le travail rémunéré d'une personne (formation en "
        "ligne, dépannage informatique, etc.), y compris les services d'hébergement, de "
        "transport, de restauration et de loisirs.",
        1,
        "toute prestation, représentant le travail rémunéré d'une personne (formation en "
        "ligne, dépannage informatique, etc.), y compris",
        id="etc. inside",
    ),
    pytest.param(
        # Not in the corpus: "art.", "al." and "cf." in the style of the OHADA texts.
        "Conformément à l'art. 5 du présent Acte uniforme, cf. art. 12 al. 2, le vendeur est "
        "tenu de livrer la marchandise. Il doit aussi en garantir la conformité au contrat.",
        2,
        "Conformément à l'art. 5 du présent Acte uniforme, cf. art. 12 al. 2, le vendeur",
        id="art., cf., al.",
    ),
    pytest.param(
        # Not in the corpus: "p. ex." and "M.".
        "Les produits soumis à accises (p. ex. les vins) sont déclarés par M. Dupont, "
        "représentant en douane. Le formulaire est déposé au bureau de douane compétent.",
        2,
        "Les produits soumis à accises (p. ex. les vins) sont déclarés par M. Dupont,",
        id="p. ex., M.",
    ),
    pytest.param(
        # The quoted mention is from uk-trade-tariff-roo-cpc/rules-of-origin/
        # uk-roo-cotedivoire.md; the sentences around it are not.
        "Le document porte la mention ‘Application de l’art. 8, para. 1 ou 2, du protocole "
        "no 1 à l’APE Côte d’Ivoire-UK’. Elle figure dans la case 7.",
        2,
        "Le document porte la mention ‘Application de l’art. 8, para. 1 ou 2, du protocole",
        id="art. 8, para. 1",
    ),
]


@pytest.mark.parametrize(("text", "count", "first_start"), FRENCH)
def test_french_abbreviations_do_not_end_sentences(text, count, first_start):
    sentences = split_sentences(text, "fr", keep_all=True)
    assert len(sentences) == count
    assert sentences[0].startswith(first_start)


def test_a_cut_at_an_article_reference_is_avoided_where_pysbd_alone_cuts():
    # uk-trade-tariff-roo-cpc/customs-procedure-codes/uk-apc-F.md: a code line, no sentence.
    line = (
        "F05: Relief from import duties and from VAT for returned goods (Art. 203 of the "
        "Code and Art. 143(1)(e) (Directive 2006/112/EC)"
    )
    assert split_sentences(line, "en", keep_all=True) == [line]
    assert split_sentences(line, "en") == []  # verbless, no full stop


def test_ordinary_sentences_survive():
    # The first sentence is the example; the others are from uk-apc-C.md and
    # colombia--direct-marketing.md.
    english = (
        "If you are no longer VAT registered, you must tell HMRC within 30 days. "
        "This Additional Procedure Code only grants relief from customs duty. "
        "The Colombian Congress passed the postal law in December 2009."
    )
    assert split_sentences(english, "en") == [
        "If you are no longer VAT registered, you must tell HMRC within 30 days.",
        "This Additional Procedure Code only grants relief from customs duty.",
        "The Colombian Congress passed the postal law in December 2009.",
    ]
    # ohada-cemac-benin-fr/ohada-acte-uniforme-droit-commercial-general-2010.md
    french = (
        "Lorsque le vendeur n’est pas tenu de livrer la marchandise en un lieu particulier, il "
        "doit la tenir à la disposition de l’acheteur soit au lieu où elle a été fabriquée ou "
        "stockée, soit au siège de son activité de vendeur.\n"
        "L’offre prend effet lorsqu’elle parvient à son destinataire."
    )
    assert split_sentences(french, "fr") == french.split("\n")


def test_list_lines_are_units_and_only_verbless_items_are_dropped():
    # uk-great-export-advice/17_set-up-an-overseas-operation.md
    text = (
        "Opening an office overseas is often a long-term project for small to medium "
        "businesses. It can:\n"
        "- lower your costs over time\n"
        "- increase your market penetration\n"
        "- make customers feel you’re committed to their market"
    )
    units = split_sentences(text, "en", keep_all=True)
    assert units[-3:] == [
        "lower your costs over time",
        "increase your market penetration",
        "make customers feel you’re committed to their market",
    ]
    assert split_sentences(text, "en") == [
        "Opening an office overseas is often a long-term project for small to medium businesses.",
        "make customers feel you’re committed to their market",
    ]


def test_a_list_item_with_its_own_verb_is_kept():
    # uk-trade-tariff-roo-cpc/rules-of-origin/uk-roo-oct.md
    item = "2. they sail under the flag of an Overseas Territory or of the UK;"
    assert split_sentences(item, "en") == [item]


def test_eu_list_markers_alone_on_a_line_join_their_item():
    # eu-eurlex-vat-ecommerce/vat-directive-2006-112.fr.md
    text = (
        "a)\nles services de télécommunication;\n"
        "c)\nles services fournis par voie électronique, notamment ceux visés à l'annexe II.\n"
        "Lorsque le prestataire de services et le preneur communiquent par courrier "
        "électronique, cela ne signifie pas en soi que le service est un service fourni par "
        "voie électronique."
    )
    units = split_sentences(text, "fr", keep_all=True)
    assert units[0] == "a) les services de télécommunication;"
    assert split_sentences(text, "fr") == [units[-1]]


def test_hard_wrapped_lines_are_one_sentence():
    # us-ita-country-commercial-guides-2015/colombia--market-overview.md, wrapped as found
    text = (
        "With the elimination of tariffs on U.S. industrial exports ranging from 7.4 to 14.6 "
        "percent, this will\nsubstantially increase U.S. exports."
    )
    assert split_sentences(text, "en") == [text.replace("\n", " ")]


def test_long_legal_sentences_are_trimmed_at_a_word():
    # us-ecfr-export-customs/19cfr-part-190.md
    text = (
        "(a) —(1)  Unless otherwise specified, a complete drawback claim under this part will "
        "consist of the successful electronic transmission to CBP of the drawback entry (as "
        "described in paragraph (a)(2) of this section), applicable Notice(s) of Intent to "
        "Export, Destroy, or Return Merchandise for Purposes of Drawback on CBP Form 7553, "
        "applicable import entry data, and evidence of exportation or destruction as provided "
        "for under subpart G of this part, and all other documents the claimant holds in "
        "support of the claim, including the records of the manufacture of the goods."
    )
    [sentence] = split_sentences(text, "en")
    assert len(text) > MAX_SENTENCE
    assert sentence.endswith(" …")
    assert len(sentence) <= MAX_SENTENCE + 2
    assert " ".join(text.split()).startswith(sentence[:-2])  # cut between two words


@pytest.mark.parametrize("language", ["pt", "und", "", "fr-FR"])
def test_any_language_code_is_segmented(language):
    text = "The goods fall under EU Reg. No. 952/2013 (UCC). The declarant must keep records."
    assert len(split_sentences(text, language)) == 2


# --- what is not a sentence ---------------------------------------------------------------

NOT_SENTENCES = [
    # uk-trade-tariff-roo-cpc/rules-of-origin/uk-roo-canada.md
    "Link: Trade with Canada — https://www.gov.uk/guidance/summary-of-the-uk-canada-trade-"
    "continuity-agreement",
    # uk-great-export-advice/40_ip-protection-in-multiple-countries.md
    "[exporting your intellectual property](https://www.gov.uk/guidance/exporting-your-"
    'intellectual-property "Exporting your intellectual property - GOV.UK")',
    # us-ita-country-commercial-guides-2015 (a link on its own)
    "[http://www.bis.doc.gov/](http://www.bis.doc.gov/)",
    "https://www.gov.uk/guidance/summary-of-the-uk-israel-trade-and-partnership-agreement",
    # us-ecfr-export-customs/19cfr-part-141.md
    "[T.D. 73-175, 38 FR 17447, July 2, 1973, as amended by T.D. 82-134, 47 FR 32419, July "
    "27, 1982; T.D. 92-58, 57 FR 27160, June 18, 1992]",
    "73-175, 38 FR 17447, July 2, 1973, as amended by T.D. 82-134",
    "**Source:** Source: T.D. 73-175, 38 FR 17447, July 2, 1973, unless otherwise noted.",
    "**Authority:** Authority: 19 U.S.C. 66, 1202 (General Note 3(i), Harmonized Tariff "
    "Schedule of the United States), 1624, 3314;",
    # headings
    "# Acte uniforme portant sur le droit commercial général (AUDCG)",
    "COUNCIL DIRECTIVE 2006/112/EC of 28 November 2006",
    "§ 30.37   Miscellaneous exemptions.",
    "Article 9 — Right of withdrawal",
    "Chapitre 1 : Définition du commerçant et des actes de commerce",
    # tables and page furniture
    "| Coverage | AI statement code | Details to be declared |",
    "| GEN31 | Enter the name and address of the non-EU owner of the goods followed by the "
    "type of ownership evidence held.",
    # eu-eurlex-vat-ecommerce/vat-directive-2006-112.fr.md, uk-trade-tariff-roo-cpc/
    "▼M16 —————",
    "$LegislativeList",
    "{{ Articles 16 to 31 }}",
    "- Valid from: 2021-01-01",
    # verbless list fragments and short bits
    "lower your costs over time",
    "synthetic man-made staple fibres of polyacrylonitrile,",
    "(k) Regional stability controlled items.",
    "les services de télécommunication;",
    "Goods Manifest:",
]


@pytest.mark.parametrize("text", NOT_SENTENCES)
def test_non_sentences_are_recognised(text):
    assert not is_sentence(text, "fr" if "é" in text else "en")


SENTENCES = [  # from corpus/, but for the example and the "Article 5" sentence
    "If you are no longer VAT registered, you must tell HMRC within 30 days.",
    "This Additional Procedure Code only grants relief from customs duty.",
    "Please see [Notice 236](https://www.gov.uk/government/publications/notice-236-returned-"
    "goods-relief) for additional conditions for eligibility for RGR.",
    "(c) No deduction of 1 percent will be made in drawback claims under section 313(d) of "
    "the Act, as amended (19 U.S.C. 1313(d)).",
    "Article 5 of this Directive applies to distance sales of goods imported from third "
    "territories.",
    "This part implements the duty preference and related Customs provisions applicable to "
    "imported goods under the North American Free Trade Agreement Implementation Act (107 "
    "Stat. 2057) (the Act).",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_sentences_are_recognised(text):
    assert is_sentence(text, "en")


def test_french_sentences_are_recognised():
    assert is_sentence("Le vendeur est tenu de livrer la marchandise au lieu convenu.", "fr")
    assert is_sentence("Elle établit dans ce sens un rapport au Conseil des Ministres.", "fr")
    assert is_sentence("L’acheteur a droit à la résolution du contrat de vente.", "fr")


def test_passage_of_links_and_trailers_yields_only_its_sentence():
    # uk-trade-tariff-roo-cpc/rules-of-origin/uk-roo-canada.md and 19cfr-part-141.md
    passage = (
        "- Link: Trade with Canada — https://www.gov.uk/guidance/summary-of-the-uk-canada-"
        "trade-continuity-agreement\n"
        "> [T.D. 73-175, 38 FR 17447, July 2, 1973, as amended by CBP Dec 17-13, 82 FR "
        "45406, Sept. 28, 2017]\n"
        "| Coverage | AI statement code | Details to be declared |\n"
        "The customs authorities may grant the status of approved exporter subject to any "
        "conditions which they consider appropriate."
    )
    assert split_sentences(passage, "en") == [
        "The customs authorities may grant the status of approved exporter subject to any "
        "conditions which they consider appropriate."
    ]


def test_threads_split_as_one_thread_does():
    passages = [text for text, _ in (p.values for p in ENGLISH)] * 20
    serial = [split_sentences(p, "en") for p in passages]
    start = threading.Barrier(8)

    def run(chunk: list[str]) -> list[list[str]]:
        start.wait()
        return [split_sentences(p, "en") for p in chunk]

    with ThreadPoolExecutor(max_workers=8) as pool:
        parts = list(pool.map(run, [passages[i::8] for i in range(8)]))
    threaded = [None] * len(passages)
    for i, part in enumerate(parts):
        threaded[i::8] = part
    assert threaded == serial

"""Citation links that land: each passage of the shipped corpus links to the most precise
official page its source offers (ingest/links.py says which, per source)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from assistant.settings import PROJECT_ROOT, Settings
from ingest.documents import discover
from ingest.index import Indexer
from ingest.links import document_url, section_url

CORPUS = PROJECT_ROOT / "corpus"
COMMIT = "35b32591604dd867ba1929fd85fd179273966eee"

# Sources whose publisher offers no page for one text that could be checked from here: their
# passages link to the publisher's site (each citation's "Read the passage in full" opens
# the passage itself). Any other link to a site's home page is a mistake.
SITE_ONLY = {
    "ohada-cemac-benin-fr": "https://www.ohada.org",  # the OHADA texts; none for Benin, CEMAC
    "uk-trade-tariff-roo-cpc": "https://www.trade-tariff.service.gov.uk",  # one text, many files
}


@pytest.mark.parametrize(
    ("url", "section", "expected"),
    [
        (
            "https://www.ecfr.gov/current/title-15/part-30",
            "15 CFR 30.37 — Miscellaneous exemptions",
            "https://www.ecfr.gov/current/title-15/section-30.37",
        ),
        (
            "https://www.ecfr.gov/current/title-19/part-141",
            "19 CFR 141.0a — Definitions",
            "https://www.ecfr.gov/current/title-19/section-141.0a",
        ),
        (
            "https://www.ecfr.gov/current/title-15/part-30",
            "15 CFR 30.11-30.14",
            "https://www.ecfr.gov/current/title-15/section-30.11",
        ),
        (
            "https://www.ecfr.gov/current/title-19/part-142",
            "Subpart C — Special Permit for Immediate Delivery",
            "https://www.ecfr.gov/current/title-19/part-142/subpart-C",
        ),
        (
            "https://www.ecfr.gov/current/title-15/part-30",
            "15 CFR PART 30—FOREIGN TRADE REGULATIONS",
            "https://www.ecfr.gov/current/title-15/part-30",
        ),
        (
            "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:02011L0083-20260927",
            "Article 9 — Right of withdrawal",
            "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:02011L0083-20260927"
            "#:~:text=Article%209,-Right%20of%20withdrawal",
        ),
        (
            "https://eur-lex.europa.eu/legal-content/FR/TXT/?uri=CELEX:02019R2026-20200818",
            "Article premier",
            "https://eur-lex.europa.eu/legal-content/FR/TXT/?uri=CELEX:02019R2026-20200818"
            "#:~:text=Article%20premier",
        ),
        (  # a title whose words hold the fragment's syntax characters
            "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32018L1910",
            "ANNEX I — Non-EU, one-stop shop",
            "https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32018L1910"
            "#:~:text=ANNEX%20I,-Non%2DEU%2C%20one%2Dstop%20shop",
        ),
        (  # another site's "Article 9" is left alone
            "https://www.service-public.fr/professionnels-entreprises/vosdroits/F31118",
            "Article 9",
            "https://www.service-public.fr/professionnels-entreprises/vosdroits/F31118",
        ),
    ],
)
def test_section_url(url, section, expected):
    assert section_url(url, section) == expected


def test_document_url_from_front_matter():
    repo = {
        "source_repo": "https://github.com/uktrade/directory-ui-export-readiness",
        "source_commit": COMMIT,
        "source_path": "article/templates/article/markdown/01_do-research-first.md",
    }
    assert document_url(repo) == (
        f"https://github.com/uktrade/directory-ui-export-readiness/blob/{COMMIT}/"
        "article/templates/article/markdown/01_do-research-first.md"
    )
    assert document_url({**repo, "source_url": ""}) == ""  # "no official page", said
    assert document_url({"source_url": "javascript:alert(1)"}) == ""
    assert document_url({"url": "https://example.org/a"}) == "https://example.org/a"
    # A folder described in prose, not a file: the front matter says nothing usable.
    assert document_url({**repo, "source_path": "content/documents/x/ (metadata.json)"}) is None
    assert document_url({"title": "A guide"}) is None


@pytest.fixture(scope="module")
def shipped_chunks() -> list:
    """Every chunk of the shipped corpus, as ingest makes them (no index needed)."""
    settings = Settings(_env_file=None, corpus_dir=CORPUS)
    indexer = Indexer(settings, None)
    chunks = []
    for file in discover(CORPUS, CORPUS, indexer.manifest):
        chunks += indexer.chunks_of(file)[1]
    return chunks


def test_every_shipped_passage_links_to_its_most_precise_page(shipped_chunks):
    checked: dict[str, int] = {}
    for chunk in shipped_chunks:
        meta = chunk.metadata
        folder, url, section = meta["source"].split("/")[0], meta["url"], meta["section"]
        where = f"{meta['source']} § {section!r}: {url!r}"
        if cfr := re.match(r"^\d+ CFR (\d+\.\d+[a-z]?)", section):
            assert url.endswith(f"/section-{cfr[1]}"), where
        elif section.startswith("Subpart ") and "ecfr.gov" in url:
            assert re.search(r"/part-[\w.]+/subpart-[A-Z]+$", url), where
        elif (article := re.match(r"^(Article|ANNEXE?) \w+", section)) and "eur-lex" in url:
            label = article[0].replace(" ", "%20")
            assert re.search(rf"#:~:text={label}(,-|$)", url), where
        if "service-public.fr" in url:
            fiche = re.match(r"F\d+", meta["source"].split("/")[-1])
            assert url.endswith(f"/vosdroits/{fiche[0]}"), where
        if url.startswith("https://github.com/"):
            assert re.search(r"/blob/[0-9a-f]{40}/\S+\.md$", url), where
        if not urlsplit(url).path.strip("/") and url:
            assert SITE_ONLY.get(folder) == url, f"a site's home page: {where}"
        checked[folder] = checked.get(folder, 0) + 1
    assert len(checked) == len([p for p in CORPUS.iterdir() if p.is_dir() and p.name[0] != "."])


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("benin-code-des-douanes-2014.md", ""),  # no official page known: none shown
        ("cemac-traite-revise.md", ""),
        ("ohada-acte-uniforme-droit-commercial-general-2010.md", "https://www.ohada.org"),
    ],
)
def test_west_african_texts_link_only_where_their_publisher_is(shipped_chunks, document, expected):
    urls = {
        c.metadata["url"]
        for c in shipped_chunks
        if c.metadata["source"] == f"ohada-cemac-benin-fr/{document}"
    }
    assert urls == {expected}

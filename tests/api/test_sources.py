"""GET /api/sources/{source}: a cited document opens at its passage, and nothing else opens."""

from __future__ import annotations

import re

import pytest

from assistant.library import anchor_for

pytestmark = pytest.mark.slow

GUIDE = "guides/borrow-against-assets.md"


def test_a_citations_link_opens_the_document_at_its_section(client):
    citation = client.post(
        "/api/chat", json={"message": "How much of an invoice can I borrow with factoring?"}
    ).json()["citations"][0]
    path, fragment = citation["source_url"].split("#")
    body = client.get(path).json()
    assert body["source"] == citation["source"] and body["title"] == citation["title"]
    assert body["publisher"] == citation["publisher"] and body["licence"] == citation["licence"]
    assert body["anchor"] == fragment
    cited = next(s for s in body["sections"] if s["anchor"] == fragment)
    assert cited["title"] == citation["section"]
    assert citation["snippet"].split(" … ")[0] in cited["text"]


def test_sections_are_rebuilt_in_order_without_the_context_line(client):
    body = client.get(f"/api/sources/{GUIDE}").json()
    assert [s["title"] for s in body["sections"]] == [
        "Borrow against assets",
        "Borrow against invoices",
        "Borrow against stock",
    ]
    assert body["anchor"] is None and body["total_sections"] == 3
    assert body["sections"][2]["text"].startswith("Asset-based lending lets you raise money")


def test_a_browser_gets_a_page_with_anchors_and_a_strict_policy(client):
    response = client.get(
        f"/api/sources/{GUIDE}",
        params={"section": "Borrow against stock"},
        headers={"accept": "text/html,application/xhtml+xml"},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert '<section id="s-borrow-against-stock" class="cited"' in page
    assert '<a href="#s-borrow-against-stock">' in page
    assert (
        client.get(f"/api/sources/{GUIDE}", params={"format": "html"}).text
        == client.get(f"/api/sources/{GUIDE}", headers={"accept": "text/html"}).text
    )


def test_document_text_is_escaped_in_the_page(client):
    body = client.get(f"/api/sources/{GUIDE}", params={"format": "html"}).text
    assert "<script" not in body.lower()
    assert re.search(r'<h1 dir="auto">Borrow against assets</h1>', body)


@pytest.mark.parametrize(
    "source",
    [
        "../var/lexical.sqlite",
        "guides/../../etc/passwd",
        "guides%2F.%2Fborrow-against-assets.md",
        "guides//borrow-against-assets.md",
        "..%2F..%2Fetc%2Fpasswd",
        "guides\\..\\secret",
        "%2Fetc%2Fpasswd",
    ],
)
def test_paths_that_try_to_leave_the_index_are_refused(client, source):
    response = client.get(f"/api/sources/{source}")
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] in ("invalid_source", "source_not_found", "not_found")


def test_unknown_document(client):
    response = client.get("/api/sources/guides/no-such-file.md")
    assert response.status_code == 404 and response.json()["error"]["code"] == "source_not_found"


def test_a_long_document_is_sent_around_the_cited_section(client):
    body = client.get(
        "/api/sources/hs-nomenclature/harmonized-system.csv", params={"limit": 1}
    ).json()
    assert body["total_sections"] > 1 and len(body["sections"]) == 1 and body["first"] == 0
    last = client.get(
        "/api/sources/hs-nomenclature/harmonized-system.csv", params={"limit": 200}
    ).json()["sections"][-1]["title"]
    around = client.get(
        "/api/sources/hs-nomenclature/harmonized-system.csv",
        params={"limit": 1, "section": last},
    ).json()
    assert [s["title"] for s in around["sections"]] == [last]
    assert around["anchor"] == anchor_for(last) and around["first"] == body["total_sections"] - 1

"""The helpdesk API: keys, search with highlights, suggested replies, reviews."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from assistant.api.errors import ApiError
from assistant.api.routes.helpdesk import require_api_key
from assistant.channels.helpdesk import highlight
from assistant.ratelimit import Budgets
from assistant.settings import Settings
from tests.channels.conftest import HELPDESK_KEY

KEY = {"X-API-Key": HELPDESK_KEY}
FACTORING = "How much of an invoice can I borrow with invoice factoring?"

ENDPOINTS = [
    ("get", "/api/helpdesk/search", {"params": {"q": "invoice"}}),
    ("post", "/api/helpdesk/suggest", {"json": {"question": FACTORING}}),
    ("get", "/api/helpdesk/reviews", {}),
]


def test_highlight_marks_folded_matches_and_escapes_the_rest():
    text = "Invoices <b>& DÉCLARATION</b> of invoice-factoring"
    marked = highlight(text, "invoice declaration")
    assert marked.html == (
        "<mark>Invoices</mark> &lt;b&gt;&amp; <mark>DÉCLARATION</mark>&lt;/b&gt; of "
        "<mark>invoice</mark>-factoring"
    )
    assert [text[start:end] for start, end in marked.spans] == [
        "Invoices",
        "DÉCLARATION",
        "invoice",
    ]
    assert marked.terms == ["Invoices", "DÉCLARATION", "invoice"]


def test_no_configured_key_means_closed():
    closed = Settings(_env_file=None)
    app = SimpleNamespace(state=SimpleNamespace(budgets=Budgets.from_settings(closed)))
    request = Request({"type": "http", "client": ("192.0.2.1", 1), "headers": [], "app": app})
    with pytest.raises(ApiError) as raised:
        require_api_key(request, closed, "anything")
    assert raised.value.status_code == 401


@pytest.mark.slow
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}])
@pytest.mark.parametrize(("method", "path", "extra"), ENDPOINTS)
def test_helpdesk_api_needs_a_key(client, headers, method, path, extra):
    response = getattr(client, method)(path, headers=headers, **extra)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.slow
def test_search_ranks_passages_with_their_sources_and_marks_the_words(client):
    response = client.get(
        "/api/helpdesk/search", params={"q": "invoice factoring", "k": 3}, headers=KEY
    )
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "invoice factoring"
    results = body["results"]
    assert 1 <= len(results) <= 3
    assert [r["n"] for r in results] == list(range(1, len(results) + 1))
    first = results[0]
    assert first["source"] == "guides/borrow-against-assets.md"
    assert first["title"] == "Borrow against assets" and first["date"] == "2018"
    assert first["url"] == "https://example.org/guides" and first["jurisdiction"] == "UK"
    assert first["source_url"].startswith("/api/sources/guides/borrow-against-assets.md")
    words = {first["snippet"][start:end].lower() for start, end in first["highlights"]}
    assert words <= {"invoice", "invoices", "factoring"} and "factoring" in words
    assert "<mark>factoring</mark>" in first["html"]
    assert "factoring" in first["matched"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("params", "field", "expected"),
    [
        ({"q": "export", "jurisdiction": "US"}, "jurisdiction", "US"),
        ({"q": "consommateur rétractation", "lang": "fr"}, "language", "fr"),
        ({"q": "payment", "topic": "payment"}, "topics", "payment"),
    ],
)
def test_search_filters(client, params, field, expected):
    results = client.get("/api/helpdesk/search", params=params, headers=KEY).json()["results"]
    assert results
    for result in results:
        value = result[field]
        assert expected in value if isinstance(value, list) else value == expected


@pytest.mark.slow
def test_suggest_gives_a_cited_reply_to_paste(client):
    response = client.post("/api/helpdesk/suggest", json={"question": FACTORING}, headers=KEY)
    assert response.status_code == 200
    body = response.json()
    assert not body["refused"] and body["language"] == "en"
    assert body["reply"].startswith("Here is what the sources say:")
    assert "90%" in body["reply"]
    assert (
        "Sources:\n[1] Borrow against assets — Borrow against invoices (2018)\n"
        "https://example.org/guides"
    ) in body["reply"]
    assert body["citations"][0]["source"] == "guides/borrow-against-assets.md"


@pytest.mark.slow
def test_reviews_list_the_answers_rated_down(client):
    down = client.post("/api/chat", json={"message": FACTORING}).json()
    up = client.post("/api/chat", json={"message": "Do I need to file EEI for Canada?"}).json()
    for chat, rating, comment in ((down, "down", "The limit is not 90% for us."), (up, "up", "")):
        feedback = {
            "conversation_id": chat["conversation_id"],
            "turn": chat["turn"],
            "rating": rating,
            "comment": comment,
        }
        assert client.post("/api/feedback", json=feedback).status_code == 201
    reviews = client.get("/api/helpdesk/reviews", headers=KEY).json()
    assert reviews[0]["conversation_id"] == down["conversation_id"]
    assert reviews[0]["question"] == FACTORING and reviews[0]["answer"] == down["answer"]
    assert reviews[0]["comment"] == "The limit is not 90% for us."
    assert reviews[0]["citations"][0]["source"] == "guides/borrow-against-assets.md"
    assert up["conversation_id"] not in {r["conversation_id"] for r in reviews}


@pytest.mark.slow
def test_helpdesk_page_is_served_with_its_policy(client):
    redirect = client.get("/helpdesk", follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "helpdesk.html"
    page = client.get("/helpdesk")
    assert page.status_code == 200 and '<script src="helpdesk.js" defer>' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("helpdesk.js", "helpdesk.css"):
        assert client.get(f"/{asset}").status_code == 200


def test_the_openapi_document_declares_the_key_as_a_security_scheme(client):
    """Swagger UI's "Authorize" sends it with every helpdesk operation (/docs)."""
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HelpdeskKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schema["components"]["securitySchemes"]["HelpdeskKey"]["description"],
    }
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    helpdesk = [op for path, _, op in operations if path.startswith("/api/helpdesk/")]
    assert len(helpdesk) >= 10
    assert all(op.get("security") == [{"HelpdeskKey": []}] for op in helpdesk)
    assert not [
        (path, method)
        for path, method, op in operations
        if op.get("security") and not path.startswith("/api/helpdesk/")
    ]
    assert not [
        p for _, _, op in operations for p in op.get("parameters", []) if p["name"] == "X-API-Key"
    ]

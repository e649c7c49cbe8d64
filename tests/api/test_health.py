"""/healthz, /readyz, the page and the widget's script, and CORS for other sites."""

from __future__ import annotations

import pytest

from tests.api.conftest import open_client

pytestmark = pytest.mark.slow


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_the_index(client, sample_index):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] and body["documents"] == 7 and body["chunks"] > 7
    assert body["embedder"] == "sentence-transformers:all-MiniLM-L6-v2"
    assert body["llm"] == "offline"
    assert body["indexing"] == {
        "phase": "complete",
        "done": 0,
        "total": 0,
        "percent": 100,
        "dense_ready": True,
        "error": None,
    }


def test_the_page_and_its_files_are_served_without_anything_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text
    for name in ("chat-core.js", "app.js", "chat.css", "style.css", "widget.css"):
        response = client.get(f"/{name}")
        assert response.status_code == 200, name
        assert "https://" not in response.text.replace("https?:", ""), name
    assert client.get("/pyproject.toml").status_code == 404
    assert client.get("/..%2Fpyproject.toml").status_code == 404


def test_widget_script_bundles_the_chat(client):
    response = client.get("/widget.js")
    assert response.headers["content-type"].startswith("text/javascript")
    assert "window.ExportAssistant" in response.text and "data-export-assistant" in response.text


def test_other_sites_are_refused_by_default(client):
    preflight = client.options(
        "/api/chat/stream",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_allowed_origins_may_call_the_api(sample_index, embeddings):
    settings = sample_index.model_copy(update={"cors_origins": ["https://shop.example"]})
    client = open_client(settings, embeddings, complete=False)
    try:
        preflight = client.options(
            "/api/chat/stream",
            headers={
                "Origin": "https://shop.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
        other = client.options(
            "/api/chat/stream",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers
    finally:
        client.__exit__(None, None, None)

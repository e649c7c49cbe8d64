"""Every response, page or JSON, success or error, carries the security headers; the
pages' Content-Security-Policy names no other origin."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.api.errors import install_error_handlers
from assistant.api.headers import PAGE_CSP, SecuredApp
from tests.api.conftest import open_client

KEY = "headers-test-key"
CONVERSATION = "00000000-0000-4000-8000-000000000000"
QUESTION = {"message": "How much of an invoice can I borrow with factoring?"}
GUIDE = "guides/borrow-against-assets.md"

# Sources a policy may name: none of them is another origin.
LOCAL_SOURCES = {"'self'", "'none'", "data:"}


@pytest.fixture(scope="module")
def client(sample_index, embeddings) -> Iterator[TestClient]:
    settings = sample_index.model_copy(
        update={
            "helpdesk_api_keys": [SecretStr(KEY)],
            "whatsapp_app_secret": SecretStr("headers-app-secret"),
            "whatsapp_verify_token": SecretStr("headers-verify"),
            "whatsapp_access_token": SecretStr("headers-access"),
            "whatsapp_phone_number_id": "123",
            "twilio_auth_token": SecretStr("headers-twilio"),
            "max_request_bytes": 2048,
        }
    )
    client = open_client(settings, embeddings)
    yield client
    client.__exit__(None, None, None)


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy as directive -> sources."""
    directives = response.headers["content-security-policy"].split(";")
    return {name: sources for name, *sources in (d.split() for d in directives if d.strip())}


def assert_secured(response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", response.url
    assert headers["referrer-policy"] == "no-referrer", response.url
    assert headers["x-frame-options"] == "SAMEORIGIN", response.url
    csp = policy(response)
    assert csp["frame-ancestors"] in (["'self'"], ["'none'"]), response.url
    named = {source for sources in csp.values() for source in sources}
    assert named <= LOCAL_SOURCES, (response.url, named - LOCAL_SOURCES)


PAGES = [
    ("/", "text/html"),
    ("/helpdesk", "text/html"),  # a redirect to helpdesk.html, followed
    ("/helpdesk.html", "text/html"),
    ("/widget.js", "text/javascript"),
    ("/chat-core.js", "text/javascript"),
    ("/style.css", "text/css"),
    (f"/api/sources/{GUIDE}?format=html", "text/html"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "media_type"), PAGES)
def test_pages_carry_a_local_only_policy(client, path, media_type):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert_secured(response)
    if media_type == "text/html":
        assert "default-src" in policy(response) and "script-src" not in policy(response)


REQUESTS = [
    ("GET", "/healthz", {}, 200),
    ("GET", "/readyz", {}, 200),
    ("GET", "/openapi.json", {}, 200),
    ("POST", "/api/chat", {"json": QUESTION}, 200),
    ("POST", "/api/chat/stream", {"json": QUESTION}, 200),
    (
        "POST",
        "/v1/chat/completions",
        {"json": {"messages": [{"role": "user", "content": "x"}]}},
        200,
    ),
    ("GET", "/v1/models", {}, 200),
    ("GET", f"/api/sources/{GUIDE}", {}, 200),
    ("GET", f"/api/conversations/{CONVERSATION}", {}, 404),
    ("POST", "/api/feedback", {"json": {}}, 422),
    (
        "POST",
        "/api/chat",
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        400,
    ),
    ("POST", "/api/chat", {"json": {"message": "x" * 4000}}, 413),
    ("GET", "/api/helpdesk/reviews", {"headers": {"X-API-Key": KEY}}, 200),
    ("GET", "/api/helpdesk/reviews", {"headers": {"X-API-Key": "wrong"}}, 401),
    ("GET", "/whatsapp/webhook", {"params": {"hub.mode": "subscribe"}}, 403),
    ("POST", "/whatsapp/webhook", {"json": {}}, 401),
    ("POST", "/twilio/whatsapp", {"data": {"From": "whatsapp:+1"}}, 401),
    ("GET", "/no-such-file.html", {}, 404),
    ("DELETE", "/api/chat", {}, 405),
]


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path", "options", "status"), REQUESTS)
def test_api_responses_and_errors_carry_the_headers(client, method, path, options, status):
    response = client.request(method, path, **options)
    assert response.status_code == status, response.text
    assert_secured(response)
    if not response.headers["content-type"].startswith("text/html"):
        assert policy(response) == {"default-src": ["'none'"], "frame-ancestors": ["'none'"]}


def test_an_unhandled_error_gets_the_headers_too():
    """Starlette answers a 500 outside the middleware stack; ``SecuredApp`` wraps it."""
    app = SecuredApp()
    install_error_handlers(app)

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    response = TestClient(app, raise_server_exceptions=False).get("/broken")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert_secured(response)


def test_no_page_loads_anything_from_a_cdn(client):
    """FastAPI's ReDoc would: it is off. /docs loads Swagger UI from this server."""
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "Export Assistant"
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-security-policy"] == PAGE_CSP
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs.js"} <= set(loaded)
    for url in loaded:
        assert url.startswith(("/", "data:")) and not url.startswith("//"), url
        if url.startswith("/"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.headers["content-type"].split(";")[0] in {"text/css", "text/javascript"}
    assert "SwaggerUIBundle" in client.get("/docs/swagger-ui-bundle.js").text
    assert client.get("/docs/../pyproject.toml").status_code == 404
    assert client.get("/docs/redoc.standalone.js").status_code == 404

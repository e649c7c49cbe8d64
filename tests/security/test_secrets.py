"""No secret is ever written to the log or sent back in a response.

Every secret is configured (LLM key, WhatsApp app secret, verify and access tokens,
Twilio token, helpdesk keys, the passwords in the database and Redis URLs), then the
app is started and taken through the paths that log: signed and forged webhooks, a
send Meta refuses, a language model that is down, a wrong helpdesk key, errors, and a
start against a database that is not there; logging is captured at DEBUG.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from assistant.api import create_app
from assistant.channels.twilio import twilio_signature
from assistant.cli import _log_config
from assistant.settings import masked_url
from tests.api.conftest import open_client
from tests.channels.conftest import sign, text_message
from tests.security.conftest import POSTGRES_PASSWORD, REDIS_PASSWORD
from tests.support.app_fixtures import ServerThread, wait_for
from tests.support.graph_server import GraphStandIn
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

SECRETS = {
    "llm_api_key": "sk-llm-secret-91c2f0",
    "whatsapp_app_secret": "wa-app-secret-5e7d12",
    "whatsapp_verify_token": "wa-verify-secret-33aa07",
    "whatsapp_access_token": "wa-access-secret-8b1f64",
    "twilio_auth_token": "twilio-secret-c4d0e9",
}
HELPDESK_KEYS = ["helpdesk-secret-a1b2c3", "helpdesk-secret-d4e5f6"]
ALL_SECRETS = [*SECRETS.values(), *HELPDESK_KEYS, POSTGRES_PASSWORD, REDIS_PASSWORD]
PHONE_NUMBER_ID = "1098765432"
TWILIO_URL = "https://assistant.example.com/twilio/whatsapp"


@pytest.fixture
def graph():
    stand_in = GraphStandIn(
        token=SECRETS["whatsapp_access_token"], paths={f"/v25.0/{PHONE_NUMBER_ID}/messages"}
    )
    stand_in.start()
    yield stand_in
    stand_in.stop()


def twilio_form(sender: str, body: str) -> list[tuple[str, str]]:
    return [("MessageSid", f"SM{free_port()}"), ("From", f"whatsapp:+{sender}"), ("Body", body)]


def server_side(records: list[logging.LogRecord]) -> list[str]:
    """The messages logged, but for the test client's own request lines (it logs the URLs
    it calls, the verify token's query string with them)."""
    return [
        record.getMessage()
        for record in records
        if not (record.name.startswith("httpx") and "http://testserver/" in record.getMessage())
    ]


def test_no_secret_in_logs_or_responses(
    sample_index, embeddings, postgres_url, redis_url, graph, caplog
):
    settings = sample_index.model_copy(
        update={
            **{name: SecretStr(value) for name, value in SECRETS.items()},
            "helpdesk_api_keys": [SecretStr(key) for key in HELPDESK_KEYS],
            "llm": "test-model",
            "llm_base_url": f"http://127.0.0.1:{free_port()}/v1",  # nothing listens
            "llm_timeout": 2.0,
            "database_url": postgres_url,
            "rate_limit_storage_url": redis_url,
            "rate_limit": "100/minute",
            "whatsapp_rate_limit": "100/minute",
            "whatsapp_phone_number_id": PHONE_NUMBER_ID,
            "whatsapp_graph_url": graph.url,
            "whatsapp_send_attempts": 2,
            "whatsapp_retry_seconds": 0.01,
            "twilio_webhook_url": TWILIO_URL,
        }
    )
    caplog.set_level(logging.DEBUG)
    responses = []
    client = open_client(settings, embeddings)
    try:

        def call(method: str, path: str, **options) -> int:
            response = client.request(method, path, **options)
            responses.append(response)
            return response.status_code

        assert call("GET", "/readyz") == 200
        assert call("POST", "/api/chat", json={"message": "What is factoring?"}) == 200
        assert call("POST", "/api/chat/stream", json={"message": "What is EEI?"}) == 200
        assert (
            call(
                "POST",
                "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": "EORI?"}]},
            )
            == 200
        )

        verify = {"hub.mode": "subscribe", "hub.challenge": "42"}
        assert call("GET", "/whatsapp/webhook", params={**verify, "hub.verify_token": "no"}) == 403
        token = SECRETS["whatsapp_verify_token"]
        assert call("GET", "/whatsapp/webhook", params={**verify, "hub.verify_token": token}) == 200

        body = json.dumps(text_message("33612345678", "Do I need an EORI number?")).encode()
        forged = sign(body, "not-the-app-secret")
        hook = {"content": body, "headers": {"Content-Type": "application/json"}}
        assert call("POST", "/whatsapp/webhook", **hook) == 401
        headers = {**hook["headers"], "X-Hub-Signature-256": forged}
        assert call("POST", "/whatsapp/webhook", content=body, headers=headers) == 403
        graph.fail_next(500, 500, 500, 500)  # Meta refuses every try of the reply
        headers["X-Hub-Signature-256"] = sign(body, SECRETS["whatsapp_app_secret"])
        assert call("POST", "/whatsapp/webhook", content=body, headers=headers) == 200
        assert client.app.state.whatsapp.drain()

        form = twilio_form("33698765432", "What is a letter of credit?")
        good = twilio_signature(SECRETS["twilio_auth_token"], TWILIO_URL, form)
        twilio = {
            "content": urlencode(form),
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        }
        assert call("POST", "/twilio/whatsapp", **twilio) == 401
        twilio["headers"]["X-Twilio-Signature"] = "Zm9yZ2Vk"
        assert call("POST", "/twilio/whatsapp", **twilio) == 403
        twilio["headers"]["X-Twilio-Signature"] = good
        assert call("POST", "/twilio/whatsapp", **twilio) == 200

        reviews = "/api/helpdesk/reviews"
        assert call("GET", reviews, headers={"X-API-Key": HELPDESK_KEYS[0][:-1]}) == 401
        assert call("GET", reviews, headers={"X-API-Key": HELPDESK_KEYS[1]}) == 200
        assert call("POST", "/api/chat", json={"message": ""}) == 422
        assert (
            call("POST", "/api/chat", content=b"{", headers={"Content-Type": "application/json"})
            == 400
        )
        assert call("GET", "/api/conversations/00000000-0000-4000-8000-000000000000") == 404
    finally:
        client.__exit__(None, None, None)

    # A start against a database that is not there fails, and says so without the URL's password.
    gone = postgres_url.replace(postgres_url.rsplit(":", 1)[1].split("/")[0], str(free_port()))
    with pytest.raises(OperationalError) as failed:
        open_client(settings.model_copy(update={"database_url": gone}), embeddings)

    logged = "\n".join(server_side(caplog.records)) + "\n" + str(failed.value)
    sent = "\n".join(f"{r.headers}\n{r.text}" for r in responses)
    # The paths above were taken (so the check below has something to look at).
    assert "conversations in postgresql+psycopg://assistant:***@127.0.0.1" in logged
    assert "(counted in redis://:***@127.0.0.1" in logged
    assert "LLM failed, answering extractively" in logged
    assert "not sent after 2 tries" in logged
    assert len(graph.requests) == 2 and graph.problems == []
    for secret in ALL_SECRETS:
        assert secret not in logged, f"{secret} was logged"
        assert secret not in sent, f"{secret} was sent in a response"


def access_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]


def test_the_access_log_masks_the_verify_token(sample_index, embeddings, caplog):
    """uvicorn logs every request's path and query, and Meta's handshake carries the
    verify token in the query: ``serve`` configures a filter that masks it."""
    token = SECRETS["whatsapp_verify_token"]
    app = create_app(
        sample_index.model_copy(update={"whatsapp_verify_token": SecretStr(token)}),
        embeddings=embeddings,
    )
    assert _log_config()["loggers"]["uvicorn.access"]["filters"] == ["secrets"]
    redact = _log_config()["filters"]["secrets"]["()"]()  # what `serve` puts on the logger
    access = logging.getLogger("uvicorn.access")
    access.addFilter(redact)
    caplog.set_level(logging.INFO)
    port = free_port()
    try:
        with ServerThread(app, port, log_config=None, log_level="info"):
            params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"}
            response = httpx.get(
                f"http://127.0.0.1:{port}/whatsapp/webhook", params=params, timeout=None
            )
            assert response.status_code == 200 and response.text == "42"
            wait_for(lambda: access_lines(caplog), "the access log line")
    finally:
        access.removeFilter(redact)
    assert any("hub.verify_token=***&hub.challenge=42" in line for line in access_lines(caplog))
    assert not any(token in line for line in access_lines(caplog))


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://u:pw@h/db", "postgresql+psycopg://u:***@h/db"),
        (
            "postgresql+psycopg://u@h/db?password=pw&sslmode=require",
            "postgresql+psycopg://u@h/db?password=***&sslmode=require",
        ),
        ("redis://h:6379/0?password=pw", "redis://h:6379/0?password=***"),
        ("postgresql://u:pw@h/db?sslpassword=pw", "postgresql://u:***@h/db?sslpassword=***"),
        ("sqlite:///var/assistant.db?timeout=5", "sqlite:///var/assistant.db?timeout=5"),
    ],
)
def test_passwords_in_urls_are_masked_wherever_they_are(url, masked):
    assert masked_url(url) == masked

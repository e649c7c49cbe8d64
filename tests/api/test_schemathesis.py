"""Property-based requests generated from the OpenAPI schema, sent to a live server with
every channel switched on (helpdesk keys, WhatsApp, Twilio): whatever the input, never a
5xx; and the chat API's responses (status, content type, body) are the ones its schema
documents. Helpdesk calls carry a valid key and webhook calls a valid signature, so the
handlers behind the checks are reached too; the webhooks' bodies, which the schema does
not describe, get their own generated payloads.

The schema comes from the app object at import (it does not depend on settings or
state); the requests go to the live server of the module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from assistant.api import create_app
from assistant.channels.twilio import twilio_signature
from assistant.settings import Settings
from tests.channels.conftest import (  # noqa: F401  (the channel tests' fixtures)
    HELPDESK_KEY,
    TWILIO_STATUS_URL,
    TWILIO_TOKEN,
    channel_settings,
    graph,
    sign,
    twilio,
    webhook,
)
from tests.support.app_fixtures import LiveServer, serving

pytestmark = pytest.mark.slow


schema = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())

# Uploads change the index this session shares: test_schemathesis_guides.py fuzzes them.
# A conversation's event stream stays open for minutes: its 404 and 422 are tested apart.
GUIDES = r"^/api/helpdesk/documents|/events$"
# The routes of the chat API (the channel webhooks have their own tests).
DOCUMENTED = re.compile(
    r"^/(api/(chat|conversations|feedback|sources|handoffs)|v1/|healthz|readyz)"
)
FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


@pytest.fixture(scope="module")
def channels_server(channel_settings, embeddings) -> Iterator[LiveServer]:  # noqa: F811
    """The app on a real port with the helpdesk, WhatsApp (sending to a stand-in of the
    Graph API) and Twilio on: the channel tests' settings."""
    with serving(channel_settings, embeddings) as server:
        yield server


def _credentials(case, twilio_url: str) -> dict[str, str]:
    """The key or signature that lets ``case`` past the door to its handler."""
    if case.operation.path.startswith("/api/helpdesk/"):  # the HelpdeskKey security scheme
        return {"X-API-Key": HELPDESK_KEY}
    if (case.method, case.path) == ("POST", "/whatsapp/webhook"):
        return {"X-Hub-Signature-256": sign(b"")}
    if (case.method, case.path) == ("POST", "/twilio/whatsapp"):
        return {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, twilio_url, [])}
    if (case.method, case.path) == ("POST", "/twilio/status"):
        return {"X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, TWILIO_STATUS_URL, [])}
    return {}


@schema.exclude(path_regex=GUIDES).parametrize()
@FUZZ
def test_no_server_errors_and_documented_responses(case, channels_server):
    # On the case itself: a header passed to call() loses to a security scheme's (the
    # helpdesk key's), which schemathesis may leave out of a case.
    case.headers = {
        **(case.headers or {}),
        **_credentials(case, channels_server.settings.twilio_webhook_url),
    }
    response = case.call(base_url=channels_server.url, timeout=None)
    assert response.status_code < 500, response.text
    if case.operation.path.startswith("/api/helpdesk"):
        assert response.status_code not in {401, 403}, "the helpdesk refused a valid key"
    if not DOCUMENTED.match(case.operation.path):
        return
    case.validate_response(
        response,
        checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
    )


# ------------------------------------------------------------ webhook bodies

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
# Meta's shape with any field replaced by anything: parsers break on near-misses.
_message = st.fixed_dictionaries(
    {},
    optional={
        "from": st.text(max_size=20) | _json,
        "id": st.text(max_size=30) | _json,
        "timestamp": st.text(max_size=12) | _json,
        "type": st.sampled_from(["text", "interactive", "button", "image", "location", "x"])
        | _json,
        "text": st.fixed_dictionaries({"body": st.text(max_size=300) | _json}) | _json,
        "interactive": _json,
        "button": _json,
        "image": _json,
    },
)
_status = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=30) | _json,
        "status": st.sampled_from(["sent", "delivered", "read", "failed"]) | _json,
        "recipient_id": _json,
        "errors": _json,
    },
)
whatsapp_payloads = st.one_of(
    _json,
    st.builds(
        lambda messages, statuses: webhook(messages=messages, statuses=statuses, wa_id="33600"),
        st.lists(_message, max_size=3),
        st.lists(_status, max_size=3),
    ),
)
twilio_forms = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "MessageSid",
                "From",
                "Body",
                "NumMedia",
                "MediaContentType0",
                "ButtonPayload",
                "Latitude",
            ]
        )
        | st.text(max_size=10),
        st.text(max_size=200),
    ),
    max_size=8,
)


@given(payload=whatsapp_payloads)
@FUZZ
def test_signed_whatsapp_payloads_never_fail(channels_server, payload):
    body = json.dumps(payload).encode()
    response = httpx.post(
        f"{channels_server.url}/whatsapp/webhook",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)},
        timeout=None,
    )
    assert response.status_code in {200, 429}, response.text
    # A payload that killed the worker thread would leave its queue undrained.
    assert channels_server.app.state.whatsapp.drain(), "the WhatsApp worker is stuck"


@given(form=twilio_forms)
@FUZZ
def test_signed_twilio_forms_get_twiml(channels_server, form):
    response = httpx.post(
        f"{channels_server.url}/twilio/whatsapp",
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(
                TWILIO_TOKEN, channels_server.settings.twilio_webhook_url, form
            ),
        },
        timeout=None,
    )
    assert response.status_code in {200, 429}, response.text
    if response.status_code == 200:
        assert response.headers["content-type"].startswith("application/xml")
        assert response.text.startswith("<?xml")

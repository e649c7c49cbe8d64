"""One app over the sample index for the channel tests, its WhatsApp sends going to a
local stand-in of the Graph API; helpers that sign and deliver webhook calls."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.settings import Settings
from tests.api.conftest import open_client
from tests.support.graph_server import GraphStandIn
from tests.support.twilio_server import TwilioStandIn

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "1098765432"
SECOND_NUMBER_ID = "1098765433"  # another business number of the same app
DISPLAY_NUMBER = "15550001111"  # PHONE_NUMBER_ID's number, as webhooks show it
SECOND_DISPLAY_NUMBER = "15550002222"
API_VERSION = "v25.0"
HELPDESK_KEY = "helpdesk-key-1"
TWILIO_TOKEN = "test-twilio-token"
TWILIO_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_FROM = "whatsapp:+14155238886"
TWILIO_STATUS_URL = "https://assistant.example.com/twilio/status"

_ids = itertools.count(1)
SENTENCE_END = re.compile(r"[.!?](?: \[\d+\])?$")


def long_text(sentences: int = 120) -> str:
    """Sentences of varied length, each cited, some on their own line (about 24,000
    characters: what a language model may write at length)."""
    parts = []
    for i in range(sentences):
        filler = " ".join(f"word{i}x{j}" for j in range(5 + (i * 7) % 40))
        parts.append(f"Sentence {i} says that {filler}. [{i % 3 + 1}]")
        parts.append("\n" if i % 4 == 3 else " ")
    return "".join(parts).strip()


def words(text: str) -> list[str]:
    return text.split()


@pytest.fixture(scope="session")
def graph() -> Iterator[GraphStandIn]:
    numbers = (PHONE_NUMBER_ID, SECOND_NUMBER_ID)
    stand_in = GraphStandIn(
        token=ACCESS_TOKEN, paths={f"/{API_VERSION}/{number}/messages" for number in numbers}
    )
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def twilio() -> Iterator[TwilioStandIn]:
    stand_in = TwilioStandIn(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN)
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="session")
def channel_settings(sample_index, graph, twilio, tmp_path_factory) -> Settings:
    """The sample index, its own database, WhatsApp and the helpdesk switched on."""
    database = tmp_path_factory.mktemp("channels") / "channels.db"
    return sample_index.model_copy(
        update={
            "database_url": f"sqlite:///{database}",
            "whatsapp_app_secret": SecretStr(APP_SECRET),
            "whatsapp_verify_token": SecretStr(VERIFY_TOKEN),
            "whatsapp_access_token": SecretStr(ACCESS_TOKEN),
            "whatsapp_phone_number_id": PHONE_NUMBER_ID,
            "whatsapp_graph_url": graph.url,
            "whatsapp_api_version": API_VERSION,
            "whatsapp_retry_seconds": 0.01,
            "twilio_auth_token": SecretStr(TWILIO_TOKEN),
            "twilio_webhook_url": "https://assistant.example.com/twilio/whatsapp",
            "twilio_account_sid": TWILIO_SID,
            "twilio_from": TWILIO_FROM,
            "twilio_api_url": twilio.url,
            "twilio_status_url": TWILIO_STATUS_URL,
            "desk_name": "the Export Desk",
            "helpdesk_api_keys": [SecretStr("another-key"), SecretStr(HELPDESK_KEY)],
        }
    )


@pytest.fixture(scope="session")
def client(channel_settings, embeddings) -> Iterator[TestClient]:
    client = open_client(channel_settings, embeddings)
    yield client
    client.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _fresh_stand_in(graph) -> None:
    graph.reset()


def new_wa_id() -> str:
    """A phone number no other test uses, so tests do not see each other's messages."""
    return f"3361234{next(_ids):04d}"


def new_wamid() -> str:
    return f"wamid.in-{next(_ids)}"


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook(
    *, messages: Sequence[dict] = (), statuses: Sequence[dict] = (), wa_id: str = ""
) -> dict:
    """A webhook call as Meta sends it (one entry, one change)."""
    value: dict = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": "Test User"}, "wa_id": wa_id}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def text_message(wa_id: str, text: str, wamid: str | None = None) -> dict:
    return webhook(
        wa_id=wa_id,
        messages=[
            {
                "from": wa_id,
                "id": wamid or new_wamid(),
                "timestamp": "1764230400",
                "type": "text",
                "text": {"body": text},
            }
        ],
    )


def button_reply(wa_id: str, button_id: str, title: str = "") -> dict:
    return webhook(
        wa_id=wa_id,
        messages=[
            {
                "context": {"from": "15550001111", "id": "wamid.out-1"},
                "from": wa_id,
                "id": new_wamid(),
                "timestamp": "1764230400",
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": button_id, "title": title or button_id},
                },
            }
        ],
    )


def post_signed(client: TestClient, payload: object, *, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return client.post(
        "/whatsapp/webhook",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)},
    )


def drain(client: TestClient) -> None:
    assert client.app.state.whatsapp.drain(), "WhatsApp worker did not finish"


def deliver(client: TestClient, payload: object) -> None:
    """Post a signed webhook call, check Meta gets its 200, wait for the replies."""
    response = post_signed(client, payload)
    assert response.status_code == 200, response.text
    drain(client)

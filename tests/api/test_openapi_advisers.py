"""/openapi.json documents the advisers' operations and the confidence every answer
carries."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.settings import Settings

OPERATIONS = {
    ("post", "/api/handoffs"),
    ("get", "/api/conversations/{conversation_id}/events"),
    ("get", "/api/helpdesk/handoffs"),
    ("get", "/api/helpdesk/handoffs/{handoff_id}"),
    ("post", "/api/helpdesk/handoffs/{handoff_id}/status"),
    ("post", "/api/helpdesk/handoffs/{handoff_id}/replies"),
    ("get", "/api/helpdesk/approved"),
    ("post", "/api/helpdesk/approved"),
    ("put", "/api/helpdesk/approved/{approved_id}"),
    ("get", "/api/helpdesk/approved-match"),
    ("post", "/twilio/status"),
}


def test_openapi_documents_the_advisers_operations_and_the_confidence():
    # The schema is served without starting the app (no lifespan, no index needed).
    schema = TestClient(create_app(Settings(_env_file=None))).get("/openapi.json").json()
    documented = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert documented >= OPERATIONS
    schemas = schema["components"]["schemas"]
    for name in ("ChatResponse", "TurnOut", "AnswerInfo", "SuggestOut", "QuestionOut"):
        assert "confidence" in schemas[name]["properties"], name
    assert "handoff" in schemas["TurnOut"]["properties"]
    events = schema["paths"]["/api/conversations/{conversation_id}/events"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]

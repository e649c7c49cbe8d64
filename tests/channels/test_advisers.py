"""Ask an adviser, end to end over the API and the phone channels: a question handed off
(once), the desk's inbox, a reply with cited passages carried back on the user's
channel (web conversation; WhatsApp within the 24-hour window, else held or a template;
Twilio through its Messages API), delivery from the channels' status callbacks, and an
approved answer reused for a paraphrase in the other language."""

from __future__ import annotations

import datetime as dt
import itertools
from urllib.parse import urlencode

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from assistant.channels.records import MessageRecord
from assistant.channels.twilio import twilio_signature
from tests.channels.conftest import (
    HELPDESK_KEY,
    TWILIO_FROM,
    TWILIO_STATUS_URL,
    TWILIO_TOKEN,
    button_reply,
    deliver,
    new_wa_id,
    new_wamid,
    text_message,
    webhook,
)

pytestmark = pytest.mark.slow

KEY = {"X-API-Key": HELPDESK_KEY}
# Live data: refused by the pipeline whatever the index holds.
REFUSED = "What are the customs office opening hours in Cotonou today?"
_offices = itertools.count(1)


def refused_question() -> str:
    """A question the assistant refuses, asked by no other test."""
    return f"What are the opening hours of customs office {next(_offices)} today?"


FACTORING = "How much of an invoice can I borrow with invoice factoring?"
TWILIO_WEBHOOK = "https://assistant.example.com/twilio/whatsapp"


def factoring_citation(client) -> dict:
    """A passage to cite, as the helpdesk page's search gives it."""
    found = client.get("/api/helpdesk/search", params={"q": "invoice factoring"}, headers=KEY)
    best = found.json()["results"][0]
    return {"source": best["source"], "section": best["section"], "snippet": best["snippet"]}


def inbox(client, **params) -> list[dict]:
    response = client.get("/api/helpdesk/handoffs", params=params, headers=KEY)
    assert response.status_code == 200, response.text
    return response.json()["handoffs"]


def handoff_of(client, question: str, **params) -> dict:
    (found,) = [h for h in inbox(client, limit=200, **params) if h["question"] == question]
    return found


def staff_reply(client, handoff_id: str, text: str, citations: list[dict], **extra) -> dict:
    response = client.post(
        f"/api/helpdesk/handoffs/{handoff_id}/replies",
        json={"text": text, "citations": citations, **extra},
        headers=KEY,
    )
    assert response.status_code == 201, response.text
    return response.json()


# ------------------------------------------------------------ web


def test_web_handoff_once_reply_in_the_conversation_and_seen(client):
    asked = client.post("/api/chat", json={"message": REFUSED}).json()
    assert asked["refused"] and asked["confidence"] is None
    body = {"conversation_id": asked["conversation_id"], "turn": 1, "email": "me@example.org"}
    first = client.post("/api/handoffs", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["created"] and "the Export Desk" in first.json()["message"]
    assert "24 hours" in first.json()["message"]
    again = client.post("/api/handoffs", json=body)
    assert again.status_code == 200 and not again.json()["created"]
    assert again.json()["handoff"]["id"] == first.json()["handoff"]["id"]
    assert client.post("/api/handoffs", json={**body, "turn": 2}).status_code == 404
    assert client.post("/api/handoffs", json={**body, "email": "not an address"}).status_code == 422

    summary = handoff_of(client, REFUSED, channel="web", status=["new"])
    assert summary["reason"] == "refused" and summary["email_given"]
    handoff_id = summary["id"]
    taken = client.post(
        f"/api/helpdesk/handoffs/{handoff_id}/status", json={"status": "assigned"}, headers=KEY
    )
    assert taken.json()["assigned_to"] == "key-" + taken.json()["assigned_to"][4:]
    assert [t["question"] for t in taken.json()["conversation"]] == [REFUSED]

    citation = factoring_citation(client)
    done = staff_reply(
        client, handoff_id, "Our office opens at 8:00; factoring: see [1].", [citation]
    )
    assert done["status"] == "answered" and done["first_reply_at"]
    (sent,) = done["staff_replies"]
    assert sent["delivery"]["state"] == "stored"
    assert "no mail server" in sent["delivery"]["detail"]  # an address was left
    assert sent["citations"][0]["source"] == citation["source"]
    assert sent["citations"][0]["title"]  # from the index, not from the request

    conversation = client.get(f"/api/conversations/{asked['conversation_id']}").json()
    handed = conversation["turns"][0]["handoff"]
    assert handed["status"] == "answered"
    assert handed["replies"][0]["text"] == "Our office opens at 8:00; factoring: see [1]."
    assert handed["replies"][0]["citations"][0]["source_url"].startswith("/api/sources/")
    detail = client.get(f"/api/helpdesk/handoffs/{handoff_id}", headers=KEY).json()
    assert detail["staff_replies"][0]["delivery"]["state"] == "seen"


def test_a_reply_must_cite_real_passages(client):
    asked = client.post("/api/chat", json={"message": REFUSED + " (2)"}).json()
    body = {"conversation_id": asked["conversation_id"], "turn": 1}
    handoff_id = client.post("/api/handoffs", json=body).json()["handoff"]["id"]
    url = f"/api/helpdesk/handoffs/{handoff_id}/replies"
    fake = {"source": "nowhere/fake.md", "section": "", "snippet": ""}
    wrong = client.post(url, json={"text": "See [1].", "citations": [fake]}, headers=KEY)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "unknown_passage"
    citation = {**factoring_citation(client), "snippet": "A sentence no source holds."}
    made_up = client.post(url, json={"text": "See [1].", "citations": [citation]}, headers=KEY)
    assert made_up.status_code == 422
    missing = client.post(url, json={"text": "See [2].", "citations": []}, headers=KEY)
    assert missing.json()["error"]["code"] == "citation_missing"
    assert client.post(url, json={"text": "x"}).status_code == 401


def test_inbox_filters_by_status_language_channel_and_age(client):
    asked = client.post(
        "/api/chat", json={"message": "Quels sont les horaires de la douane aujourd'hui ?"}
    )
    conversation = asked.json()["conversation_id"]
    client.post("/api/handoffs", json={"conversation_id": conversation, "turn": 1})
    french = inbox(client, language="fr", channel="web")
    assert french and all(h["language"] == "fr" for h in french)
    assert inbox(client, language="fr", older_than_hours=1) == []
    assert inbox(client, status=["closed"], language="fr") == []
    counts = client.get("/api/helpdesk/handoffs", headers=KEY).json()["counts"]
    assert set(counts) == {"new", "assigned", "answered", "closed"}
    assert (
        client.get("/api/helpdesk/handoffs", params={"channel": "fax"}, headers=KEY).status_code
        == 422
    )


# ------------------------------------------------------------ WhatsApp (Meta)


def test_whatsapp_handoff_reply_and_delivery_status(client, graph):
    wa_id = new_wa_id()
    deliver(client, text_message(wa_id, REFUSED))
    refusal = graph.sent_to(wa_id)[-1]
    assert refusal.buttons.get("adviser:1") == "Ask an adviser"
    deliver(client, button_reply(wa_id, "adviser:1", "Ask an adviser"))
    told = graph.sent_to(wa_id)[-1].text
    assert "passed to an adviser of the Export Desk" in told and "24 hours" in told
    deliver(client, button_reply(wa_id, "adviser:1", "Ask an adviser"))
    assert "already with an adviser" in graph.sent_to(wa_id)[-1].text

    summary = handoff_of(client, REFUSED, channel="whatsapp")
    assert summary["notified"] in ("off", "sent", "pending")
    before = len(graph.sent_to(wa_id))
    done = staff_reply(client, summary["id"], "It opens at 8:00 [1].", [factoring_citation(client)])
    (sent,) = done["staff_replies"]
    assert sent["delivery"]["state"] == "sent" and sent["delivery"]["message_id"]
    (message,) = graph.sent_to(wa_id)[before:]
    assert message.text.startswith("Reply from an adviser of the Export Desk to your question")
    assert "It opens at 8:00 [1]." in message.text and "*Sources*\n[1]" in message.text
    assert graph.problems == []

    status = {"id": sent["delivery"]["message_id"], "status": "delivered", "recipient_id": wa_id}
    deliver(client, webhook(statuses=[{**status, "timestamp": "1764230500"}]))
    detail = client.get(f"/api/helpdesk/handoffs/{summary['id']}", headers=KEY).json()
    assert detail["staff_replies"][0]["delivery"]["state"] == "delivered"


def _silent_for_a_day(client, wa_id: str) -> None:
    """The user's messages, as if written 25 hours ago: outside Meta's window."""
    engine = client.app.state.conversations.engine
    with Session(engine) as session, session.begin():
        session.execute(
            update(MessageRecord)
            .where(MessageRecord.sender == wa_id)
            .values(received_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=25))
        )


def test_outside_the_24_hour_window_the_reply_waits_and_goes_when_the_user_writes(client, graph):
    wa_id, question = new_wa_id(), refused_question()
    deliver(client, text_message(wa_id, question))
    deliver(client, text_message(wa_id, "Ask an adviser"))  # typed rather than tapped
    handoff_id = handoff_of(client, question, channel="whatsapp")["id"]
    _silent_for_a_day(client, wa_id)
    before = len(graph.sent_to(wa_id))
    done = staff_reply(client, handoff_id, "It opens at 8:00.", [])
    delivery = done["staff_replies"][0]["delivery"]
    assert delivery["state"] == "undelivered" and "24-hour window" in delivery["detail"]
    assert len(graph.sent_to(wa_id)) == before  # nothing sent: Meta would refuse it

    deliver(client, text_message(wa_id, "Hello?"))
    after = graph.sent_to(wa_id)[before:]
    assert after[0].text.startswith("Reply from an adviser")  # the waiting reply first
    detail = client.get(f"/api/helpdesk/handoffs/{handoff_id}", headers=KEY).json()
    assert detail["staff_replies"][0]["delivery"]["state"] == "sent"


def test_outside_the_window_a_configured_template_is_sent(client, graph):
    advisers = client.app.state.advisers
    original = advisers.settings
    advisers.settings = original.model_copy(update={"whatsapp_reply_template": "adviser_reply"})
    try:
        wa_id, question = new_wa_id(), refused_question()
        deliver(client, text_message(wa_id, question))
        deliver(client, button_reply(wa_id, "adviser:1"))
        handoff_id = handoff_of(client, question, channel="whatsapp")["id"]
        _silent_for_a_day(client, wa_id)
        done = staff_reply(client, handoff_id, "It opens at 8:00.", [])
    finally:
        advisers.settings = original
    assert done["staff_replies"][0]["delivery"]["state"] == "template"
    template = graph.sent_to(wa_id)[-1].body
    assert template["type"] == "template"
    assert template["template"] == {"name": "adviser_reply", "language": {"code": "en"}}
    assert graph.problems == []


def test_web_refusals_go_to_the_advisers_at_once_when_set_to_auto(client):
    advisers = client.app.state.advisers
    original = advisers.settings
    advisers.settings = original.model_copy(update={"handoff_on_refusal": "auto"})
    try:
        question = refused_question()
        answer = client.post("/api/chat", json={"message": question}).json()
        answered = client.post("/api/chat", json={"message": FACTORING}).json()
    finally:
        advisers.settings = original
    assert answer["handoff"]["status"] == "new" and answer["handoff"]["turn"] == 1
    assert "passed to an adviser" in answer["notices"][-1]
    assert answered["handoff"] is None  # an answer is not handed off by itself
    assert handoff_of(client, question, channel="web")["reason"] == "refused"


def test_refusals_go_to_the_advisers_at_once_when_set_to_auto(client, graph):
    bridge = client.app.state.phone_bridge
    original = bridge.settings
    bridge.settings = original.model_copy(update={"handoff_on_refusal": "auto"})
    try:
        wa_id, question = new_wa_id(), refused_question()
        deliver(client, text_message(wa_id, question))
    finally:
        bridge.settings = original
    assert "passed to an adviser" in graph.sent_to(wa_id)[-1].text
    assert handoff_of(client, question)["reason"] == "refused"


# ------------------------------------------------------------ Twilio


def twilio_post(client, path: str, url: str, params: list[tuple[str, str]]):
    return client.post(
        path,
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, params),
        },
    )


def twilio_message(sender: str, body: str) -> list[tuple[str, str]]:
    return [
        ("MessageSid", new_wamid()),
        ("From", f"whatsapp:+{sender}"),
        ("To", TWILIO_FROM),
        ("Body", body),
    ]


def test_twilio_handoff_reply_through_the_messages_api_and_its_status(client, twilio):
    sender, question = new_wa_id(), refused_question()
    answered = twilio_post(
        client, "/twilio/whatsapp", TWILIO_WEBHOOK, twilio_message(sender, question)
    )
    assert "*Ask an adviser*" in answered.text
    told = twilio_post(
        client, "/twilio/whatsapp", TWILIO_WEBHOOK, twilio_message(sender, "Ask an adviser")
    )
    assert "passed to an adviser" in told.text

    handoff_id = handoff_of(client, question, channel="twilio")["id"]
    done = staff_reply(client, handoff_id, "It opens at 8:00 [1].", [factoring_citation(client)])
    (message,) = twilio.sent_to(f"whatsapp:+{sender}")
    assert message.sender == TWILIO_FROM and message.status_callback == TWILIO_STATUS_URL
    assert "It opens at 8:00 [1]." in message.body and "[1]" in message.body
    delivery = done["staff_replies"][0]["delivery"]
    assert delivery == {"state": "sent", "detail": None, "message_id": message.sid}
    assert twilio.problems == []

    status = [("MessageSid", message.sid), ("MessageStatus", "delivered"), ("To", message.to)]
    assert twilio_post(client, "/twilio/status", TWILIO_STATUS_URL, status).status_code == 204
    detail = client.get(f"/api/helpdesk/handoffs/{handoff_id}", headers=KEY).json()
    assert detail["staff_replies"][0]["delivery"]["state"] == "delivered"
    unsigned = client.post("/twilio/status", content=urlencode(status))
    assert unsigned.status_code == 401


def test_a_failed_twilio_delivery_is_shown_and_listed_among_the_errors(client, twilio):
    sender, question = new_wa_id(), refused_question()
    twilio_post(client, "/twilio/whatsapp", TWILIO_WEBHOOK, twilio_message(sender, question))
    twilio_post(client, "/twilio/whatsapp", TWILIO_WEBHOOK, twilio_message(sender, "Un conseiller"))
    handoff_id = handoff_of(client, question, channel="twilio")["id"]
    staff_reply(client, handoff_id, "It opens at 8:00.", [])
    (message,) = twilio.sent_to(f"whatsapp:+{sender}")
    failed = [
        ("MessageSid", message.sid),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "63016"),
        ("To", message.to),
    ]
    twilio_post(client, "/twilio/status", TWILIO_STATUS_URL, failed)
    detail = client.get(f"/api/helpdesk/handoffs/{handoff_id}", headers=KEY).json()
    assert detail["staff_replies"][0]["delivery"]["state"] == "undelivered"
    errors = client.get("/api/helpdesk/whatsapp-errors", headers=KEY).json()["errors"]
    assert any(e["code"] == 63016 and e["message_id"] == message.sid for e in errors)


# ------------------------------------------------------------ approved answers


def test_an_approved_answer_is_reused_for_a_paraphrase_in_the_other_language(client):
    citation = factoring_citation(client)
    created = client.post(
        "/api/helpdesk/approved",
        json={
            "question": "Do I need an EORI number to export goods from France?",
            "paraphrases": ["Is an EORI number mandatory for French exporters?"],
            "texts": {"en": "Yes: every exporter established in the EU needs one [1]."},
            "citations": [citation],
            "review_on": (dt.date.today() + dt.timedelta(days=180)).isoformat(),
        },
        headers=KEY,
    )
    assert created.status_code == 201, created.text
    approved = created.json()
    assert approved["uses"] == 0 and not approved["review_due"]

    french = "Faut-il un numéro EORI pour exporter des marchandises depuis la France ?"
    answer = client.post("/api/chat", json={"message": french}).json()
    assert answer["mode"] == "approved" and answer["language"] == "fr"
    assert answer["answer"].startswith("Réponse des conseillers de the Export Desk")
    assert "Yes: every exporter established in the EU needs one [1]." in answer["answer"]
    assert answer["citations"][0]["source"] == citation["source"]
    stored = client.get(f"/api/conversations/{answer['conversation_id']}").json()
    assert stored["turns"][0]["mode"] == "approved"

    (listed,) = [
        a
        for a in client.get("/api/helpdesk/approved", headers=KEY).json()
        if a["id"] == approved["id"]
    ]
    assert listed["uses"] == 1
    report = client.get("/api/helpdesk/report", headers=KEY).json()
    assert report["approved_answers_served"] >= 1
    match = client.get("/api/helpdesk/approved-match", params={"q": french}, headers=KEY).json()
    assert match["approved"]["id"] == approved["id"] and match["served"]

    retired = client.put(
        f"/api/helpdesk/approved/{approved['id']}",
        json={
            **{k: approved[k] for k in ("question", "paraphrases", "texts")},
            "citations": [citation],
            "review_on": approved["review_on"],
            "retired": True,
        },
        headers=KEY,
    )
    assert retired.status_code == 200 and retired.json()["retired"]
    again = client.post("/api/chat", json={"message": french}).json()
    assert again["mode"] != "approved"


def test_a_reply_saved_as_approved_answers_the_next_user(client):
    question = "Which customs office in Cotonou handles temporary exports today?"
    asked = client.post("/api/chat", json={"message": question}).json()
    body = {"conversation_id": asked["conversation_id"], "turn": 1}
    handoff_id = client.post("/api/handoffs", json=body).json()["handoff"]["id"]
    review_on = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    staff_reply(
        client,
        handoff_id,
        "The Cotonou port office handles them.",
        [],
        approve={"paraphrases": [], "review_on": review_on},
    )
    (saved,) = [
        a
        for a in client.get("/api/helpdesk/approved", headers=KEY).json()
        if a["handoff_id"] == handoff_id
    ]
    assert saved["question"] == question and saved["texts"] == {
        "en": "The Cotonou port office handles them."
    }
    suggestion = client.post(
        "/api/helpdesk/suggest", json={"question": question}, headers=KEY
    ).json()
    assert suggestion["mode"] == "approved"


def test_the_report_shows_handoffs_with_their_wait(client):
    report = client.get("/api/helpdesk/report", headers=KEY).json()
    handoffs = report["handoffs"]
    assert handoffs["count"] >= 1 and sum(handoffs["statuses"].values()) == handoffs["count"]
    assert handoffs["median_first_reply_seconds"] is not None
    reasons = {r for topic in report["topics"] for q in topic["questions"] for r in q["reasons"]}
    assert "handed off" in reasons


def test_hand_offs_are_counted_per_client_and_a_repeat_costs_nothing(client):
    from assistant.ratelimit import Budgets

    advisers = client.app.state.advisers
    original = advisers.budgets
    advisers.budgets = Budgets({"handoffs": "2/hour"})
    try:
        conversation = None
        for _ in range(3):
            body = {"message": refused_question()}
            if conversation:
                body["conversation_id"] = conversation
            conversation = client.post("/api/chat", json=body).json()["conversation_id"]
        first = {"conversation_id": conversation, "turn": 1}
        assert client.post("/api/handoffs", json=first).status_code == 201
        assert client.post("/api/handoffs", json=first).status_code == 200  # the same: free
        assert client.post("/api/handoffs", json={**first, "turn": 2}).status_code == 201
        limited = client.post("/api/handoffs", json={**first, "turn": 3})
    finally:
        advisers.budgets = original
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert limited.json()["error"]["code"] == "rate_limited"

"""Staff told of hand-offs by a JSON webhook and by e-mail, against a real local HTTP
receiver and a real SMTP server (aiosmtpd): retried, recorded, and never a secret in the
logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from assistant.answer import Answer
from assistant.conversations import Conversations
from assistant.handoffs import Handoffs
from assistant.notify import Mail, Notifier
from tests.conftest import make_settings
from tests.support.receivers import HttpReceiver, SmtpReceiver

SMTP_USER, SMTP_PASSWORD = "desk", "smtp-pa55word"


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    server = SmtpReceiver(SMTP_USER, SMTP_PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture
def handoffs(tmp_path) -> Handoffs:
    return Handoffs(Conversations.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}").engine)


def handed_off(handoffs: Handoffs, question: str = "Numéro EORI pour le Maroc ?") -> str:
    conversations = Conversations(handoffs.engine)
    conversation = conversations.new_id()
    refusal = Answer(
        text="My sources do not answer this.", refused=True, language="fr", mode="refusal"
    )
    conversations.add_turn(conversation, question, refusal)
    return handoffs.hand_off(conversation, 1, channel="web").record.id


def notifier_for(tmp_path, corpus, handoffs, **settings) -> Notifier:
    values = {"notify_retry_seconds": 0.01, "public_url": "https://desk.example.org", **settings}
    notifier = Notifier(make_settings(tmp_path / "var", corpus, **values), handoffs)
    notifier.start()
    return notifier


def test_staff_get_the_webhook_and_the_email_after_retries_and_no_secret_is_logged(
    tmp_path, corpus, handoffs, receiver, smtp, caplog
):
    smtp_url = f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{smtp.port}?plain"
    notifier = notifier_for(
        tmp_path,
        corpus,
        handoffs,
        notify_webhook_url=SecretStr(receiver.url),
        notify_smtp_url=SecretStr(smtp_url),
        notify_email_from="assistant@desk.example.org",
        notify_email_to=["anna@desk.example.org", "ben@desk.example.org"],
    )
    receiver.fail_next(503, 500)  # the chat tool is briefly down
    handoff_id = handed_off(handoffs)
    with caplog.at_level(logging.INFO):
        notifier.handoff(handoff_id)
        assert notifier.drain()
    notifier.stop()

    assert receiver.attempts == 3
    (payload,) = receiver.received
    assert payload["event"] == "handoff.created"
    assert payload["handoff"]["id"] == handoff_id
    assert payload["handoff"]["language"] == "fr" and payload["handoff"]["channel"] == "web"
    assert "Numéro EORI pour le Maroc ?" in payload["text"]
    assert payload["handoff"]["inbox_url"].endswith(f"/helpdesk.html#handoff-{handoff_id}")
    (mail,) = smtp.messages
    assert mail["To"] == "anna@desk.example.org, ben@desk.example.org"
    assert mail["From"] == "assistant@desk.example.org"
    assert "Numéro EORI pour le Maroc ?" in mail.get_payload(decode=True).decode()
    assert handoffs.get(handoff_id).notified == "sent"

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed (try 1 of 5): HTTP 503" in logged and "failed (try 2 of 5): HTTP 500" in logged
    assert "127.0.0.1" in logged  # the host is named...
    for secret in ("s3cr3t-token", receiver.path, SMTP_PASSWORD):
        assert secret not in logged  # ...never the URL's secret path or the password


def test_a_webhook_that_keeps_failing_is_given_up_and_recorded(
    tmp_path, corpus, handoffs, receiver, caplog
):
    notifier = notifier_for(
        tmp_path, corpus, handoffs, notify_webhook_url=SecretStr(receiver.url), notify_attempts=2
    )
    receiver.fail_next(500, 500, 500)
    handoff_id = handed_off(handoffs)
    with caplog.at_level(logging.INFO):
        notifier.handoff(handoff_id)
        assert notifier.drain()
    notifier.stop()
    assert receiver.attempts == 2 and receiver.received == []
    assert handoffs.get(handoff_id).notified == "failed"
    assert "not sent after 2 tries" in caplog.text and "s3cr3t-token" not in caplog.text


def test_a_wrong_smtp_password_fails_without_showing_it(tmp_path, corpus, handoffs, smtp, caplog):
    smtp_url = f"smtp://{SMTP_USER}:wrong-pa55@127.0.0.1:{smtp.port}?plain"
    notifier = notifier_for(
        tmp_path,
        corpus,
        handoffs,
        notify_smtp_url=SecretStr(smtp_url),
        notify_email_to=["anna@desk.example.org"],
        notify_attempts=2,
    )
    handoff_id = handed_off(handoffs)
    notifier.handoff(handoff_id)
    assert notifier.drain()
    notifier.stop()
    assert smtp.messages == []
    assert handoffs.get(handoff_id).notified == "failed"
    assert "SMTPAuthenticationError 535" in caplog.text and "wrong-pa55" not in caplog.text


def test_without_any_channel_the_handoff_is_marked_off(tmp_path, corpus, handoffs):
    notifier = notifier_for(tmp_path, corpus, handoffs)
    handoff_id = handed_off(handoffs)
    notifier.handoff(handoff_id)
    assert notifier.drain()
    notifier.stop()
    assert handoffs.get(handoff_id).notified == "off"
    assert not notifier.email(Mail(("a@example.org",), "s", "b"))  # no mail server


def test_notifications_a_stopped_server_never_sent_go_at_the_next_start(
    tmp_path, corpus, handoffs, receiver
):
    handoff_id = handed_off(handoffs)  # handed off, then the server stopped before telling
    notifier = notifier_for(tmp_path, corpus, handoffs, notify_webhook_url=SecretStr(receiver.url))
    assert notifier.drain()
    notifier.stop()
    assert [p["handoff"]["id"] for p in receiver.received] == [handoff_id]
    assert handoffs.get(handoff_id).notified == "sent"

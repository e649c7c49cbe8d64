"""From a message received on a phone to the replies it gets, and the WhatsApp worker
that sends them.

``Bridge`` is channel-neutral: a question goes through the same assistant as the chat
page, in the sender's conversation (so follow-ups work), and is stored as a turn of
it; "More" and "Sources" re-read that turn, so they work after a restart too.

``WhatsAppWorker`` lets the webhook answer Meta at once (Meta resends a webhook that
is slow to get its 200): the request only records the message, and one background
thread answers the queue in order and sends the replies. ``drain()`` waits until the
queue is empty, which is how tests know the replies are out.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from assistant.advisers import Advisers, HandoffLimited
from assistant.answer import Answer, Citation
from assistant.channels.phone import (
    Reply,
    button_action,
    command_for,
    first_replies,
    more_replies,
    source_replies,
)
from assistant.channels.records import Chat, WhatsAppRecords
from assistant.channels.whatsapp import (
    GraphClient,
    Inbound,
    SendFailed,
    parse_webhook,
    reply_payload,
)
from assistant.clients import ClientKeys
from assistant.conversations import Conversations, UnknownConversation, UnknownTurn
from assistant.language import detect_language, message
from assistant.pending import Pending
from assistant.pipeline import Assistant
from assistant.ratelimit import Budgets
from assistant.settings import Settings
from assistant.smalltalk import small_talk_kind

__all__ = ["Bridge", "Outcome", "WhatsAppWorker"]

log = logging.getLogger(__name__)

# Message types that need no reply: a reaction to our message (or its removal), a
# message the user deleted, a system notice.
SILENT_KINDS = frozenset({"reaction", "revoke", "system", "request_welcome", "ephemeral"})
# Attachments whose caption, when they have one, is the user's question.
CAPTIONED_KINDS = frozenset({"image", "video", "document"})
# Meta only lets a business reply within 24 hours of the user's last message.
REPLY_WINDOW = dt.timedelta(hours=24)
# Words of two letters or more a message needs to change the chat's language.
LANGUAGE_WORDS = 4
_WORD = re.compile(r"[^\W\d_]{2,}")


def _tells_language(text: str) -> bool:
    """Whether a message says enough to become the chat's language (what its replies
    without words of their own are written in): small talk, whose words tell, or a
    question of ``LANGUAGE_WORDS`` words; not a short code or a form's reply ("Comment
    Text 4 2 0 0", taken for French)."""
    kind = small_talk_kind(text)
    if kind is not None and kind[0] != "vague":
        return True
    return len(_WORD.findall(text)) >= LANGUAGE_WORDS


def _turn_answer(record) -> Answer:
    """A stored turn as the Answer it was, to write it for the phone again."""
    return Answer(
        text=record.answer,
        citations=[Citation(**c) for c in record.citations],
        refused=record.refused,
        language=record.language,
        mode=record.mode,
        notices=list(record.notices),
    )


@dataclass(frozen=True)
class Outcome:
    """What to send for a message, and the state to record it in: "answered",
    "limited" (over the sender's budget: not answered) or "failed" (with ``error``)."""

    replies: list[Reply]
    state: str
    error: str | None = None


class Bridge:
    """One inbound message -> its replies, for every phone channel."""

    def __init__(
        self,
        settings: Settings,
        records: WhatsAppRecords,
        conversations: Conversations,
        assistant: Callable[[], Assistant],
        budgets: Budgets,
        advisers: Advisers,
        clients: ClientKeys,
    ) -> None:
        self.settings = settings
        self.records = records
        self.conversations = conversations
        # A getter of what answers (``ApprovedFirst``): the app swaps in the
        # vector-backed assistant once the vectors are loaded.
        self.assistant = assistant
        self.budgets = budgets  # "whatsapp": messages answered per sender
        self.advisers = advisers
        self.clients = clients

    def replies(self, inbound: Inbound, channel: str = "whatsapp") -> list[Reply]:
        """A question's answer (a caption is one), a button's action, or a polite word
        for a photo without words. ``channel``: whatsapp (Meta) or twilio."""
        chat = self.records.chat(inbound.sender)
        text = inbound.text.strip()
        if inbound.kind == "button" and (action := button_action(inbound.text)):
            return self._button(inbound, chat, *action, channel=channel)
        if inbound.kind in SILENT_KINDS:
            return []
        if inbound.kind in ("text", "button") and (command := command_for(text)):
            return self._button(inbound, chat, command, None, channel=channel)
        if text and inbound.kind in ("text", "button"):  # a button id that is not ours
            return self._answer(inbound, chat, text, channel=channel)
        if text and inbound.kind in CAPTIONED_KINDS:
            return self._answer(inbound, chat, text, channel=channel, unread="attachment_unread")
        language = detect_language(text) if text else chat.language
        return [Reply(message("non_text", language))]

    def respond(self, inbound: Inbound, channel: str = "whatsapp") -> Outcome:
        """The replies; when answering raised, an apology and what went wrong. Advisers'
        replies that waited for this user to write again are sent first."""
        if (limited := self._over_budget(inbound)) is not None:
            return limited
        try:
            if inbound.kind not in SILENT_KINDS:
                self.advisers.send_waiting(channel, inbound.sender)
            return Outcome(self.replies(inbound, channel), "answered")
        except Exception as exc:
            log.exception("answering message %s failed", inbound.id)
            language = self.records.chat(inbound.sender).language
            apology = [Reply(message("answer_failed", language))]
            return Outcome(apology, "failed", f"{type(exc).__name__}: {exc}")

    def _over_budget(self, inbound: Inbound) -> Outcome | None:
        """None within the sender's budget (``whatsapp_rate_limit``); past it, no answer,
        and once per window a request to wait, in the sender's language."""
        if inbound.kind in SILENT_KINDS:
            return None
        refusal = self.budgets.hit("whatsapp", inbound.sender)
        if refusal is None:
            return None
        log.info("WhatsApp message %s is over its sender's budget", inbound.id)
        if not self.budgets.first_refusal("whatsapp", inbound.sender, refusal):
            return Outcome([], "limited")
        text = inbound.text if inbound.kind == "text" else ""
        language = detect_language(text, self.records.chat(inbound.sender).language)
        wait = message("rate_limited", language, seconds=str(refusal.retry_after))
        return Outcome([Reply(wait)], "limited")

    def _answer(
        self, inbound: Inbound, chat: Chat, text: str, *, channel: str, unread: str = ""
    ) -> list[Reply]:
        """The answer to ``text``; ``unread`` names the notice that says the attachment
        the text came with was not read. A refusal goes to the advisers at once when
        ``handoff_on_refusal`` is "auto"."""
        question = " ".join(text.split())[: self.settings.max_message_chars]
        history = self.conversations.history(chat.conversation_id, self.settings.history_turns)
        answer = self.assistant().answer(question, history)
        if unread:
            answer.notices.insert(0, message(unread, answer.language))
        saved = self.conversations.add_turn(
            chat.conversation_id,
            question,
            answer,
            channel="whatsapp",
            client=self.clients.digest(inbound.sender),
        )
        if _tells_language(text):
            self.records.set_language(inbound.sender, answer.language)
        replies = first_replies(
            answer,
            saved.n,
            first_chars=self.settings.whatsapp_first_chars,
            public_url=self.settings.public_url,
        )
        if answer.mode == "refusal" and self.settings.handoff_on_refusal == "auto":
            replies += self._hand_off(inbound, chat, saved.n, answer.language, channel)
        return replies

    def _hand_off(
        self, inbound: Inbound, chat: Chat, turn: int | None, language: str, channel: str
    ) -> list[Reply]:
        """Pass turn ``turn`` (None: the last) of the sender's conversation to the desk."""
        if turn is None:
            turn = self.conversations.turn_count(chat.conversation_id) or None
        if turn is None:
            return [Reply(message("handoff_nothing", language))]
        try:
            handoff = self.advisers.hand_off(
                chat.conversation_id,
                turn,
                channel=channel,
                client=self.clients.digest(inbound.sender),
                recipient=inbound.sender,
                business=inbound.business or None,
            )
        except UnknownTurn:
            return [Reply(message("handoff_nothing", language))]
        except HandoffLimited as limited:
            seconds = str(limited.refusal.retry_after)
            return [Reply(message("rate_limited", language, seconds=seconds))]
        return [Reply(self.advisers.told(handoff, handoff.record.language))]

    def _button(
        self, inbound: Inbound, chat: Chat, action: str, turn: int | None, *, channel: str
    ) -> list[Reply]:
        """A tapped button ("more:3", "sources:3", "adviser:3", "new":
        ``phone.button_action``) or its label typed (``turn`` None: the last answer)."""
        if action == "new":
            self.records.new_conversation(inbound.sender)
            return [Reply(message("new_started", chat.language))]
        if action == "adviser":
            return self._hand_off(inbound, chat, turn, chat.language, channel)
        answer = self._stored(chat.conversation_id, turn)
        if answer is None:  # "sources:99": no such answer (another conversation's button)
            return [Reply(message("answer_not_found", chat.language))]
        if action == "sources":
            return source_replies(answer, public_url=self.settings.public_url)
        return more_replies(answer, first_chars=self.settings.whatsapp_first_chars)

    def _stored(self, conversation_id: str, turn: int | None) -> Answer | None:
        """Turn ``turn`` of the conversation (the last one when None), if it has it."""
        try:
            turns = self.conversations.get(conversation_id).turns
        except UnknownConversation:
            return None
        found = [t for t in turns if turn is None or t.n == turn]
        return _turn_answer(found[-1]) if found else None


class WhatsAppWorker:
    """Accepts Meta's webhook calls at once; answers and sends in one background thread."""

    channel = "meta"

    def __init__(self, bridge: Bridge, graph: GraphClient) -> None:
        self.bridge = bridge
        self.records = bridge.records
        self.graph = graph
        # Our business numbers as users see them (all processes learn them, see accept).
        self._ours = self.records.numbers()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._pending = Pending()  # messages accepted and not answered yet
        self._thread = threading.Thread(target=self._run, name="whatsapp", daemon=True)

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start answering, first the messages a previous run accepted but never took."""
        for message_id in self.records.queued(self.channel, dt.datetime.now(dt.UTC) - REPLY_WINDOW):
            self._enqueue(message_id)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the message in hand; those still queued wait in the database."""
        self._queue.put(None)
        self._thread.join(timeout)
        self.graph.close()

    def drain(self) -> bool:
        """Wait until every accepted message is answered (True), however long that takes;
        False when the worker thread is gone with messages still queued."""
        return self._pending.wait(self._thread)

    # ------------------------------------------------------------ the webhook's side

    def accept(self, payload: object) -> int:
        """Record a webhook call's status updates, errors and new messages; the number of
        messages queued (a repeated delivery, or one to a number not answered here,
        queues nothing)."""
        webhook = parse_webhook(payload, self._ours)
        for number_id, display in webhook.numbers.items():
            if display not in self._ours:
                self.records.add_number(number_id, display)
                self._ours.add(display)
        for status in webhook.statuses:
            self.records.add_status(status)
        for error in webhook.errors:
            log.warning(
                "WhatsApp error %s (%s) for %s: %s",
                error.code,
                error.title,
                f"message {error.message_id}" if error.message_id else "the webhook",
                error.details,
            )
        if webhook.errors:
            self.records.add_errors(webhook.errors)
        allowed = self.bridge.settings.whatsapp_allowed_phone_number_ids
        queued = 0
        for inbound in webhook.messages:
            if allowed and inbound.business not in allowed:
                log.info(
                    "WhatsApp message %s to number %r ignored: not in the allowed numbers",
                    inbound.id,
                    inbound.business,
                )
                continue
            if self.records.receive(inbound, self.channel):
                self._enqueue(inbound.id)
                queued += 1
        return queued

    def _enqueue(self, message_id: str) -> None:
        self._pending.add()
        self._queue.put(message_id)

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        while (message_id := self._queue.get()) is not None:
            try:
                self._process(message_id)
            except Exception:  # the thread must outlive any one message
                log.exception("WhatsApp message %s was not answered", message_id)
            finally:
                self._pending.done()

    def _process(self, message_id: str) -> None:
        inbound = self.records.claim(message_id)
        if inbound is None:
            return
        outcome = self.bridge.respond(inbound, "whatsapp")
        error = self._send_all(inbound, outcome.replies) or outcome.error
        self.records.finish(message_id, "failed" if error else outcome.state, error)

    def _send_all(self, inbound: Inbound, replies: list[Reply]) -> str | None:
        """Send in order, stopping at the first message Meta would not take (the next
        ones would not make sense without it); that failure, or None."""
        for reply in replies:
            payload = reply_payload(inbound.sender, reply)
            try:
                sent = self.graph.send(payload, inbound.business)
            except SendFailed as exc:
                log.error(
                    "WhatsApp reply to %s not sent after %d tries: %s",
                    inbound.id,
                    exc.attempts,
                    exc,
                )
                self.records.add_send(inbound.id, payload, attempts=exc.attempts, error=str(exc))
                return str(exc)
            self.records.add_send(
                inbound.id, payload, attempts=sent.attempts, message_id=sent.message_id
            )
        return None

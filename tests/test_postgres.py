"""The conversations database on SQLite and on a real PostgreSQL 15: the same types,
lengths and time zones, processes writing to one conversation at once, and the
WhatsApp channels' state.

(The API round-trip over both backends is in tests/api/test_conversations.py.)
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import multiprocessing.synchronize
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from assistant.answer import Answer, Citation
from assistant.channels.records import WhatsAppRecords
from assistant.channels.whatsapp import Inbound
from assistant.conversations import TITLE_CHARS, Conversations

pytestmark = pytest.mark.slow

TURNS_PER_WRITER = 25
WRITERS = ("a", "b", "c", "d")  # server processes


def answer(text: str, language: str = "en") -> Answer:
    citation = Citation(1, "guides/é.md", "Titre « long »", "§ 2", "", "P", "2025", "fr", "…")
    return Answer(text=text, citations=[citation], notices=["n"], language=language)


def test_values_come_back_as_they_were_stored(database_url):
    store = Conversations.from_url(database_url)
    conversation = store.new_id()
    question = "Quelle TVA s'applique à l'export de vins ? " * 10  # over the title's length
    store.add_turn(conversation, question, answer("Réponse 🚢 [1]", language="fr"))
    store.set_feedback(conversation, 1, "down", "Trop court — voir § 3")
    record = store.get(conversation)
    store.close()

    assert record.title == " ".join(question.split())[:TITLE_CHARS]
    turn = record.turns[0]
    assert (turn.answer, turn.language, turn.refused) == ("Réponse 🚢 [1]", "fr", False)
    assert turn.citations == [answer("").citations[0].as_dict()]
    assert turn.feedback is not None and turn.feedback.comment == "Trop court — voir § 3"
    for moment in (record.created_at, turn.created_at, turn.feedback.created_at):
        assert moment.utcoffset() == dt.timedelta(0), "times are UTC and say so"


def write_turns(url: str, conversation_id: str, writer: str) -> list[int]:
    """One server process: its turns, one after the other, as its requests come."""
    store = Conversations.from_url(url)
    try:
        return [
            store.add_turn(conversation_id, f"{writer} {i}", answer(f"{writer} {i}")).n
            for i in range(TURNS_PER_WRITER)
        ]
    finally:
        store.close()


def test_processes_writing_one_conversation_never_share_a_turn_number(database_url):
    store = Conversations.from_url(database_url)
    conversation = store.new_id()
    spawn = multiprocessing.get_context("spawn")  # fresh processes, as uvicorn workers are
    with ProcessPoolExecutor(len(WRITERS), mp_context=spawn) as pool:
        runs = [pool.submit(write_turns, database_url, conversation, w) for w in WRITERS]
        numbers = [run.result() for run in runs]

    every = list(range(1, len(WRITERS) * TURNS_PER_WRITER + 1))
    assert sorted(n for mine in numbers for n in mine) == every
    turns = store.get(conversation).turns
    store.close()
    assert [t.n for t in turns] == every
    for writer, mine in zip(WRITERS, numbers, strict=True):
        assert [t.question for t in turns if t.question.startswith(writer)] == [
            f"{writer} {i}" for i in range(TURNS_PER_WRITER)
        ]
        assert mine == sorted(mine), "each writer's turns keep its order"


def open_every_store(url: str, start: multiprocessing.synchronize.Barrier) -> None:
    """One server worker starting on a new database: every store makes its tables."""
    from assistant.approved import ApprovedAnswers
    from assistant.conversations import make_engine
    from assistant.handoffs import Handoffs

    engine = make_engine(url)
    start.wait()
    Conversations(engine)
    Handoffs(engine)
    WhatsAppRecords(engine)
    ApprovedAnswers(engine, lambda: None, Path("unused.csv"), 0.8)
    engine.dispose()


def test_workers_starting_together_on_a_new_database_all_start(database_url):
    """Before: "table conversations already exists" for most of two to four uvicorn
    workers started together on a new database (each looked, then created)."""
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, ProcessPoolExecutor(len(WRITERS), mp_context=spawn) as pool:
        start = manager.Barrier(len(WRITERS))
        runs = [pool.submit(open_every_store, database_url, start) for _ in WRITERS]
        for run in runs:
            run.result()  # raises what the worker raised
    store = Conversations.from_url(database_url)
    store.add_turn(store.new_id(), "q", answer("a"))
    store.close()


def test_whatsapp_state_in_the_same_database(database_url):
    """The channels keep their state next to the conversations: the same guarantees on
    both backends (a repeated delivery refused, a message claimed by one worker only)."""
    store = Conversations.from_url(database_url)
    records = WhatsAppRecords(store.engine)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    message = Inbound("wamid.1", "+33600000000", "text", "Bonjour")
    assert records.receive(message, "meta") and not records.receive(message, "meta")
    assert records.queued("meta", since) == ["wamid.1"]
    assert records.claim("wamid.1") == message and records.claim("wamid.1") is None
    records.finish("wamid.1", "answered")
    assert records.queued("meta", since) == []
    first = records.chat("+33600000000")
    assert records.chat("+33600000000") == first
    assert records.new_conversation("+33600000000").conversation_id != first.conversation_id
    store.close()


BSUID = "US." + "7" * 128  # the longest business-scoped user id Meta documents


def test_whatsapp_state_keeps_a_business_scoped_user_id_whole(database_url):
    """A user known by a username only: every column that holds a sender takes the
    131 characters of the longest BSUID (PostgreSQL would refuse a longer value)."""
    store = Conversations.from_url(database_url)
    records = WhatsAppRecords(store.engine)
    message = Inbound("wamid.bsuid", BSUID, "text", "Hello", business="1098765432")
    assert records.receive(message, "meta")
    assert records.claim("wamid.bsuid") == message
    chat = records.chat(BSUID)
    assert records.chat(BSUID) == chat
    records.add_send("wamid.bsuid", {"recipient": BSUID, "type": "text"}, attempts=1)
    (sent,) = records.sends(in_reply_to="wamid.bsuid")
    assert sent.recipient == BSUID
    store.close()


def test_whatsapp_tables_of_an_earlier_version_are_upgraded(database_url):
    """Tables made before senders could be BSUIDs (64 characters, no ``business``): the
    records widen them and add the column, keeping the rows."""
    store = Conversations.from_url(database_url)
    with store.engine.begin() as connection:
        for table in ("whatsapp_messages", "whatsapp_chats"):
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        connection.exec_driver_sql(
            "CREATE TABLE whatsapp_messages (id VARCHAR(255) PRIMARY KEY, channel VARCHAR(16), "
            "sender VARCHAR(64), kind VARCHAR(32), text TEXT, state VARCHAR(16), error TEXT, "
            "received_at TIMESTAMP WITH TIME ZONE, updated_at TIMESTAMP WITH TIME ZONE)"
        )
        connection.exec_driver_sql(
            "CREATE TABLE whatsapp_chats (sender VARCHAR(64) PRIMARY KEY, "
            "conversation_id VARCHAR(36), language VARCHAR(8), "
            "updated_at TIMESTAMP WITH TIME ZONE)"
        )
        connection.exec_driver_sql(
            "INSERT INTO whatsapp_messages VALUES ('wamid.old', 'meta', '33600000001', 'text', "
            "'Hi', 'answered', NULL, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
    records = WhatsAppRecords(store.engine)
    assert records.message("wamid.old").state == "answered"
    assert records.receive(Inbound("wamid.new", BSUID, "text", "Hi", "1098765432"), "meta")
    assert records.claim("wamid.new").business == "1098765432"
    assert records.chat(BSUID) == records.chat(BSUID)
    WhatsAppRecords(store.engine)  # a second start finds nothing to change
    store.close()


def hostile_webhook() -> dict:
    """A signed webhook call whose every field is longer or stranger than Meta's forms
    (what another library's fixtures sent: a 10,000-character ``type``)."""
    huge = "x" * 10_000
    messages = [
        {"from": "33612340001", "id": "wamid.h1", "type": huge, huge: {"caption": "Hi"}},
        {"from": "bla", "id": "wamid.h2", "type": "text", "text": {"body": "Hello"}},
        {"from": "٣٣٦١٢٣٤٠٠٠٣", "id": "wamid.h3", "type": "text", "text": {"body": "Hi"}},
        {"from": "33612340004", "id": "w" * 300, "type": "text", "text": {"body": "Hi"}},
        {"from_user_id": "US." + "7" * 200, "id": "wamid.h5", "type": "text"},
    ]
    statuses = [
        {"id": "wamid.s1", "status": huge, "timestamp": "1", "recipient_id": "1"},
        {
            "id": "wamid.s2",
            "status": "failed",
            "timestamp": "9" * 500,
            "recipient_id": huge,
            "errors": [{"code": 10**30, "title": huge, "error_data": {"details": huge}}],
        },
    ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "1" * 100, "phone_number_id": "9" * 100},
        "messages": messages,
        "statuses": statuses,
        "errors": [{"code": 131000, "title": "Something", "message": huge}],
    }
    return {"entry": [{"changes": [{"field": "messages", "value": value}]}]}


def test_every_whatsapp_field_stored_fits_its_column(database_url, tmp_path):
    """Before (issue 22): ``business``, ``kind`` and ``display_phone_number`` were 32-64
    characters while SQLite stored a 10,000-character ``type`` (PostgreSQL refused it:
    a 500 and Meta's retries). Senders not in a documented form are not answered."""
    from sqlalchemy import String, func, select

    from assistant.advisers import Advisers
    from assistant.channels.bridge import Bridge, WhatsAppWorker
    from assistant.channels.records import _TABLES
    from assistant.channels.whatsapp import GraphClient
    from assistant.clients import ClientKeys
    from assistant.handoffs import Handoffs
    from assistant.notify import Notifier
    from assistant.ratelimit import Budgets
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "var", tmp_path / "corpus", database_url=database_url)
    store = Conversations.from_url(database_url)
    records = WhatsAppRecords(store.engine)
    budgets = Budgets.from_settings(settings)
    graph = GraphClient(base_url="http://127.0.0.1:9", version="v1", phone_number_id="1", token="t")
    handoffs = Handoffs(store.engine)
    advisers = Advisers(
        settings, handoffs, records, Notifier(settings, handoffs), budgets, lambda: graph, None
    )
    clients = ClientKeys.in_dir(tmp_path / "var")
    bridge = Bridge(settings, records, store, lambda: None, budgets, advisers, clients)
    worker = WhatsAppWorker(bridge, graph)
    assert worker.accept(hostile_webhook()) == 1  # only wamid.h1, from a phone number
    (kept,) = [
        records.message(f"wamid.h{n}") for n in (1, 2, 3, 5) if records.message(f"wamid.h{n}")
    ]
    assert (kept.sender, kept.kind, kept.business) == ("33612340001", "unknown", None)
    with store.engine.connect() as connection:
        for table in _TABLES:
            for column in table.columns:
                if isinstance(column.type, String) and column.type.length:
                    longest = connection.scalar(select(func.max(func.length(column))))
                    assert (longest or 0) <= column.type.length, (table.name, column.name)
        assert connection.scalar(select(func.count()).select_from(_TABLES[3])) == 1  # s2
    graph.close()
    store.close()

"""Guides uploaded from the helpdesk API: answered with a citation, replaced, deleted,
audited, and every way an upload is refused. Each module gets its own index (uploads
change it), over a copy of the sample corpus."""

from __future__ import annotations

import hashlib
import io
import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.api.routes.helpdesk import named_key
from assistant.conversations import make_engine
from assistant.lexical import LexicalRecords
from assistant.settings import Settings
from assistant.store import chroma_client
from assistant.uploads import GuideFields, Uploads
from ingest.index import Indexer
from tests.api.conftest import open_client
from tests.channels.conftest import HELPDESK_KEY, deliver, new_wa_id, text_message
from tests.conftest import copy_sample_corpus, make_settings
from tests.support.app_fixtures import wait_for
from tests.test_injection import HOSTILE, OBEYED, QUESTIONS

pytestmark = pytest.mark.slow

STAFF_KEY = "s3cret-anna-key"
KEY = {"X-API-Key": STAFF_KEY}
MAX_BYTES = 300_000

QUESTION = "What is the Zorbian plush levy in Quokkaland?"
GUIDE = """---
title: Quokkaland export levies
publisher: The Export Desk
---

# Quokkaland export levies

## Plush toys

The Zorbian plush toy levy for exports to Quokkaland is 7 percent of the invoice value.
Exporters pay the Zorbian levy to the Quokkaland customs office before shipping.
"""
GUIDE_V2 = GUIDE.replace("7 percent", "9 percent")


def guide_index(root: Path, embeddings, **overrides) -> Settings:
    """A fresh index of the sample corpus, with a named staff key and small limits."""
    settings = make_settings(
        root / "var",
        copy_sample_corpus(root),
        database_url=f"sqlite:///{root / 'assistant.db'}",
        helpdesk_api_keys=[SecretStr(f"anna:{STAFF_KEY}")],
        **{"upload_max_bytes": MAX_BYTES, "upload_max_files": 3, **overrides},
    )
    Indexer(settings, embeddings).run([settings.corpus_dir])
    return settings


@pytest.fixture(scope="module")
def desk(tmp_path_factory, embeddings) -> Iterator[TestClient]:
    settings = guide_index(tmp_path_factory.mktemp("uploads"), embeddings)
    client = open_client(settings, embeddings)
    yield client
    client.__exit__(None, None, None)


def upload(client: TestClient, name: str, data: bytes, **fields: str):
    return client.post(
        "/api/helpdesk/documents", files={"file": (name, data)}, data=fields, headers=KEY
    )


def status_of(client: TestClient, document_id: str) -> dict | None:
    listed = client.get("/api/helpdesk/documents", headers=KEY).json()["uploads"]
    return next((d for d in listed if d["id"] == document_id), None)


def wait_ready(client: TestClient, document_id: str) -> dict:
    return wait_for(
        lambda: (found := status_of(client, document_id)) and found["status"] == "ready" and found,
        "the uploaded guide embedded",
    )


def ask(client: TestClient, question: str = QUESTION) -> dict:
    response = client.post("/api/chat", json={"message": question})
    assert response.status_code == 200, response.text
    return response.json()


def chunk_ids(settings: Settings, source: str) -> tuple[set[str], set[str]]:
    """The ids of ``source``'s chunks in BM25 and in Chroma."""
    lexical = {id_ for id_, *_ in LexicalRecords(settings.lexical_path).of_source(source)}
    collection = chroma_client(settings).get_collection(settings.collection)
    dense = set(collection.get(where={"source": source}, include=[])["ids"])
    return lexical, dense


def test_an_uploaded_guide_is_cited_replaced_and_deleted(desk):
    settings = desk.app.state.settings
    assert ask(desk)["refused"], "the sample corpus should not answer the guide's question"

    response = upload(desk, "levies.md", GUIDE.encode(), date="2026-03", jurisdiction="QL")
    assert response.status_code == 202, response.text
    (document,) = response.json()["uploaded"]
    assert document["title"] == "Quokkaland export levies"  # from the file
    assert document["added_by"] == "anna"
    document_id, source = document["id"], document["source"]
    assert wait_ready(desk, document_id)["chunks"] >= 1
    assert (settings.data_dir / "uploads" / document_id).is_dir()
    assert not list((settings.corpus_dir).rglob("levies.md")), "never in the corpus"

    answer = ask(desk)
    assert not answer["refused"]
    assert "7 percent" in answer["answer"]
    cited = {c["source"]: c for c in answer["citations"]}
    assert cited[source]["date"] == "2026-03"
    assert cited[source]["publisher"] == "The Export Desk"
    old_lexical, old_dense = chunk_ids(settings, source)
    assert old_lexical and old_lexical == old_dense

    response = desk.put(
        f"/api/helpdesk/documents/{document_id}",
        files={"file": ("levies.md", GUIDE_V2.encode())},
        data={"date": "2026-11"},
        headers=KEY,
    )
    assert response.status_code == 202, response.text
    assert response.json()["version"] == 2
    assert wait_ready(desk, document_id)["date"] == "2026-11"
    answer = ask(desk)
    assert "9 percent" in answer["answer"] and "7 percent" not in answer["answer"]
    cited = {c["source"]: c for c in answer["citations"]}
    assert cited[source]["date"] == "2026-11"
    assert cited[source]["licence"] == "" and cited[source]["title"]
    new_lexical, new_dense = chunk_ids(settings, source)
    assert new_lexical == new_dense and not new_lexical & old_lexical  # old chunks gone
    assert desk.get(f"/api/sources/{source}").json()["date"] == "2026-11"

    response = desk.delete(f"/api/helpdesk/documents/{document_id}", headers=KEY)
    assert response.status_code == 200
    wait_for(lambda: chunk_ids(settings, source) == (set(), set()), "chunks deleted")
    assert status_of(desk, document_id) is None
    assert not (settings.data_dir / "uploads" / document_id).exists()
    assert ask(desk)["refused"]

    audit = desk.get("/api/helpdesk/audit", headers=KEY).json()
    mine = [entry for entry in audit if entry["document_id"] == document_id]
    assert [(e["action"], e["version"]) for e in mine] == [
        ("delete", 2),
        ("replace", 2),
        ("upload", 1),
    ]
    assert {e["key_name"] for e in mine} == {"anna"}
    assert STAFF_KEY not in desk.get("/api/helpdesk/audit", headers=KEY).text


def test_a_key_is_audited_by_its_name_never_itself():
    assert named_key(SecretStr("anna:s3cret:with-colon")) == ("anna", b"s3cret:with-colon")
    digest = hashlib.sha256(b"plain-key").hexdigest()[:8]
    assert named_key(SecretStr("plain-key")) == (f"key-{digest}", b"plain-key")


def test_the_corpus_is_listed_read_only_with_the_limits(desk):
    body = desk.get("/api/helpdesk/documents", headers=KEY).json()
    sources = {d["source"] for d in body["corpus"]}
    assert "guides/borrow-against-assets.html" in sources or any(
        s.startswith("guides/") for s in sources
    )
    assert all(not s.startswith("uploads/") for s in sources)
    assert body["limits"] == {"max_bytes": MAX_BYTES, "max_files": 3, "max_documents": 500}
    # No route changes the shipped corpus.
    assert desk.delete("/api/helpdesk/documents/guides", headers=KEY).status_code == 404


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_adds_each_guide_and_says_why_it_left_some_out(desk):
    archive = zipped(
        {
            "../../etc/desk-faq.txt": b"The desk answers export questions on weekdays.",
            "broken.pdf": b"%PDF-1.4 not really a pdf",
            "tool.exe": b"MZ\x90\x00",
        }
    )
    response = upload(desk, "guides.zip", archive, topics="faq, desk")
    assert response.status_code == 202, response.text
    body = response.json()
    (faq,) = body["uploaded"]
    assert faq["filename"] == "desk-faq.txt"
    assert faq["source"] == f"uploads/{faq['id']}/desk-faq.txt"
    reasons = {r["filename"]: r["reason"] for r in body["rejected"]}
    assert reasons["tool.exe"] == "unsupported file type"
    assert "corrupt" in reasons["broken.pdf"]
    wait_ready(desk, faq["id"])
    records = LexicalRecords(desk.app.state.settings.lexical_path).of_source(faq["source"])
    assert {meta["topics"] for *_, meta in records} == {"faq,desk"}
    assert desk.delete(f"/api/helpdesk/documents/{faq['id']}", headers=KEY).status_code == 200


@pytest.mark.parametrize(
    ("request_", "status", "code"),
    [
        (
            lambda c: c.post("/api/helpdesk/documents", files={"file": ("a.md", b"# A\n\nText.")}),
            401,
            "invalid_api_key",
        ),
        (lambda c: c.get("/api/helpdesk/documents"), 401, "invalid_api_key"),
        (
            lambda c: c.get("/api/helpdesk/audit", headers={"X-API-Key": "s3cret"}),
            401,
            "invalid_api_key",
        ),
        (
            lambda c: c.delete("/api/helpdesk/documents/x", headers={"X-API-Key": "anna"}),
            401,
            "invalid_api_key",
        ),
        (lambda c: upload(c, "tool.exe", b"MZ\x90\x00 binary"), 415, "unsupported_type"),
        (lambda c: upload(c, "notes", b"no suffix at all"), 415, "unsupported_type"),
        (lambda c: upload(c, "big.txt", b"word " * (MAX_BYTES // 5 + 1)), 413, "file_too_large"),
        (lambda c: upload(c, "huge.txt", b"x" * (MAX_BYTES + 70_000)), 413, "request_too_large"),
        (lambda c: upload(c, "broken.pdf", b"%PDF-1.4\n garbage"), 422, "unreadable_file"),
        (lambda c: upload(c, "empty.md", b"   \n"), 422, "unreadable_file"),
        (lambda c: upload(c, "bad.zip", b"PK\x03\x04 not a zip"), 422, "unreadable_file"),
        (
            lambda c: upload(c, "many.zip", zipped({f"{n}.txt": b"Some text." for n in "abcd"})),
            422,
            "too_many_files",
        ),
        (
            lambda c: c.put(
                "/api/helpdesk/documents/nope", files={"file": ("a.md", b"# A\n\nB.")}, headers=KEY
            ),
            404,
            "document_not_found",
        ),
        (
            lambda c: c.delete("/api/helpdesk/documents/nope", headers=KEY),
            404,
            "document_not_found",
        ),
    ],
)
def test_refused_uploads_say_why(desk, request_, status, code):
    response = request_(desk)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_a_corrupt_file_gets_its_reason(desk):
    response = upload(desk, "scan.pdf", b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF")
    assert response.status_code == 422
    assert "scan.pdf: " in response.json()["error"]["message"]


def test_the_same_file_or_name_twice_is_a_duplicate(desk):
    first = upload(desk, "dup.md", b"# Duplicate test\n\nThe Frobnitz form is blue.")
    assert first.status_code == 202
    document_id = first.json()["uploaded"][0]["id"]
    again = upload(desk, "copy.md", b"# Duplicate test\n\nThe Frobnitz form is blue.")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate"
    assert "replace it instead" in again.json()["error"]["message"]
    renamed = upload(desk, "DUP.md", b"# Other text\n\nThe Frobnitz form is red.")
    assert renamed.status_code == 409
    same = desk.put(
        f"/api/helpdesk/documents/{document_id}",
        files={"file": ("dup.md", b"# Duplicate test\n\nThe Frobnitz form is blue.")},
        headers=KEY,
    )
    assert same.status_code == 409
    assert "this version" in same.json()["error"]["message"]
    zipped_replace = desk.put(
        f"/api/helpdesk/documents/{document_id}",
        files={"file": ("dup.zip", zipped({"dup.md": b"# Z\n\nText."}))},
        headers=KEY,
    )
    assert zipped_replace.status_code == 415
    assert desk.delete(f"/api/helpdesk/documents/{document_id}", headers=KEY).status_code == 200


def test_an_uploaded_guide_is_as_untrusted_as_the_corpus(desk):
    response = upload(desk, "japan.md", HOSTILE.read_bytes())
    assert response.status_code == 202, response.text
    document = response.json()["uploaded"][0]
    wait_ready(desk, document["id"])
    for question in QUESTIONS:
        answer = ask(desk, question)
        assert document["source"] in {c["source"] for c in answer["citations"]}, question
        shown = answer["answer"] + " ".join(c["snippet"] + c["url"] for c in answer["citations"])
        assert not OBEYED.search(shown), shown
    assert desk.delete(f"/api/helpdesk/documents/{document['id']}", headers=KEY).status_code == 200


def test_a_guide_stored_before_a_crash_is_indexed_at_the_next_start(tmp_path, embeddings):
    """The row and file are written, then the server dies before indexing anything: the
    next start indexes the guide in both indexes, and drops a file no row points to."""
    settings = guide_index(tmp_path, embeddings)
    uploads = Uploads(settings, make_engine(settings.database))
    (row,), _ = uploads.add("levies.md", io.BytesIO(GUIDE.encode()), GuideFields(), "anna")
    orphan = settings.data_dir / "uploads" / "0123456789ab" / "1" / "lost.md"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("# Lost\n\nNo row points here.")
    an_hour_ago = time.time() - 3600
    os.utime(orphan.parent, (an_hour_ago, an_hour_ago))
    half_received = settings.data_dir / "uploads" / ".staging" / "crashed"
    half_received.mkdir(parents=True)
    os.utime(half_received, (an_hour_ago, an_hour_ago))
    client = open_client(settings, embeddings)
    try:
        wait_ready(client, row.id)
        lexical, dense = chunk_ids(settings, row.source)
        assert lexical and lexical == dense
        assert not ask(client)["refused"]
        assert not orphan.parent.parent.exists()
        assert not half_received.exists()
    finally:
        client.__exit__(None, None, None)


def test_the_report_and_freshness_over_the_api(desk):
    refused = ["What is the Blorvian glimmer?", "Where is the Blorvian glimmer?"]
    for question in refused:
        assert ask(desk, question)["refused"]
    factoring = ask(desk, "How much of an invoice can I borrow with invoice factoring?")
    rating = {"conversation_id": factoring["conversation_id"], "turn": 1, "rating": "down"}
    assert desk.post("/api/feedback", json=rating).status_code == 201

    report = desk.get("/api/helpdesk/report", headers=KEY).json()
    topic = next(t for t in report["topics"] if "Blorvian" in t["label"])
    assert topic["count"] == 2 and topic["channels"] == {"web": 2}
    assert [q["question"] for q in topic["questions"]] == refused[::-1]  # newest first
    assert all(q["answer"] and q["reasons"] == ["refused"] for q in topic["questions"])
    down = [q for t in report["topics"] for q in t["questions"] if "rated down" in q["reasons"]]
    assert [q["conversation_id"] for q in down] == [factoring["conversation_id"]]

    response = desk.get("/api/helpdesk/report.csv", headers=KEY)
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.count("Blorvian glimmer") == 2 * 2  # its question and label
    future = {"since": "2099-01-01", "until": "2099-01-31"}
    assert desk.get("/api/helpdesk/report", params=future, headers=KEY).json()["topics"] == []
    backwards = {"since": "2026-02-01", "until": "2026-01-01"}
    bad = desk.get("/api/helpdesk/report", params=backwards, headers=KEY)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_period"
    for edge in ({"until": "0001-01-02"}, {"until": "9999-12-31"}):  # outside FIRST/LAST_DAY
        bad = desk.get("/api/helpdesk/report", params=edge, headers=KEY)
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "until"

    fresh = desk.get("/api/helpdesk/freshness", params={"max_age_days": 365}, headers=KEY)
    stale = {s["source"]: s for s in fresh.json()["sources"]}
    cited = {c["source"] for c in factoring["citations"]}
    assert cited and cited <= set(stale), "the sample guides are dated 2018"
    assert all(stale[source]["cited"] >= 1 for source in cited)
    assert all(s["age_days"] > 365 for s in stale.values())


def test_whatsapp_questions_count_in_the_report_as_whatsapp(client):
    """``client``: the channel tests' app (WhatsApp on, its own database)."""
    question = "What is the Vexlorian gadget permit?"
    deliver(client, text_message(new_wa_id(), question))
    report = client.get("/api/helpdesk/report", headers={"X-API-Key": HELPDESK_KEY}).json()
    asked = [q for t in report["topics"] for q in t["questions"] if q["question"] == question]
    assert [q["channel"] for q in asked] == ["whatsapp"]
    assert asked[0]["reasons"] in (["refused"], ["low evidence"])

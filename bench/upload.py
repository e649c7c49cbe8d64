"""From a guide uploaded on the helpdesk to the web chat citing it: a PDF of 20 pages,
over the full corpus with the default settings (embedder ``minilm+use``).

    python -m bench.upload [--pages 20] [--data-dir DIR]

Starts ``python -m assistant serve`` on a fresh data dir (or DIR, to reuse an index),
waits for its full hybrid index, uploads the PDF through ``POST /api/helpdesk/documents``,
waits until keyword search has it, asks ``/api/chat`` until an answer cites it, and waits
until the guide is embedded. Prints one JSON line: seconds from the upload to each.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from tests.support.servers import assistant_server

QUESTION = "What is the Zorbian plush levy in Quokkaland?"
_FILLER = (
    "Exporters should keep copies of commercial invoices, packing lists and transport "
    "documents for at least five years, and check the customs classification of each "
    "product before shipping. "
)


def handbook(path: Path, levy: str, pages: int = 20) -> Path:
    """A PDF of ``pages`` pages of export advice; page 13 alone answers ``QUESTION``."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    pdf.setTitle("Quokkaland export handbook")
    for page in range(1, pages + 1):
        text = pdf.beginText(50, 800)
        text.textLine(f"Chapter {page}: shipping goods abroad")
        lines = [_FILLER[i : i + 90] for i in range(0, len(_FILLER), 90)] * 12
        if page == min(13, pages):
            lines[5:5] = [
                f"The Zorbian plush levy in Quokkaland is {levy} of the invoice value.",
                "Exporters pay the Zorbian levy to the Quokkaland customs office.",
            ]
        for line in lines:
            text.textLine(line)
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    return path


def _until(condition, timeout: float, pause: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(pause)
    raise TimeoutError(f"not within {timeout} s")


def measure(pages: int, data_dir: Path) -> dict:
    with (
        assistant_server(
            "/healthz",
            ASSISTANT_DATA_DIR=str(data_dir),
            ASSISTANT_HELPDESK_API_KEYS="bench:bench-key",
            ASSISTANT_RATE_LIMIT="",
            ASSISTANT_HELPDESK_RATE_LIMIT="",
        ) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        started = time.monotonic()
        _until(lambda: client.get("/readyz").json()["indexing"]["phase"] == "complete", 1800)
        indexed = time.monotonic() - started
        # A running server has answered before: its first answer's one-off costs are
        # not the upload's.
        client.post("/api/chat", json={"message": QUESTION}).raise_for_status()
        pdf = handbook(data_dir / "handbook.pdf", "7 percent", pages)
        headers = {"X-API-Key": "bench-key"}
        started = time.monotonic()
        response = client.post(
            "/api/helpdesk/documents",
            files={"file": (pdf.name, pdf.read_bytes())},
            headers=headers,
        )
        response.raise_for_status()
        guide = response.json()["uploaded"][0]
        uploaded = time.monotonic() - started

        def status() -> str:
            listed = client.get("/api/helpdesk/documents", headers=headers).json()
            return next(d["status"] for d in listed["uploads"] if d["id"] == guide["id"])

        _until(lambda: status() != "queued", 300)
        searchable = time.monotonic() - started

        def cited() -> bool:
            answer = client.post("/api/chat", json={"message": QUESTION}).json()
            return any(c["source"] == guide["source"] for c in answer["citations"])

        _until(cited, 300)
        to_answer = time.monotonic() - started

        _until(lambda: status() == "ready", 600)
        to_vectors = time.monotonic() - started
        client.delete(f"/api/helpdesk/documents/{guide['id']}", headers=headers)
    return {
        "pages": pages,
        "chunks": guide["chunks"],
        "hybrid_index_seconds": round(indexed, 1),
        "upload_request_seconds": round(uploaded, 1),
        "upload_to_keyword_search_seconds": round(searchable, 1),
        "upload_to_cited_answer_seconds": round(to_answer, 1),
        "upload_to_vectors_seconds": round(to_vectors, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, help="reuse this data dir's index")
    args = parser.parse_args()
    if args.data_dir:
        print(json.dumps(measure(args.pages, args.data_dir)))
        return
    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(measure(args.pages, Path(folder))))


if __name__ == "__main__":
    main()

"""Uploads that cost far more than their size (issue 22), and what each costs here.

    python -m bench.hostile_uploads [--data-dir DIR]

Makes the probe's files: a 12-page PDF whose pages share one Flate stream of 900,000
path operators (about 6 KB), a DOCX whose 31 KB hold 20 MB of XML, and a 19 MB text
guide. Each is checked as the helpdesk's upload does (``Uploads.add``, sample corpus,
default limits) in a process of its own, one after the other; a small guide is uploaded
from another thread while the first hostile one is being read. Prints one JSON line per
file: seconds, the process's peak memory growth (MiB), and what the upload said; then
how long the small guide waited. Run it from a checkout to measure that checkout.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import resource
import tempfile
import threading
import time
import zipfile
import zlib
from pathlib import Path

__all__ = ["docx_of_xml", "pdf_of_shared_stream", "text_guide"]

SMALL_GUIDE = b"# Small guide\n\nThe Zorbian levy is 7 percent of the invoice value.\n"


def pdf_of_shared_stream(pages: int = 12, operators: int = 900_000) -> bytes:
    """A PDF whose ``pages`` pages all draw one compressed content stream of
    ``operators`` path operators: a few KB that every page's text extraction parses."""
    content = zlib.compress(b"0 0 m\n" * (operators // 2) + b"BT /F1 9 Tf (levy) Tj ET\n", 9)
    kids = " ".join(f"{4 + n} 0 R" for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
        + content
        + b"\nendstream",
    ]
    font = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
    objects += [
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
        f"/Resources {font} >>".encode()
        for _ in range(pages)
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def docx_of_xml(xml_bytes: int = 20_000_000) -> bytes:
    """A DOCX whose document.xml holds ``xml_bytes`` of one-letter paragraphs."""
    paragraph = b"<w:p><w:r><w:t>a</w:t></w:r></w:p>"
    body = paragraph * (xml_bytes // len(paragraph))
    namespace = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = (
        b"<?xml version='1.0' encoding='UTF-8'?><w:document %s><w:body>%s</w:body></w:document>"
    )
    relationship = (
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
    )
    parts = {
        "[Content_Types].xml": (
            b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
            b'package/2006/content-types"><Default Extension="rels" ContentType="application/'
            b'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            b'ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType='
            b'"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            b"</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
            f'Type="{relationship}" Target="word/document.xml"/></Relationships>'
        ).encode(),
        "word/document.xml": document % (namespace, body),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def text_guide(size: int = 19_000_000) -> bytes:
    """A plain-text guide of ``size`` bytes of varied sentences."""
    sentence = "Exporters declare goods number {} to customs before shipping them abroad. "
    parts, total, n = [], 0, 0
    while total < size:
        line = sentence.format(n)
        parts.append(line + ("\n\n" if n % 8 == 7 else ""))
        total += len(line)
        n += 1
    return "".join(parts).encode()


def _measure(name: str, data: bytes, data_dir: str, queue) -> None:
    """In a process of its own: upload ``data`` as ``name``, time it, peak memory growth."""
    from assistant.conversations import make_engine
    from assistant.uploads import GuideFields, Uploads
    from tests.conftest import copy_sample_corpus, make_settings

    root = Path(data_dir)
    corpus = root / "corpus" if (root / "corpus").is_dir() else copy_sample_corpus(root)
    settings = make_settings(
        root / "var", corpus, database_url=f"sqlite:///{root / 'a.db'}", upload_max_bytes=2**25
    )
    uploads = Uploads(settings, make_engine(settings.database_url))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    waited: dict = {}

    def small() -> None:
        time.sleep(1)  # the big one has the lock by then, if it takes it
        begun = time.monotonic()
        uploads.add("small.md", io.BytesIO(SMALL_GUIDE), GuideFields(), "bench")
        waited["small_upload_seconds"] = round(time.monotonic() - begun, 1)

    other = threading.Thread(target=small)
    other.start()
    try:
        rows, rejected = uploads.add(name, io.BytesIO(data), GuideFields(), "bench")
        outcome = {"chunks": sum(r.chunks for r in rows), "rejected": [r.reason for r in rejected]}
    except Exception as exc:
        outcome = {"refused": getattr(exc, "message", str(exc))}
    seconds = time.monotonic() - started
    other.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Children (the parsing worker, when there is one) count apart.
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    queue.put(
        {
            "file": name,
            "bytes": len(data),
            "seconds": round(seconds, 1),
            "peak_growth_mib": round((peak - before) / 1024),
            "worker_peak_mib": round(children / 1024),
            **outcome,
            **waited,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="where to make the sample index")
    args = parser.parse_args()
    files = {
        "shared-stream.pdf": pdf_of_shared_stream(),
        "xml-bomb.docx": docx_of_xml(),
        "huge-guide.txt": text_guide(),
    }
    context = multiprocessing.get_context("spawn")
    for name, data in files.items():
        with tempfile.TemporaryDirectory(dir=args.data_dir) as folder:
            queue = context.Queue()
            process = context.Process(target=_measure, args=(name, data, folder, queue))
            process.start()
            print(json.dumps(queue.get()), flush=True)
            process.join()


if __name__ == "__main__":
    main()

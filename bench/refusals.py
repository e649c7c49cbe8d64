"""What a flood of refused requests from one address costs the others' answers, with the
budget of refused requests off and on (issue 22: 826 refused requests a second made
others' answers 3-4 times slower).

    python -m bench.refusals [--questions 20] [--flooders 8]

Starts ``python -m assistant serve`` over the sample corpus (``minilm``, its own data
dir), once with ``ASSISTANT_REFUSED_RATE_LIMIT`` empty and once with its default. In
each, a neighbour at 127.0.0.3 asks ``--questions`` questions one after the other, alone,
then while ``--flooders`` threads at 127.0.0.2 request an unknown conversation (404) as
fast as they can. Prints one JSON line per set-up: the neighbour's median answer time
alone and under the flood, their ratio, and the flood's requests per second and statuses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import copy_sample_corpus
from tests.support.servers import assistant_server

QUESTION = "How much of an invoice can I borrow with invoice factoring?"
UNKNOWN = "/api/conversations/00000000-0000-4000-8000-000000000000"


def _answer_times(url: str, questions: int) -> list[float]:
    transport = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=url, transport=transport, timeout=None) as client:
        times = []
        for _ in range(questions):
            started = time.perf_counter()
            client.post("/api/chat", json={"message": QUESTION}).raise_for_status()
            times.append(time.perf_counter() - started)
    return times


def _flood(url: str, stop_flag: threading.Event, statuses: Counter) -> None:
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=url, transport=transport, timeout=None) as client:
        while not stop_flag.is_set():
            try:
                statuses[client.get(UNKNOWN).status_code] += 1
            except httpx.TransportError:
                statuses["closed"] += 1


def measure(root: Path, refused_limit: str, questions: int, flooders: int) -> dict:
    with assistant_server(
        ASSISTANT_DATA_DIR=str(root / "var"),
        ASSISTANT_CORPUS_DIR=str(root / "corpus"),
        ASSISTANT_EMBEDDER="minilm",
        ASSISTANT_RATE_LIMIT="",
        ASSISTANT_CONVERSATION_RATE_LIMIT="",
        ASSISTANT_READS_RATE_LIMIT="",
        ASSISTANT_REFUSED_RATE_LIMIT=refused_limit,
        ASSISTANT_MAX_CONNECTIONS_PER_ADDRESS="0",
    ) as url:
        _answer_times(url, 3)  # first answers' one-off costs
        alone = _answer_times(url, questions)
        stop_flag, statuses = threading.Event(), Counter()
        threads = [
            threading.Thread(target=_flood, args=(url, stop_flag, statuses))
            for _ in range(flooders)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        flooded = _answer_times(url, questions)
        stop_flag.set()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    return {
        "refused_rate_limit": refused_limit or "off",
        "answer_p50_alone_s": round(statistics.median(alone), 3),
        "answer_p50_flooded_s": round(statistics.median(flooded), 3),
        "ratio": round(statistics.median(flooded) / statistics.median(alone), 2),
        "flood_requests_per_s": round(sum(statuses.values()) / seconds),
        "flood_statuses": {str(k): v for k, v in statuses.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--flooders", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        copy_sample_corpus(root)
        for limit in ("", "120/minute"):
            print(json.dumps(measure(root, limit, args.questions, args.flooders)), flush=True)


if __name__ == "__main__":
    main()

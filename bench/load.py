"""Concurrent clients against the chat API: requests/s, latency percentiles and errors.

    python -m bench.load --workers 1 --workers 2 --workers 3 --clients 32 --seconds 60
    python -m bench.load --url http://127.0.0.1:8080 --clients 32
    python -m bench.load --workers 2 --against main~3

Each client loops until time is up: it picks a question, posts it to ``/api/chat`` or
``/api/chat/stream`` (alternately; the stream is read to its ``done`` event) and
waits for the answer before asking the next one. Without ``--url``, for each
``--workers`` count the bench starts the whole set-up on a copy of the index: a
``chroma run`` server and ``python -m assistant serve`` with that many uvicorn
workers, each opening the index as built (no start-up indexing) and waiting until
every worker answers with vectors. Rate limiting is switched off in the servers it
starts. Prints one JSON line per set-up, then a table. ``--against REF`` runs each
set-up twice, with REF's code and with this tree's, in turn, and prints the ratios
new/old of requests/s and latency percentiles.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from assistant.evaluation import percentile
from assistant.settings import PROJECT_ROOT, Settings
from bench.query import export_tree
from tests.support.servers import free_port, wait_until_ready

# Questions an exporter might type, in the corpus's two main languages (none is from
# the evaluation sets); a few are out of scope, as in real traffic.
QUESTIONS = [
    "Do I need an export licence to ship dual-use electronics to Turkey?",
    "Which documents does customs ask for when I export machinery to the US?",
    "How do I prove EU preferential origin for goods sold to Canada under CETA?",
    "What is an EORI number and who needs one?",
    "When must a US exporter file electronic export information in AES?",
    "What is the de minimis value for duty-free imports into the United States?",
    "How does the OSS scheme work for distance sales of goods to consumers in other EU countries?",
    "What VAT rate applies to an intra-community supply to a business customer?",
    "Who pays import duties under DDP incoterms?",
    "What is the difference between CIF and CIP?",
    "How long must I keep export records for US customs?",
    "Can I use a statement on origin instead of a EUR.1 certificate?",
    "What are the rules of origin for textiles under the UK–Japan agreement?",
    "Which HS code covers wooden furniture for the kitchen?",
    "hs code for stainless steel screws",
    "How do I get paid safely by a new buyer in Brazil?",
    "Is a letter of credit common for exports to Saudi Arabia?",
    "What labelling rules apply to cosmetics sold in Mexico?",
    "Do I need a commercial agent to sell in Colombia?",
    "What is the antiboycott rule and what must I report?",
    "Can I reclaim VAT paid in another EU country?",
    "What should a commercial invoice for export contain?",
    "How do I classify a product that is a set of different items?",
    "What is inward processing relief?",
    "How are returned goods treated for customs duty?",
    "Quels documents faut-il pour exporter des marchandises hors de l'Union européenne ?",
    "Comment fonctionne le guichet unique OSS pour la TVA sur les ventes à distance ?",
    "Qui doit payer la TVA sur une livraison intracommunautaire de biens ?",
    "Quel est le délai de rétractation pour un achat en ligne ?",
    "Faut-il facturer la TVA à un client professionnel dans un autre pays de l'UE ?",
    "Comment obtenir le statut d'exportateur agréé ?",
    "Quelles mentions doivent figurer sur une facture ?",
    "What is the weather forecast for Paris tomorrow?",
    "Write me a poem about shipping containers.",
    "Which country has the best football team?",
    "and what about for Japan?",
]


@dataclass
class Tally:
    """What one endpoint saw: latencies, time to the first event, errors by kind."""

    latencies: list[float] = field(default_factory=list)
    first_event: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)

    def summary(self, seconds: float) -> dict:
        ms = {
            f"p{q}_ms": round(1000 * percentile(self.latencies, q / 100), 1)
            if self.latencies
            else None
            for q in (50, 95, 99)
        }
        out = {"ok": len(self.latencies), "req_per_s": round(len(self.latencies) / seconds, 2)}
        out |= ms
        if self.first_event:
            out["first_event_p50_ms"] = round(1000 * percentile(self.first_event, 0.5), 1)
            out["first_event_p95_ms"] = round(1000 * percentile(self.first_event, 0.95), 1)
        out["errors"] = dict(self.errors)
        return out


async def ask_once(client: httpx.AsyncClient, question: str) -> None:
    """``POST /api/chat``; raises on anything but a 200 with an answer."""
    response = await client.post("/api/chat", json={"message": question})
    if response.status_code != 200:
        raise StatusError(response.status_code)
    if "answer" not in response.json():
        raise BadReply("no answer in the reply")


async def stream_once(client: httpx.AsyncClient, question: str, started: float) -> float:
    """``POST /api/chat/stream`` read to the ``done`` event; returns when the first event came."""
    first = None
    async with client.stream("POST", "/api/chat/stream", json={"message": question}) as response:
        if response.status_code != 200:
            raise StatusError(response.status_code)
        async for line in response.aiter_lines():
            if not line.startswith("event:"):
                continue
            first = first or time.perf_counter() - started
            kind = line.partition(":")[2].strip()
            if kind == "error":
                raise BadReply("error event")
            if kind == "done":
                return first
    raise BadReply("stream ended before done")


class StatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.kind = f"http_{status}"


class BadReply(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.kind = what.replace(" ", "_")


async def client_loop(
    client: httpx.AsyncClient, rng: random.Random, deadline: float, tallies: dict[str, Tally]
) -> None:
    streaming = rng.random() < 0.5
    while time.perf_counter() < deadline:
        question = rng.choice(QUESTIONS)
        endpoint = "stream" if streaming else "chat"
        tally = tallies[endpoint]
        started = time.perf_counter()
        try:
            if streaming:
                first = await stream_once(client, question, started)
            else:
                await ask_once(client, question)
                first = None
        except (StatusError, BadReply) as exc:
            tally.errors[exc.kind] += 1
        except httpx.HTTPError as exc:
            tally.errors[type(exc).__name__] += 1
        else:
            tally.latencies.append(time.perf_counter() - started)
            if first is not None:
                tally.first_event.append(first)
        streaming = not streaming


async def run_load(url: str, clients: int, seconds: float, seed: int) -> dict[str, dict]:
    """``clients`` concurrent clients for ``seconds``; per-endpoint and overall summaries."""
    tallies = {"chat": Tally(), "stream": Tally()}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(
                client_loop(client, random.Random(seed + i), deadline, tallies)
                for i in range(clients)
            )
        )
        elapsed = time.perf_counter() - started
    both = Tally(
        tallies["chat"].latencies + tallies["stream"].latencies,
        errors=tallies["chat"].errors + tallies["stream"].errors,
    )
    result = {name: t.summary(elapsed) for name, t in tallies.items()}
    result["all"] = both.summary(elapsed)
    result["all"]["seconds"] = round(elapsed, 1)
    return result


# ---------------------------------------------------------------- the set-up it starts


def wait_for_vectors(url: str, workers: int, timeout: float = 300.0) -> None:
    """Until ``/readyz`` says the vector index is complete many times in a row: each
    request reaches one worker, so a streak longer than the worker count means all."""
    streak, deadline = 0, time.monotonic() + timeout
    with httpx.Client(base_url=url, timeout=10) as client:
        while streak < 8 * workers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"not every worker had vectors within {timeout} s")
            try:
                phase = client.get("/readyz").json()["indexing"]["phase"]
            except httpx.TransportError:  # a worker busy loading its model
                phase = "loading"
            if phase in ("failed", "off"):
                raise RuntimeError(f"a worker could not open the vector index: {phase}")
            streak = streak + 1 if phase == "complete" else 0
            time.sleep(0.05 if phase == "complete" else 0.5)


@contextlib.contextmanager
def running_setup(
    index: Path, workers: int, logs: Path, tree: Path = PROJECT_ROOT
) -> Iterator[str]:
    """A ``chroma run`` server on ``index``'s vectors and the API with ``workers`` workers,
    running the code in ``tree``; yields the API's URL and stops both afterwards."""
    chroma_port, api_port = free_port(), free_port()
    chroma_url = f"http://127.0.0.1:{chroma_port}"
    chroma = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    env = os.environ | {
        "ANONYMIZED_TELEMETRY": "False",
        "ASSISTANT_DATA_DIR": str(index),
        "ASSISTANT_CORPUS_DIR": str(Settings().corpus_dir.resolve()),
        "PYTHONPATH": str(tree),
        "ASSISTANT_CHROMA_URL": chroma_url,
        "ASSISTANT_WORKERS": str(workers),
        "ASSISTANT_PORT": str(api_port),
        "ASSISTANT_INDEX_ON_START": "false",  # serve the index as built
        # Measure the server, not the limiters (questions, new conversations, refusals).
        "ASSISTANT_RATE_LIMIT": "",
        "ASSISTANT_CONVERSATION_RATE_LIMIT": "",
        "ASSISTANT_REFUSED_RATE_LIMIT": "",
        "ASSISTANT_MAX_CONNECTIONS_PER_ADDRESS": "0",  # every client is at 127.0.0.1
        "ASSISTANT_LLM": "",
    }
    procs: list[subprocess.Popen] = []
    try:
        name = f"{tree.name}-{workers}"
        with open(logs / f"chroma-{name}.log", "wb") as log:
            command = [chroma, "run", "--path", str(index / "chroma"), "--port", str(chroma_port)]
            procs.append(subprocess.Popen(command, stdout=log, stderr=log, env=env))
        wait_until_ready(f"{chroma_url}/api/v2/heartbeat", procs[0])
        with open(logs / f"api-{name}.log", "wb") as log:
            command = [sys.executable, "-m", "assistant", "serve"]
            procs.append(subprocess.Popen(command, stdout=log, stderr=log, env=env, cwd=tree))
        api_url = f"http://127.0.0.1:{api_port}"
        wait_until_ready(f"{api_url}/readyz", procs[1])
        wait_for_vectors(api_url, workers)
        yield api_url
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running server; else start one per --workers")
    parser.add_argument("--workers", type=int, action="append", help="uvicorn workers (repeat)")
    parser.add_argument("--index", type=Path, default=Settings().data_dir, help="data dir to copy")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warm-up", type=float, default=10, help="unmeasured seconds first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logs", type=Path, help="keep the servers' logs here")
    parser.add_argument("--against", metavar="REF", help="also run this commit's code, in turn")
    args = parser.parse_args()

    def measure(url: str) -> dict[str, dict]:
        asyncio.run(run_load(url, args.clients, args.warm_up, args.seed + 1000))
        return asyncio.run(run_load(url, args.clients, args.seconds, args.seed))

    rows: dict[str, dict] = {}
    if args.url:
        rows[args.url] = measure(args.url)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            index, logs = Path(tmp) / "index", args.logs or Path(tmp)
            logs.mkdir(parents=True, exist_ok=True)
            shutil.copytree(args.index, index, ignore=shutil.ignore_patterns("assistant.db*"))
            trees = {"": PROJECT_ROOT}
            if args.against:
                old = export_tree(args.against, Path(tmp) / "old")
                trees = {" old": old, " new": PROJECT_ROOT}
            for i, workers in enumerate(args.workers or [2]):
                # Alternate which code goes first, so that neither always gets the fresher machine.
                for label, tree in list(trees.items())[:: 1 if i % 2 == 0 else -1]:
                    setup = f"{workers}w{label}"
                    with running_setup(index, workers, logs, tree) as url:
                        rows[setup] = measure(url)
                    print(json.dumps({"setup": setup, **rows[setup]}), flush=True)
    print_table(rows, args.clients, args.seconds)
    if args.against:
        print_ratios(rows, args.workers or [2])


def print_table(rows: dict[str, dict], clients: int, seconds: float) -> None:
    print(f"\n{clients} clients, {seconds:g} s each")
    heads = ("req/s", "p50 ms", "p95 ms", "p99 ms")
    print(f"{'set-up':<12} {'endpoint':<8} " + " ".join(f"{h:>8}" for h in heads) + "  errors")
    for setup, result in rows.items():
        for endpoint in ("chat", "stream", "all"):
            r = result[endpoint]
            print(
                f"{setup:<12} {endpoint:<8} {r['req_per_s']:>8} {r['p50_ms']!s:>8} "
                f"{r['p95_ms']!s:>8} {r['p99_ms']!s:>8}  {r['errors'] or '-'}"
            )


def print_ratios(rows: dict[str, dict], workers: list[int]) -> None:
    print("\nnew / old, both endpoints")
    for n in workers:
        old, new = rows[f"{n}w old"]["all"], rows[f"{n}w new"]["all"]
        ratios = {
            key: round(new[key] / old[key], 2) if old[key] and new[key] else None
            for key in ("req_per_s", "p50_ms", "p95_ms", "p99_ms")
        }
        print(json.dumps({"workers": n, **ratios}))


if __name__ == "__main__":
    main()

"""The helpdesk report's time on 10,000 turns, side by side: first run (every question
encoded) and later runs (vectors cached), with and without the per-client caps.

    python -m bench.report [--turns 10000] [--flood 2000] [--repeat 3]

Seeds a SQLite database (in a temporary folder) with ``--turns`` turns of the last 30
days: 30 % of them refused, rated down, handed off or of low confidence, asked by
many clients, plus a flood of ``--flood`` junk questions from three addresses. Then
times what ``GET /api/helpdesk/report`` does (select the unanswered questions, encode
them with the real sentence model, group them), median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from assistant.conversations import ConversationRecord, Conversations, TurnRecord
from assistant.embeddings import make_embeddings
from assistant.handoffs import Handoffs
from assistant.reports import EncodingCache, ReportRules, group, unanswered
from assistant.settings import Settings

TOPICS = [
    "EORI number",
    "VAT refund on exports",
    "certificate of origin",
    "HS code for {product}",
    "customs duty on {product}",
    "export licence for {product}",
    "distance sales VAT threshold",
    "letter of credit",
    "Incoterm DAP",
    "rules of origin for {product}",
]
PRODUCTS = ["cocoa", "cashew nuts", "shea butter", "cotton shirts", "coffee", "fish", "wood"]
COUNTRIES = ["Senegal", "France", "Japan", "Canada", "Morocco", "Benin", "Germany", "Ghana"]


def question(rng: random.Random, n: int) -> str:
    topic = rng.choice(TOPICS).format(product=rng.choice(PRODUCTS))
    return f"What about the {topic} when exporting to {rng.choice(COUNTRIES)}? (case {n})"


def seed(conversations: Conversations, turns: int, flood: int, seed_: int = 7) -> None:
    rng = random.Random(seed_)
    now = dt.datetime.now(dt.UTC)
    conversation_rows, turn_rows = [], []
    for i in range(turns + flood):
        flooding = i >= turns
        conversation = conversations.new_id()
        conversation_rows.append({"id": conversation, "title": "q", "created_at": now})
        weak = flooding or rng.random() < 0.3
        turn_rows.append(
            {
                "conversation_id": conversation,
                "n": 1,
                "question": f"junk {i} {rng.random()}" if flooding else question(rng, i),
                "answer": "An answer.",
                "citations": [],
                "notices": [],
                "language": "en",
                "refused": weak and rng.random() < 0.6,
                "mode": "extractive",
                "lexical_only": False,
                "created_at": now - dt.timedelta(minutes=rng.randrange(30 * 24 * 60)),
                "channel": "web",
                "evidence": 0.5,
                "confidence": rng.uniform(0.0, 0.45) if weak else rng.uniform(0.6, 1.0),
                "client": f"flooder-{i % 3}" if flooding else f"client-{rng.randrange(4000)}",
            }
        )
    with conversations.engine.begin() as connection:
        connection.execute(insert(ConversationRecord), conversation_rows)
        connection.execute(insert(TurnRecord), turn_rows)


def timed(run, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--flood", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    model = make_embeddings(settings.sentence_embedder)
    with tempfile.TemporaryDirectory() as folder:
        conversations = Conversations.from_url(f"sqlite:///{Path(folder) / 'report.db'}")
        Handoffs(conversations.engine)
        seed(conversations, args.turns, args.flood)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        capped = ReportRules(
            evidence_below=settings.report_evidence_below,
            confidence_below=settings.report_confidence_below,
            per_conversation=settings.report_max_per_conversation,
            per_client=settings.report_max_per_client,
        )
        uncapped = ReportRules(
            settings.report_evidence_below, settings.report_confidence_below, 10**6, 10**6
        )

        def report(rules: ReportRules, encode) -> tuple[int, int, int]:
            findings = unanswered(conversations.engine, since, until, rules)
            topics = group(findings.items, encode, settings.report_similarity)
            return findings.matched, len(findings.items), len(topics)

        rows = []
        for name, rules in (("capped", capped), ("no caps", uncapped)):
            cache = EncodingCache()
            first, (matched, listed, topics) = timed(
                lambda r=rules, c=cache: report(r, c.encoder(model)), 1
            )
            warm, _ = timed(lambda r=rules, c=cache: report(r, c.encoder(model)), args.repeat)
            select, _ = timed(
                lambda r=rules: unanswered(conversations.engine, since, until, r), args.repeat
            )
            rows.append((name, matched, listed, topics, select, first, warm))
    print(f"{args.turns} turns + a flood of {args.flood} from 3 clients, report of 30 days")
    header = ["matched", "listed", "topics", "select", "first", "cached"]
    print(f"{'':8} " + " ".join(f"{name:>8}" for name in header))
    for name, matched, listed, topics, select, first, warm in rows:
        print(
            f"{name:8} {matched:8d} {listed:8d} {topics:8d} {select:7.2f}s {first:7.2f}s "
            f"{warm:7.2f}s"
        )
    (_, *_, cap_warm), (_, *_, free_warm) = rows
    print(f"cached report, capped / no caps: {cap_warm / free_warm:.2f}")


if __name__ == "__main__":
    main()

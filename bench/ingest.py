"""Ingest speed, measured side by side in one run.

    python -m bench.ingest [--embedder minilm] [--raw-sample 2000] [CORPUS]

Prints: documents, chunks, wall time and chunks/s of a full ingest into a fresh
embedded Chroma; the bare model's encode throughput on the same chunk texts (a seeded
random sample, to keep the run affordable) and the ratio of the two; the time of a
no-change re-ingest as a fraction of the full one; and the peak memory.
Targets: ingest >= 0.8 x raw encode throughput; no-change re-ingest <= 3 % of full.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

from assistant.embeddings import make_embeddings
from assistant.settings import PROJECT_ROOT, Settings
from ingest.documents import discover
from ingest.index import Indexer
from ingest.loaders import LoadError


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=PROJECT_ROOT / "corpus")
    parser.add_argument("--embedder", default=None, help="default: the configured embedder")
    parser.add_argument("--raw-sample", type=int, default=2000, help="0 = every chunk")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    base = Settings()
    settings = base.model_copy(
        update={
            "data_dir": work,
            "corpus_dir": args.corpus,
            "embedder": args.embedder or base.embedder,
        }
    )
    embeddings = make_embeddings(settings.embedder, batch_size=settings.embed_batch_size)
    embeddings.encode_passages(["warm-up"])  # model load is not ingest throughput

    indexer = Indexer(settings, embeddings)
    full = indexer.run([args.corpus], progress=False)
    rss_after_ingest = peak_rss_mib()
    again = Indexer(settings, embeddings).run([args.corpus], progress=False)

    texts: list[str] = []
    for file in discover(args.corpus, args.corpus, indexer.manifest):
        try:
            texts += [c.page_content for c in indexer.chunks_of(file)[1]]
        except LoadError:
            continue
    sample = texts
    if args.raw_sample and len(texts) > args.raw_sample:
        sample = random.Random(args.seed).sample(texts, args.raw_sample)
    started = time.perf_counter()
    embeddings.encode_passages(sample)
    raw_seconds = time.perf_counter() - started
    raw_rate = len(sample) / raw_seconds

    result = {
        "embedder": embeddings.name,
        "documents": full.added,
        "failed": len(full.failed),
        "chunks": full.chunks_total,
        "ingest_seconds": round(full.seconds, 1),
        "ingest_chunks_per_s": round(full.chunks_per_second, 2),
        "raw_encode_chunks_per_s": round(raw_rate, 2),
        "raw_sample": len(sample),
        "ratio_ingest_to_raw": round(full.chunks_per_second / raw_rate, 3),
        "nochange_seconds": round(again.seconds, 2),
        "nochange_fraction_of_full": round(again.seconds / full.seconds, 4),
        "nochange_unchanged_documents": again.unchanged,
        "peak_rss_mib_after_ingest": round(rss_after_ingest, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }
    print(json.dumps(result, indent=2))
    print(
        f"ingest/raw throughput ratio {result['ratio_ingest_to_raw']:.2f} (target >= 0.8); "
        f"no-change re-ingest {100 * result['nochange_fraction_of_full']:.2f} % of full "
        f"(target <= 3 %)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Throughput of the LLM backend against the local OpenAI-compatible fake with a fixed per-request latency.

Records are LLaVA-instruct-shaped (bench/synthetic.py: 1-5 question/answer pairs each). For each concurrency the
backend translates a fresh set of records (so nothing is cached) through `translate_records`, one record per request,
and the result is set against the latency-bound ideal: concurrency / latency requests per second. A second line per
concurrency packs records as the backend does by default (`records_per_request=8`, `request_chars=4000`).

    python bench/llm_throughput.py                      # 50 ms latency, concurrency 1, 8, 32
    python bench/llm_throughput.py --latency 0.05 --concurrency 1 8 32 --seconds 4
"""

from __future__ import annotations

import argparse
import logging
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "support"), str(ROOT / "bench")]

import synthetic
from fakes.openai_server import FakeOpenAI

from translate.backends.base import RecordTexts, create_backend


def llava_records(n: int, seed: int) -> list[RecordTexts]:
    out = []
    for rec in synthetic.records(n, seed):
        turns = rec["conversations"]
        texts = [t["value"].replace("<image>", "").strip() for t in turns]
        out.append(RecordTexts(texts, [t["from"] for t in turns], record_id=rec["id"]))
    return out


def measure(url: str, concurrency: int, records_per_request: int, n: int, seed: int) -> tuple[float, int, float]:
    """(records/s, requests, seconds) for `n` records."""
    backend = create_backend("openai", "en", "ko", {
        "model": "fake-llm", "base_url": f"{url}/v1", "concurrency": concurrency,
        "records_per_request": records_per_request, "request_chars": 4000})
    records = llava_records(n, seed)
    started = time.perf_counter()
    out = backend.translate_records(records)
    seconds = time.perf_counter() - started
    assert all(t is not None for r in out for t in r)
    requests = backend.usage()["requests"]
    backend.close()
    return n / seconds, requests, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=3.0, help="rough wall time per measurement")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(f"# {platform.processor() or platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}; fake latency {args.latency * 1000:.0f} ms per request")
    print("| concurrency | records/request | records | requests | seconds | records/s | ideal records/s | "
          "of ideal |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    with FakeOpenAI(delay=args.latency) as fake:
        seed = 0
        for c in args.concurrency:
            ideal = c / args.latency
            for rpr in (1, 8):
                per_request_ideal = ideal * (rpr if rpr == 1 else 1)
                n = max(20, int(args.seconds * ideal * (1 if rpr == 1 else 3)))
                seed += 1
                rate, requests, seconds = measure(fake.url, c, rpr, n, seed)
                # The ideal for packed requests: requests / (concurrency / latency) seconds.
                ideal_rate = per_request_ideal if rpr == 1 else n / (requests / ideal)
                print(f"| {c} | {n / requests:.2f} | {n} | {requests} | {seconds:.2f} | {rate:.1f} | "
                      f"{ideal_rate:.1f} | {rate / ideal_rate:.0%} |")


if __name__ == "__main__":
    main()

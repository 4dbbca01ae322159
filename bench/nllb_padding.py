"""What the NLLB backend would send for a LLaVA-shaped file: sentences, CTranslate2 batches and padding, by counting.

The records run through the real pipeline (`Pipeline.run_file`) with the real NLLB backend (splitting, sentence
dedup per `translate` call, length-sorted token batches from `plan_calls`), except that `translate_sentences` only
counts: it tokenizes with the tiny model's SentencePiece and plans the batches as the backend does, then echoes the
sentences back. So it needs no decoding and shows how the look-ahead changes what an engine gets:

  calls           `translate` calls (pipeline batches)
  sentences       sentences translated (the same sentence in two calls is translated twice)
  batches         CTranslate2 `translate_batch` calls
  padding         padded source tokens ÷ real source tokens − 1

    python bench/nllb_padding.py --records 5000                  # GPU batch sizes (4096 texts, 16,384 tokens)
    python bench/nllb_padding.py --records 5000 --cpu-batches    # CPU batch sizes (256 texts, 2,048 tokens)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(HERE))

SETTINGS = [  # (label, RunOptions look-ahead fields, texts per `translate` call or None for the backend's)
    ("one window at a time (before)", {"lookahead": 1, "lookahead_windows": 1}, None),
    ("look-ahead: default", {}, None),
    ("look-ahead: 16 windows / 65,536 segments", {"lookahead": 65_536, "lookahead_windows": 16}, None),
    ("look-ahead 16 windows, calls of 16,384 texts", {"lookahead": 16_384, "lookahead_windows": 16}, 16_384),
    ("look-ahead: default, with a sentence cache across calls (proposed)", {}, "cache"),
]


def with_sentence_cache(cls, size: int = 200_000):
    """`cls` (an NLLBBackend) with a proposed change: sentences translated in earlier `translate` calls are reused
    (a bounded LRU), so the sentence dedup spans calls, not one call. Not in the backend yet; see docs/performance.md.
    It assumes what the per-call dedup already assumes: a sentence translates the same in any batch."""
    from collections import OrderedDict

    class SentenceCache(cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.sentence_cache: OrderedDict[str, str] = OrderedDict()

        def translate_sentences(self, items):
            cache = self.sentence_cache
            new = [s for s in items if s not in cache]
            fresh = dict(zip(new, super().translate_sentences(new)))
            out = [fresh[s] if s in fresh else cache[s] for s in items]
            for sentence, text in zip(items, out):
                cache[sentence] = text
                cache.move_to_end(sentence)
                if len(cache) > size:
                    cache.popitem(last=False)
            return out

    return SentenceCache


def counting_backend(model: Path, cpu_batches: bool, batch_texts: int | None, cache: bool = False):
    from translate.backends.nllb import NLLBBackend

    class Counting(NLLBBackend):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.tally = {"calls": 0, "sentences": 0, "batches": 0, "tokens": 0, "padded": 0}
            self.unique: set[str] = set()

        def translate(self, texts):
            self.tally["calls"] += 1
            return super().translate(texts)

        def translate_sentences(self, items):
            if not items:
                return []
            sources = self.tokenize(items)
            for batch, _ in self.plan_calls(sources):
                longest = max(len(sources[i]) for i in batch)
                self.tally["batches"] += 1
                self.tally["tokens"] += sum(len(sources[i]) for i in batch)
                self.tally["padded"] += longest * len(batch)
            self.tally["sentences"] += len(items)
            self.unique.update(items)
            return list(items)

    if cache:
        Counting = with_sentence_cache(Counting)
    options = {} if cpu_batches else {"batch_texts": 4096, "batch_chars": 400_000, "max_batch_tokens": 16384}
    if batch_texts:
        options.update(batch_texts=batch_texts, batch_chars=100 * batch_texts)
    return Counting("en", "ko", model=str(model), device="cpu", **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--window", type=int, default=1024)
    parser.add_argument("--cpu-batches", action="store_true", help="the backend's CPU batch sizes")
    args = parser.parse_args()

    import gpu_check
    from translate.memory import TranslationMemory
    from translate.pipeline import Pipeline, RunOptions

    work = Path(tempfile.mkdtemp(prefix="nllb-padding-"))
    os.environ["LLAVA_TRANSLATE_CACHE"] = str(work / "cache")
    try:
        model = gpu_check.build_model(work / "model", gpu_check.SMALL)
        src = gpu_check.write_records(work / "records.json", args.records)
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
              f"{args.records:,} synthetic LLaVA-instruct records (bench/synthetic.py), window {args.window}, "
              f"{'CPU' if args.cpu_batches else 'GPU'} batch sizes\n")
        print("| setting | calls | sentences | unique sentences | batches | source tokens | padding | seconds |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for label, look, batch_texts in SETTINGS:
            cache = batch_texts == "cache"
            backend = counting_backend(model, args.cpu_batches, None if cache else batch_texts, cache)
            out = work / "out"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            started = time.perf_counter()
            with TranslationMemory(out / "tm.sqlite") as memory:
                Pipeline(backend, memory, RunOptions(window=args.window, **look)).run_file(src, out)
            seconds = time.perf_counter() - started
            t = backend.tally
            print(f"| {label} | {t['calls']:,} | {t['sentences']:,} | {len(backend.unique):,} | {t['batches']:,} | "
                  f"{t['tokens']:,} | {t['padded'] / t['tokens'] - 1:.1%} | {seconds:.1f} |")
        # The bound: every unique sentence of the file sorted and batched once.
        bound = counting_backend(model, args.cpu_batches, None)
        bound.translate_sentences(sorted(backend.unique))
        t = bound.tally
        print(f"| bound: the file's unique sentences sorted once | | {t['sentences']:,} | {t['sentences']:,} | "
              f"{t['batches']:,} | {t['tokens']:,} | {t['padded'] / t['tokens'] - 1:.1%} | |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

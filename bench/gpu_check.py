"""GPU check: raw CTranslate2 against the whole pipeline, NLLB-600M-shaped, on LLaVA-shaped records. No network.

A model with random weights at the NLLB-200-distilled-600M shape (d_model 1024, 12+12 layers, 16 heads, FFN 4096,
vocabulary 256,206) is built with `ctranslate2.specs` and numpy (no torch, no download), with a SentencePiece model
trained here on the committed fixtures. Random weights never emit EOS, so every sentence decodes exactly
`--new-tokens` tokens on both sides. Then, on the same unique sentences:

  raw       `Translator.translate_batch` on every sentence the pipeline would send, batch_type="tokens";
  pipeline  the records through `Pipeline.run_file` with the NLLB backend (memory, protection, splitting, QC, output).

and prints one table: output tokens/s of each and their ratio, and raw seconds ÷ pipeline seconds. The pipeline
translates a sentence again when it recurs in another `translate` call (the backend dedups within a call), so its
tokens/s counts that repeated work; the seconds ratio, on the same unique sentences, is the share of the engine's
time that was useful work.

    python bench/gpu_check.py --device cuda                   # int8_float16, beam 2, 5,000 records
    python bench/gpu_check.py --device cpu --small --records 60   # a smoke test of the script itself
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(HERE))

NLLB_600M = dict(layers=12, d_model=1024, heads=16, ffn=4096, vocab=256206, positions=1024)
SMALL = dict(layers=2, d_model=64, heads=4, ffn=128, vocab=8192, positions=512)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build_model(out: Path, shape: dict, seed: int = 0) -> Path:
    """A random-weight NLLB-shaped CTranslate2 model folder (model.bin, vocabulary, SentencePiece model)."""
    import sentencepiece as spm
    from ctranslate2.specs import common_spec, transformer_spec
    from nllb_support import LANG_CODES, train_sentencepiece

    out.mkdir(parents=True, exist_ok=True)
    spm_path = out / "sentencepiece.bpe.model"
    train_sentencepiece(spm_path, vocab_size=4000)
    sp = spm.SentencePieceProcessor(model_file=str(spm_path))
    vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    vocab += [c for c in LANG_CODES if c not in vocab]
    vocab += [f"<extra_{i}>" for i in range(shape["vocab"] - len(vocab))]  # the real vocabulary's size
    d, ffn = shape["d_model"], shape["ffn"]
    rng = np.random.default_rng(seed)

    def weight(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)

    def linear(spec, rows: int, cols: int) -> None:
        spec.weight = weight(rows, cols)
        spec.bias = np.zeros(rows, dtype=np.float16)

    def norm(spec) -> None:
        spec.gamma = np.ones(d, dtype=np.float16)
        spec.beta = np.zeros(d, dtype=np.float16)

    spec = transformer_spec.TransformerSpec.from_config(
        (shape["layers"], shape["layers"]), shape["heads"], pre_norm=True, activation=common_spec.Activation.RELU)
    embeddings = weight(len(vocab), d)
    for stack in (spec.encoder, spec.decoder):
        stack.scale_embeddings = True
        stack.position_encodings.encodings = weight(shape["positions"], d)
        norm(stack.layer_norm)
        for layer in stack.layer:
            norm(layer.self_attention.layer_norm)
            linear(layer.self_attention.linear[0], 3 * d, d)
            linear(layer.self_attention.linear[1], d, d)
            norm(layer.ffn.layer_norm)
            linear(layer.ffn.linear_0, ffn, d)
            linear(layer.ffn.linear_1, d, ffn)
    for layer in spec.decoder.layer:
        norm(layer.attention.layer_norm)
        linear(layer.attention.linear[0], d, d)
        linear(layer.attention.linear[1], 2 * d, d)
        linear(layer.attention.linear[2], d, d)
    spec.encoder.embeddings[0].weight = embeddings
    spec.decoder.embeddings.weight = embeddings
    spec.decoder.projection.weight = embeddings
    spec.decoder.projection.bias = np.zeros(len(vocab), dtype=np.float16)
    spec.config.bos_token = "<s>"
    spec.config.eos_token = "</s>"
    spec.config.unk_token = "<unk>"
    spec.config.decoder_start_token = "</s>"
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.save(str(out))
    return out


def write_records(path: Path, n: int) -> Path:
    import synthetic

    return synthetic.write(path, n, seed=0)


def sentences_sent(backend, src: Path) -> list[str]:
    """The unique sentences the pipeline sends for `src`, cut by the backend's own splitter."""
    from translate.formats.readers import RecordReader
    from translate.formats.records import translatable_fields
    from translate.protect import Protector
    from translate.sentences import sentences, split

    protector = Protector(style=backend.placeholder)
    unique: dict[str, None] = {}
    for item in RecordReader(src):
        for _, _, value in translatable_fields(item.record):
            body = protector.protect(value).body
            for s in sentences(split(body, backend.placeholder.pattern, backend.max_sentence_chars)):
                unique.setdefault(s, None)
    return list(unique)


def run_raw(backend, items: list[str], new_tokens: int) -> tuple[float, int]:
    sources = backend.tokenize(items)
    started = time.perf_counter()
    results = backend._translator.translate_batch(
        sources, target_prefix=[[backend.tgt_code]] * len(sources), beam_size=backend.beam_size,
        max_batch_size=backend.max_batch_tokens, batch_type="tokens", max_decoding_length=new_tokens + 1,
        min_decoding_length=new_tokens + 1, repetition_penalty=backend.repetition_penalty,
        no_repeat_ngram_size=backend.no_repeat_ngram_size, max_input_length=0)
    elapsed = time.perf_counter() - started
    return elapsed, sum(len(r.hypotheses[0]) - 1 for r in results)


def run_pipeline(backend, src: Path, work: Path, workers: int) -> tuple[float, int, dict]:
    from translate.memory import TranslationMemory
    from translate.pipeline import Pipeline, RunOptions

    out = work / f"pipeline_out_{workers}"
    out.mkdir(exist_ok=True)
    before = backend.counters["target_tokens"]
    with TranslationMemory(out / "memory.sqlite") as memory:
        started = time.perf_counter()
        stats = Pipeline(backend, memory, RunOptions(workers=workers)).run_file(src, out)
        elapsed = time.perf_counter() - started
    return elapsed, backend.counters["target_tokens"] - before, stats.as_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    parser.add_argument("--compute-type", default="auto")
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--small", action="store_true", help="a tiny shape, to test the script on a CPU")
    parser.add_argument("--work", default=None)
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--opt", action="append", default=[], metavar="KEY=VALUE",
                        help="an NLLB backend option for both sides, e.g. intra_threads=1 (whole numbers only)")
    parser.add_argument("--workers", type=int, nargs="+", default=None,
                        help="pipeline runs with these `--workers` counts, each with a fresh backend (default: one "
                             "run with one worker per core, at most 8)")
    parser.add_argument("--proposed-sentence-cache", action="store_true",
                        help="the pipeline's backend reuses sentences across calls (a proposed change, "
                             "bench/nllb_padding.py `with_sentence_cache`)")
    args = parser.parse_args()

    from translate.backends.nllb import NLLBBackend

    work = Path(args.work or tempfile.mkdtemp(prefix="gpu-check-"))
    shape = SMALL if args.small else NLLB_600M
    started = time.perf_counter()
    model = build_model(work / "model", shape)
    log(f"model built in {time.perf_counter() - started:.0f}s: {shape}")
    src = write_records(work / "records.json", args.records)
    options = dict(model=str(model), device=args.device, compute_type=args.compute_type,
                   max_decoding_length=args.new_tokens + 1, min_decoding_length=args.new_tokens + 1)
    for pair in args.opt:
        key, _, value = pair.partition("=")
        options[key] = int(value)
    raw_backend = NLLBBackend("en", "ko", **options)
    raw_backend.load()
    items = sentences_sent(raw_backend, src)
    log(f"{args.records:,} records, {len(items):,} unique sentences")
    run_raw(raw_backend, items[: min(64, len(items))], args.new_tokens)  # warm-up: CUDA context, kernels
    raw_s, raw_tokens = run_raw(raw_backend, items, args.new_tokens)
    raw_backend.close()
    log(f"raw: {raw_tokens:,} tokens in {raw_s:.1f}s")
    pipe_class = NLLBBackend
    if args.proposed_sentence_cache:
        from nllb_padding import with_sentence_cache

        pipe_class = with_sentence_cache(NLLBBackend)
    from translate.pipeline.workers import resolve_workers

    print("| device | compute | records | sentences | workers | raw tok/s | pipeline tok/s | pipeline ÷ raw (tok/s) | "
          "sentences the pipeline translated | raw s | pipeline s | raw s ÷ pipeline s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    results = []
    for workers in args.workers if args.workers is not None else [resolve_workers(None, None)]:
        # A fresh backend each time: NLLB keeps translated sentences across calls.
        pipe_backend = pipe_class("en", "ko", **options)
        pipe_backend.load()
        pipe_s, pipe_tokens, stats = run_pipeline(pipe_backend, src, work, workers)
        pipe_backend.close()
        log(f"pipeline, --workers {workers}: {pipe_tokens:,} tokens in {pipe_s:.1f}s")
        results.append(report(args, raw_backend, items, raw_s, raw_tokens, shape, workers, pipe_s, pipe_tokens,
                              stats))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def report(args, raw_backend, items, raw_s, raw_tokens, shape, workers, pipe_s, pipe_tokens, stats) -> dict:
    """One row of the table (printed) and its figures (returned)."""
    raw_rate, pipe_rate = raw_tokens / raw_s, pipe_tokens / pipe_s
    figures = {"machine": platform.platform(), "device": args.device, "compute_type": raw_backend.compute_type,
               "shape": shape, "records": args.records, "sentences": len(items),
               "raw_tokens_per_s": round(raw_rate), "pipeline_tokens_per_s": round(pipe_rate),
               "pipeline_over_raw": round(pipe_rate / raw_rate, 3), "segments_sent": stats["segments_sent"],
               "raw_seconds": round(raw_s, 2), "pipeline_seconds": round(pipe_s, 2),
               "raw_seconds_over_pipeline_seconds": round(raw_s / pipe_s, 3),
               # Random weights decode exactly new_tokens per sentence (after the language code).
               "sentences_translated_by_pipeline": pipe_tokens // args.new_tokens,
               "proposed_sentence_cache": args.proposed_sentence_cache, "workers": workers,
               "backend_options": args.opt}
    print(f"| {args.device} | {figures['compute_type']} | {args.records:,} | {len(items):,} | {workers} | "
          f"{raw_rate:,.0f} | "
          f"{pipe_rate:,.0f} | {figures['pipeline_over_raw']:.2f} | "
          f"{figures['sentences_translated_by_pipeline']:,} | {raw_s:.1f} | {pipe_s:.1f} | "
          f"{figures['raw_seconds_over_pipeline_seconds']:.2f} |", flush=True)
    return figures


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()

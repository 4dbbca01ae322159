"""NLLB throughput: raw CTranslate2, our backend through the pipeline, and Hugging Face `generate`, on equal weights.

A model with random weights at the exact NLLB-200-distilled-600M shape (d_model 1024, 12+12 layers, 16 heads,
FFN 4096, vocabulary 256,206) is built with torch as an `M2M100ForConditionalGeneration`, saved, and converted to
CTranslate2 by the backend's own model resolution (TransformersConverter), so both sides hold the same weights.
Random weights never emit EOS, so every side decodes exactly `--new-tokens` tokens per sentence (after the target
language token). Decoding options are the backend's defaults on every side (beam 2, repetition penalty 1.05, no
repeated 8-grams). Output tokens per second are measured for

  (a) raw `Translator.translate_batch` on the sentences, batch_type="tokens";
  (b) the same sentences as records through `Pipeline.run_file` with the NLLB backend (memory, splitting, QC);
  (c) Hugging Face `generate` on the same token ids.

    python bench/nllb_throughput.py                                  # CPU: 16 sentences, 32 new tokens
    python bench/nllb_throughput.py --device cuda --sentences 4096 --hf-batch 128   # GPU: int8_float16

Needs torch==2.13.0 and transformers (the [convert] extra). The tokenizer is a SentencePiece model trained here on
the committed LLaVA fixtures (the real NLLB one cannot be downloaded offline); its pieces are padded to the NLLB
vocabulary size. `--estimate-file` adds the hours for a LLaVA file at the measured rate of (b).
"""

from __future__ import annotations

import argparse
import json
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

NLLB_600M = dict(vocab_size=256206, d_model=1024, encoder_layers=12, decoder_layers=12, encoder_attention_heads=16,
                 decoder_attention_heads=16, encoder_ffn_dim=4096, decoder_ffn_dim=4096, max_position_embeddings=1024,
                 scale_embedding=True, activation_function="relu", dropout=0.0, attention_dropout=0.0,
                 activation_dropout=0.0)
BEAM, REPETITION_PENALTY, NO_REPEAT = 2, 1.05, 8  # the backend's defaults


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fixture_sentences(n: int) -> list[str]:
    """Sentences from the committed LLaVA excerpts, cut by the backend's own splitter (so (a), (b), (c) agree)."""
    from translate.protect import Protector
    from translate.sentences import sentences, split

    protector = Protector()
    values = []
    for rec in json.loads((ROOT / "tests/fixtures/blip_excerpt.json").read_text(encoding="utf-8")):
        values.append(rec["conversations"][1]["value"])
    for path in sorted((ROOT / "tests/fixtures/llava_prompts").glob("*/0*_conv.txt")):
        values += [p for p in path.read_text(encoding="utf-8").split("\n") if p.strip()]
    out: list[str] = []
    for value in values:
        body = protector.protect(value).body
        for s in sentences(split(body, protector.style.pattern)):
            if s not in out and len(s) >= 20:
                out.append(s)
    base, k = list(out), 1
    while len(out) < n:  # variants, so that every sentence is new to the memory and the batch
        out += [f"{s} ({k})" for s in base]
        k += 1
    return out[:n]


def build_models(work: Path, device: str) -> tuple[Path, object, object]:
    """(HF folder, HF model, tokenizer): random NLLB-600M-shaped weights with a local tokenizer."""
    import torch
    import transformers
    from nllb_support import train_sentencepiece
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    hf_dir = work / "hf-nllb-600m-random"
    hf_dir.mkdir(parents=True, exist_ok=True)
    train_sentencepiece(hf_dir / "sentencepiece.bpe.model", vocab_size=4000, language_codes=False)
    tok = transformers.NllbTokenizer.from_pretrained(hf_dir, src_lang="eng_Latn", tgt_lang="kor_Hang")
    if tok.convert_tokens_to_ids("kor_Hang") == tok.unk_token_id:
        tok = transformers.NllbTokenizer.from_pretrained(hf_dir, src_lang="eng_Latn", tgt_lang="kor_Hang",
                                                         extra_special_tokens=FAIRSEQ_LANGUAGE_CODES)
    tok.save_pretrained(hf_dir)
    torch.manual_seed(0)
    config = transformers.M2M100Config(**NLLB_600M, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                       eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.eos_token_id)
    t = time.perf_counter()
    model = transformers.M2M100ForConditionalGeneration(config).eval()
    log(f"HF model built: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters "
        f"({time.perf_counter() - t:.0f}s)")
    model.save_pretrained(hf_dir)
    if device == "cuda":
        model = model.half().to("cuda")
    return hf_dir, model, tok


def run_raw(backend, sentences: list[str], new_tokens: int) -> tuple[float, int]:
    """(a): translate_batch on all sentences, one call, the library's own token batching."""
    sources = backend.tokenize(sentences)
    t = time.perf_counter()
    results = backend._translator.translate_batch(
        sources, target_prefix=[[backend.tgt_code]] * len(sources), beam_size=BEAM,
        repetition_penalty=REPETITION_PENALTY, no_repeat_ngram_size=NO_REPEAT, max_batch_size=backend.max_batch_tokens,
        batch_type="tokens", max_decoding_length=new_tokens + 1, min_decoding_length=new_tokens + 1,
        max_input_length=0)
    elapsed = time.perf_counter() - t
    produced = sum(len(r.hypotheses[0]) - 1 for r in results)
    return elapsed, produced


def run_pipeline(backend, sentences: list[str], work: Path) -> tuple[float, int]:
    """(b): records through Pipeline.run_file (memory, protection, splitting, batching, QC, output files)."""
    from translate.memory import TranslationMemory
    from translate.pipeline import Pipeline, RunOptions

    src = work / "bench_records.json"
    src.write_text(json.dumps([{"id": str(i), "conversations": [{"from": "gpt", "value": s}]}
                               for i, s in enumerate(sentences)], ensure_ascii=False), encoding="utf-8")
    out = work / "pipeline_out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    memory = TranslationMemory(out / "memory.sqlite")
    before = backend.counters["target_tokens"]
    pipeline = Pipeline(backend, memory, RunOptions(source_lang="en", target_lang="ko"))
    t = time.perf_counter()
    stats = pipeline.run_file(src, out)
    elapsed = time.perf_counter() - t
    memory.close()
    assert stats.records_in == len(sentences), stats
    return elapsed, backend.counters["target_tokens"] - before


def run_hf(model, tok, backend, sentences: list[str], new_tokens: int, batch: int, device: str) -> tuple[float, int]:
    """(c): generate on the same token ids, sorted by length, padded batches of `batch` sentences."""
    import torch

    sources = backend.tokenize(sentences)
    ids = [tok.convert_tokens_to_ids(s) for s in sources]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    forced = tok.convert_tokens_to_ids(backend.tgt_code)
    produced = 0
    t = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            group = [ids[i] for i in order[start:start + batch]]
            width = max(map(len, group))
            input_ids = torch.tensor([g + [tok.pad_token_id] * (width - len(g)) for g in group])
            mask = torch.tensor([[1] * len(g) + [0] * (width - len(g)) for g in group])
            if device == "cuda":
                input_ids, mask = input_ids.cuda(), mask.cuda()
            out = model.generate(input_ids=input_ids, attention_mask=mask, forced_bos_token_id=forced,
                                 num_beams=BEAM, do_sample=False, repetition_penalty=REPETITION_PENALTY,
                                 no_repeat_ngram_size=NO_REPEAT, max_new_tokens=new_tokens + 1,
                                 min_new_tokens=new_tokens + 1, early_stopping=False)
            produced += (out.shape[1] - 2) * out.shape[0]  # minus the decoder start and the language token
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t, produced


def estimate_hours(path: Path, rate: float, chars_per_token: float, out_ratio: float) -> dict[str, float]:
    """Unique sentence characters of a LLaVA file → source tokens → target tokens → hours at `rate` tokens/s."""
    from translate.formats.readers import RecordReader
    from translate.formats.records import translatable_fields, validate
    from translate.protect import Protector
    from translate.sentences import sentences, split

    protector = Protector()
    seen: set[str] = set()
    chars = 0
    for item in RecordReader(path):
        if item.record is None or validate(item.record):
            continue
        for _, _, value in translatable_fields(item.record):
            body = protector.protect(value).body
            for s in sentences(split(body, protector.style.pattern)):
                if s not in seen:
                    seen.add(s)
                    chars += len(s)
    source_tokens = chars / chars_per_token
    target_tokens = source_tokens * out_ratio
    return {"unique_sentences": len(seen), "characters": chars, "source_tokens": source_tokens,
            "target_tokens": target_tokens, "hours": target_tokens / rate / 3600}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--compute-type", default="auto", help="CTranslate2 compute type (auto: int8 / int8_float16)")
    parser.add_argument("--sentences", type=int, default=None, help="default: 16 on CPU, 4096 on CUDA")
    parser.add_argument("--repeat", type=int, default=2, help="runs of (a) and (b), interleaved; the best counts")
    parser.add_argument("--also-float32", action="store_true", help="also (a) at float32, HF's precision on CPU")
    parser.add_argument("--new-tokens", type=int, default=32, help="output tokens per sentence (fixed)")
    parser.add_argument("--hf-batch", type=int, default=None, help="HF sentences per generate (16 CPU, 128 CUDA)")
    parser.add_argument("--max-batch-tokens", type=int, default=0, help="CTranslate2 token budget (0: backend's)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads for both sides")
    parser.add_argument("--skip-hf", action="store_true", help="skip (c)")
    parser.add_argument("--work", default=None, help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--estimate-file", default=None, help="LLaVA file to estimate hours for, at rate (b)")
    parser.add_argument("--chars-per-token", type=float, default=4.0, help="English characters per NLLB token")
    parser.add_argument("--output-ratio", type=float, default=1.2, help="target tokens per source token")
    args = parser.parse_args()

    import ctranslate2
    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    n = args.sentences or (4096 if device == "cuda" else 16)
    hf_batch = args.hf_batch or (128 if device == "cuda" else 16)
    torch.set_num_threads(args.threads)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="nllb-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["LLAVA_TRANSLATE_CACHE"] = str(work / "cache")
    try:
        sentences = fixture_sentences(n)
        hf_dir, model, tok = build_models(work, device)
        from translate.backends.nllb import NLLBBackend

        t = time.perf_counter()
        backend = NLLBBackend("en", "ko", model=str(hf_dir), device=device, compute_type=args.compute_type,
                              intra_threads=args.threads if device == "cpu" else 0,
                              max_batch_tokens=args.max_batch_tokens, max_decoding_length=args.new_tokens + 1,
                              min_decoding_length=args.new_tokens + 1)
        backend.load()  # converts once (TransformersConverter), then loads
        log(f"converted and loaded in {time.perf_counter() - t:.0f}s: {backend.model_path} ({backend.compute_type})")
        src_tokens = sum(map(len, backend.tokenize(sentences)))
        backend.translate_sentences(sentences[:2])  # warm-up
        log(f"{n} sentences, {src_tokens} source tokens, {args.new_tokens} output tokens each")
        load_before = os.getloadavg()
        runs: dict[str, list[tuple[float, int]]] = {"a": [], "b": []}
        for r in range(args.repeat):
            runs["a"].append(run_raw(backend, sentences, args.new_tokens))
            log(f"(a) raw translate_batch, run {r + 1}: {runs['a'][-1][1]} tokens in {runs['a'][-1][0]:.1f}s")
            runs["b"].append(run_pipeline(backend, sentences, work))
            log(f"(b) backend through the pipeline, run {r + 1}: {runs['b'][-1][1]} tokens in {runs['b'][-1][0]:.1f}s")
        rows = {k: min(v) for k, v in runs.items()}
        if args.also_float32:
            f32 = NLLBBackend("en", "ko", model=str(hf_dir), device=device, compute_type="float32",
                              intra_threads=args.threads if device == "cpu" else 0,
                              max_batch_tokens=args.max_batch_tokens)
            f32.load()
            rows["a32"] = run_raw(f32, sentences, args.new_tokens)
            log(f"(a) at float32: {rows['a32'][1]} tokens in {rows['a32'][0]:.1f}s")
            f32.close()
        if not args.skip_hf:
            run_hf(model, tok, backend, sentences[:2], args.new_tokens, hf_batch, device)  # warm-up
            c_s, c_tok = run_hf(model, tok, backend, sentences, args.new_tokens, hf_batch, device)
            log(f"(c) HF generate: {c_tok} tokens in {c_s:.1f}s = {c_tok / c_s:.1f} tok/s")
            rows["c"] = (c_s, c_tok)
        load_after = os.getloadavg()
        rate = {k: tok_ / s for k, (s, tok_) in rows.items()}
        hf_dtype = "float16" if device == "cuda" else "float32"
        print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, device {device}"
              + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else "")
              + f"; ctranslate2 {ctranslate2.__version__}, torch {torch.__version__}")
        print(f"{n} sentences ({src_tokens} source tokens), {args.new_tokens} output tokens each, beam {BEAM}, "
              f"repetition_penalty {REPETITION_PENALTY}, no_repeat_ngram_size {NO_REPEAT}, "
              f"max_batch_tokens {backend.max_batch_tokens}, HF batch {hf_batch}; (a) and (b) best of {args.repeat} "
              f"interleaved runs; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after\n")
        print("| path | compute | output tokens | seconds | tokens/s |")
        print("|---|---|---:|---:|---:|")
        names = {"a": "(a) raw translate_batch", "b": "(b) NLLB backend via Pipeline.run_file",
                 "a32": "(a) raw translate_batch", "c": "(c) HF generate"}
        for key, (s, tok_) in rows.items():
            compute = {"c": hf_dtype, "a32": "float32"}.get(key, backend.compute_type)
            print(f"| {names[key]} | {compute} | {tok_} | {s:.1f} | {rate[key]:.1f} |")
        print(f"\nb/a = {rate['b'] / rate['a']:.2f}" + (f"; a/c = {rate['a'] / rate['c']:.2f}" if "c" in rate else "")
              + (f"; a(float32)/c = {rate['a32'] / rate['c']:.2f}" if "c" in rate and "a32" in rate else ""))
        if args.estimate_file:
            est = estimate_hours(Path(args.estimate_file), rate["b"], args.chars_per_token, args.output_ratio)
            print(f"\n{args.estimate_file}: {est['unique_sentences']:,} unique sentences, {est['characters']:,} "
                  f"characters ≈ {est['source_tokens']:,.0f} source tokens → {est['target_tokens']:,.0f} output "
                  f"tokens ≈ {est['hours']:.2f} h at {rate['b']:.0f} tok/s")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""NLLB-200 on CTranslate2, on a GPU when there is one and on the CPU otherwise.

* Tokenisation is SentencePiece itself (no transformers at run time). The input the converted model expects is
  ``[source code, pieces…, "</s>"]``; the target code goes in as ``target_prefix`` and is stripped from the output.
* Bodies are split into sentences (`translate.sentences`), because NLLB was trained on single sentences and drops the
  later sentences of a paragraph. Placeholders (``⟦0⟧``) never reach the model: the text is split around them, the
  pieces between are translated, and the placeholders are put back in order, so they always survive.
* Sentences are deduplicated, sorted by length and cut into batches of at most `max_batch_tokens` padded source
  tokens; each batch gets its own `max_decoding_length`, scaled from its longest input. Batches are queued
  asynchronously, so several GPUs (`device_index=0,1`) or CPU replicas (`inter_threads`) work at once.
* The model loads on the first `translate` call: `fingerprint()` and stages that only assemble never load it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
import time
from pathlib import Path
from typing import Any

from translate.backends.base import Backend, Capabilities
from translate.errors import BackendError, ConfigError
from translate.nllb_models import DEFAULT_MODEL, find_spm, model_identity, nllb_code, read_vocabulary, resolve_model
from translate.protect import BRACKETS
from translate.sentences import DEFAULT_MAX_CHARS, Chunk, join, sentences, split

COMPUTE_TYPES = ("auto", "default", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
                 "bfloat16", "float32")
DEVICES = ("auto", "cpu", "cuda")
UNSPACED = ("jpn", "zho", "yue")  # target languages written without spaces between sentences
SPLIT_VERSION = 1  # bump when sentence splitting changes what is sent (it changes the output)


def parse_device_index(value: Any) -> list[int]:
    """``"0,1"``, ``"0 1"``, ``1``, ``[0, 1]`` → ``[0, 1]``. ConfigError when it is not a list of GPU numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        items: list[Any] = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, str):
        items = [p for p in value.replace(",", " ").split() if p]
    else:
        raise ConfigError(f"device_index={value!r}: expected GPU numbers such as 0 or 0,1")
    out: list[int] = []
    for item in items:
        try:
            n = int(item)
        except (TypeError, ValueError):
            raise ConfigError(f"device_index={value!r}: {item!r} is not a GPU number") from None
        if n < 0:
            raise ConfigError(f"device_index={value!r}: GPU numbers start at 0")
        if n in out:
            raise ConfigError(f"device_index={value!r}: GPU {n} is listed twice")
        out.append(n)
    if not out:
        raise ConfigError("device_index is empty: give at least one GPU number, e.g. 0")
    return out


def repeats_ngram(tokens: list[str], n: int) -> bool:
    """Whether some stretch of `n` tokens occurs twice in `tokens`."""
    seen: set[tuple[str, ...]] = set()
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i: i + n])
        if gram in seen:
            return True
        seen.add(gram)
    return False


def resolve_compute_type(compute_type: str, device: str) -> str:
    if compute_type == "auto":
        return "int8_float16" if device == "cuda" else "int8"
    return compute_type


def weight_family(compute_type: str) -> str:
    """The part of the compute type that changes translations enough to matter for memory keys. `auto` means int8
    weights on both devices (int8 on a CPU, int8_float16 on a GPU), so GPU shards and a CPU assemble agree."""
    if compute_type == "auto" or compute_type.startswith("int8"):
        return "int8"
    return compute_type


# Whole-number options and the least each may be.
MINIMUMS = {"beam_size": 1, "inter_threads": 1, "intra_threads": 0, "max_batch_tokens": 0, "no_repeat_ngram_size": 0,
            "decoding_extra": 0, "max_decoding_length": 0, "min_decoding_length": 0, "max_sentence_chars": 1,
            "batch_texts": 0, "batch_chars": 0}


def check_options(device: str, compute_type: str, repetition_penalty: float, decoding_ratio: float,
                  whole: dict[str, Any]) -> None:
    """ConfigError naming the first option out of range; `whole` holds the whole-number options by name."""
    if device not in DEVICES:
        raise ConfigError(f"device={device!r}: expected one of {', '.join(DEVICES)}")
    if compute_type not in COMPUTE_TYPES:
        raise ConfigError(f"compute_type={compute_type!r}: expected one of {', '.join(COMPUTE_TYPES)}")
    for key, value in whole.items():
        low = MINIMUMS[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{key}={value!r}: expected a whole number of at least {low}")
    if repetition_penalty <= 0 or decoding_ratio <= 0:
        raise ConfigError("repetition_penalty and decoding_ratio must be positive")


# Sentence translations kept across `translate` calls (about 200 bytes each: some 40 MB at most).
SENTENCE_CACHE = 200_000


class NLLBBackend(Backend):
    name = "nllb"
    requires = ("ctranslate2", "sentencepiece")
    extra = "nllb"
    capabilities = Capabilities(wants_gpu=True)
    placeholder = BRACKETS

    def __init__(
        self,
        source_lang: str,
        target_lang: str,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        device_index: str = "0",
        compute_type: str = "auto",
        beam_size: int = 2,
        inter_threads: int = 1,
        intra_threads: int = 0,
        max_batch_tokens: int = 0,
        repetition_penalty: float = 1.05,
        no_repeat_ngram_size: int = 8,
        length_penalty: float = 1.0,
        decoding_ratio: float = 2.0,
        decoding_extra: int = 16,
        max_decoding_length: int = 0,
        min_decoding_length: int = 0,
        max_sentence_chars: int = DEFAULT_MAX_CHARS,
        batch_texts: int = 0,
        batch_chars: int = 0,
        revision: str | None = None,
        local_files_only: bool = False,
    ):
        """Options (``--opt key=value`` or ``[backend_options]``):

        model: local CTranslate2 or Hugging Face folder, or Hub id. device: auto | cpu | cuda. device_index: GPUs,
        e.g. ``0,1``. compute_type: auto (int8_float16 on CUDA, int8 on CPU) or any CTranslate2 type. beam_size: 2.
        inter_threads / intra_threads: parallel batches per device / threads per batch (0: library default).
        max_batch_tokens: padded source tokens per batch (0: 2048 on CPU, 16384 on CUDA).
        repetition_penalty / no_repeat_ngram_size / length_penalty: decoding. decoding_ratio, decoding_extra:
        max_decoding_length = ratio × longest input + extra, unless max_decoding_length is set.
        min_decoding_length: for benchmarks. max_sentence_chars: longer sentences are cut at clauses.
        batch_texts / batch_chars: texts per `translate` call the pipeline sends (0: per device).
        revision, local_files_only: for Hub models.
        """
        super().__init__(source_lang, target_lang)
        self.src_code = nllb_code(source_lang)
        self.tgt_code = nllb_code(target_lang)
        check_options(device, compute_type, repetition_penalty, decoding_ratio, {
            "beam_size": beam_size, "inter_threads": inter_threads, "intra_threads": intra_threads,
            "max_batch_tokens": max_batch_tokens, "no_repeat_ngram_size": no_repeat_ngram_size,
            "decoding_extra": decoding_extra, "max_decoding_length": max_decoding_length,
            "min_decoding_length": min_decoding_length, "max_sentence_chars": max_sentence_chars,
            "batch_texts": batch_texts, "batch_chars": batch_chars})
        self.model = str(model)
        self.revision = revision
        self.local_files_only = local_files_only
        self.device_indices = parse_device_index(device_index)
        self.requested_device = device
        self.device = self._pick_device(device)
        if self.device == "cpu" and len(self.device_indices) > 1:
            raise ConfigError("device_index lists several GPUs, but the device is the CPU (use --device cuda)")
        self.compute_type_option = compute_type
        self.compute_type = resolve_compute_type(compute_type, self.device)
        self.beam_size = beam_size
        self.inter_threads = inter_threads
        self.intra_threads = intra_threads
        self.repetition_penalty = float(repetition_penalty)
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.length_penalty = float(length_penalty)
        self.decoding_ratio = float(decoding_ratio)
        self.decoding_extra = decoding_extra
        self.max_decoding_length = max_decoding_length
        self.min_decoding_length = min_decoding_length
        self.max_sentence_chars = max_sentence_chars
        self._set_batch_limits(max_batch_tokens, batch_texts, batch_chars)
        self._identity: str | None = None
        self._translator = None
        self._sp = None
        self.model_path: Path | None = None
        self._sentence_cache: OrderedDict[str, str] = OrderedDict()
        self.counters = {"calls": 0, "sentences": 0, "sentences_unique": 0, "sentences_cached": 0, "source_tokens": 0,
                         "target_tokens": 0, "batches": 0}
        self.seconds_loading = 0.0

    def _set_batch_limits(self, max_batch_tokens: int, batch_texts: int, batch_chars: int) -> None:
        """Per-device defaults for what 0 means: tokens per CTranslate2 batch, texts and characters per call."""
        cuda = self.device == "cuda"
        gpus = len(self.device_indices) if cuda else 1
        self.max_batch_tokens = max_batch_tokens or (16384 if cuda else 2048)
        self.max_batch_texts = batch_texts or (4096 * gpus if cuda else 256)
        self.max_batch_chars = batch_chars or (400_000 * gpus if cuda else 30_000)

    @staticmethod
    def _pick_device(device: str) -> str:
        if device == "cpu":
            return "cpu"
        import ctranslate2

        gpus = ctranslate2.get_cuda_device_count()
        if device == "cuda" and gpus == 0:
            raise ConfigError("device=cuda, but CTranslate2 sees no CUDA GPU (use --device cpu or auto)")
        return "cuda" if gpus > 0 else "cpu"

    # -- identity -------------------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        if self._identity is None:
            self._identity = model_identity(self.model, self.revision)
        parts = [
            "nllb", self._identity, weight_family(self.compute_type_option), f"beam{self.beam_size}",
            f"rp{self.repetition_penalty:g}", f"nr{self.no_repeat_ngram_size}x", f"lp{self.length_penalty:g}",
            f"len{self.decoding_ratio:g}+{self.decoding_extra}", f"split{SPLIT_VERSION}:{self.max_sentence_chars}",
        ]
        if self.max_decoding_length:
            parts.append(f"max{self.max_decoding_length}")
        if self.min_decoding_length:
            parts.append(f"min{self.min_decoding_length}")
        return "/".join(parts)

    # -- loading --------------------------------------------------------------------------------------------

    def load(self) -> None:
        """Resolve (fetch or convert if needed) and load the model and its tokenizer. Idempotent."""
        if self._translator is not None:
            return
        import ctranslate2
        import sentencepiece as spm

        started = time.perf_counter()
        path = resolve_model(self.model, self.revision, self.local_files_only)
        vocab = set(read_vocabulary(path))
        missing = [c for c in (self.src_code, self.tgt_code) if vocab and c not in vocab]
        if missing:
            raise ConfigError(f"model {self.model}: language code(s) {', '.join(missing)} are not in its vocabulary "
                              f"(languages {self.source_lang} → {self.target_lang})")
        spm_path = find_spm(path)
        try:
            sp = spm.SentencePieceProcessor(model_file=str(spm_path))
            kwargs: dict[str, Any] = {"device": self.device, "compute_type": self.compute_type,
                                      "inter_threads": self.inter_threads, "intra_threads": self.intra_threads}
            if self.device == "cuda":
                kwargs["device_index"] = self.device_indices
            translator = ctranslate2.Translator(str(path), **kwargs)
        except (RuntimeError, ValueError, OSError) as exc:
            raise BackendError(f"nllb: could not load the model {self.model} ({exc})") from None
        self._sp, self._translator, self.model_path = sp, translator, path
        self.seconds_loading = time.perf_counter() - started

    # -- translation ----------------------------------------------------------------------------------------

    def translate(self, texts: list[str]) -> list[str]:
        self.load()
        plans = [split(t, self.placeholder.pattern, self.max_sentence_chars) for t in texts]
        unique: dict[str, None] = {}
        for chunks in plans:
            for sentence in sentences(chunks):
                unique.setdefault(sentence, None)
                self.counters["sentences"] += 1
        # LLaVA's answers share many sentences across segments ("The image shows …"): a sentence translated in an
        # earlier call is not decoded again. The per-call dedup already assumes a sentence translates the same in any
        # batch, so this changes no output, only how often the GPU decodes the same sentence.
        cache = self._sentence_cache
        order = [s for s in unique if s not in cache]
        translated = {s: cache[s] for s in unique if s in cache}
        translated.update(zip(order, self.translate_sentences(order)))
        for sentence in unique:
            cache[sentence] = translated[sentence]
            cache.move_to_end(sentence)
        while len(cache) > SENTENCE_CACHE:
            cache.popitem(last=False)
        self.counters["calls"] += 1
        self.counters["sentences_unique"] += len(order)
        self.counters["sentences_cached"] += len(unique) - len(order)
        return [self._join(chunks, [translated[s] for s in sentences(chunks)]) for chunks in plans]

    def _join(self, chunks: list[Chunk], translations: list[str]) -> str:
        """`sentences.join`, except that Chinese and Japanese do not put a space after a full stop: a space between
        two translated sentences goes when the first ends in 。！？."""
        if self.tgt_code.split("_")[0] not in UNSPACED:
            return join(chunks, translations)
        out, it = [], iter(translations)
        texts = [next(it) if c.translate else c.text for c in chunks]
        for i, (chunk, text) in enumerate(zip(chunks, texts)):
            if (not chunk.translate and 0 < i < len(chunks) - 1 and chunks[i - 1].translate
                    and chunks[i + 1].translate and not text.strip(" \t") and texts[i - 1].endswith(("。", "！", "？"))):
                continue
            out.append(text)
        return "".join(out)

    def tokenize(self, sentences_: list[str]) -> list[list[str]]:
        """The model input for each sentence: source code, SentencePiece pieces, end of sentence."""
        self.load()
        pieces = self._sp.encode(sentences_, out_type=str)  # type: ignore[union-attr]
        return [[self.src_code, *p, "</s>"] for p in pieces]

    def decoding_length(self, longest_input: int) -> int:
        if self.max_decoding_length:
            return self.max_decoding_length
        return int(math.ceil(self.decoding_ratio * longest_input)) + self.decoding_extra

    def plan_batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices sorted by length and grouped so that (batch size × longest) stays within `max_batch_tokens`."""
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            if current and (len(current) + 1) * lengths[i] > self.max_batch_tokens:
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def plan_calls(self, sources: list[list[str]]) -> list[tuple[list[int], int]]:
        """(batch, no_repeat_ngram_size) for each `translate_batch` call. A source that itself repeats a stretch of
        `no_repeat_ngram_size` pieces (BLIP captions do: "photographic photographic photographic") goes in a batch
        without the blocker, whose faithful translation would otherwise be forbidden."""
        n = self.no_repeat_ngram_size
        groups = [(list(range(len(sources))), n)]
        if n:
            repeating = [i for i, s in enumerate(sources) if repeats_ngram(s, n)]
            if repeating:
                rest = sorted(set(range(len(sources))) - set(repeating))
                groups = [(rest, n), (repeating, 0)]
        calls = []
        for members, size in groups:
            for batch in self.plan_batches([len(sources[i]) for i in members]):
                calls.append(([members[j] for j in batch], size))
        return [(b, size) for b, size in calls if b]

    def translate_sentences(self, items: list[str]) -> list[str]:
        """Sentences without placeholders or newlines → translations, in order."""
        if not items:
            return []
        self.load()
        sources = self.tokenize(items)
        lengths = [len(s) for s in sources]
        pending = []
        try:
            for batch, no_repeat in self.plan_calls(sources):
                results = self._translator.translate_batch(  # type: ignore[union-attr]
                    [sources[i] for i in batch],
                    target_prefix=[[self.tgt_code]] * len(batch),
                    beam_size=self.beam_size,
                    max_decoding_length=self.decoding_length(max(lengths[i] for i in batch)),
                    min_decoding_length=self.min_decoding_length,
                    repetition_penalty=self.repetition_penalty,
                    no_repeat_ngram_size=no_repeat,
                    length_penalty=self.length_penalty,
                    max_input_length=0,
                    asynchronous=True,
                )
                pending.append((batch, results))
                self.counters["batches"] += 1
            outputs: list[list[str]] = [[] for _ in items]
            decoded = 0
            for batch, results in pending:
                for i, result in zip(batch, results):
                    hypothesis = result.result().hypotheses[0]
                    decoded += max(len(hypothesis) - 1, 0)  # what the model decoded after the forced language code
                    outputs[i] = self.strip_prefix(hypothesis)
        except RuntimeError as exc:
            raise BackendError(f"nllb: translation failed ({exc})") from None
        self.counters["source_tokens"] += sum(lengths)
        self.counters["target_tokens"] += decoded
        return self.detokenize(outputs)

    def strip_prefix(self, hypothesis: list[str]) -> list[str]:
        """The hypothesis without the target language code it starts with (and any stray language code)."""
        tokens = hypothesis[1:] if hypothesis and hypothesis[0] == self.tgt_code else hypothesis
        return [t for t in tokens if t not in (self.tgt_code, self.src_code, "</s>", "<s>", "<pad>")]

    def detokenize(self, pieces: list[list[str]]) -> list[str]:
        return [self._sp.decode_pieces(p).strip() for p in pieces]  # type: ignore[union-attr]

    # -- bookkeeping ----------------------------------------------------------------------------------------

    def usage(self) -> dict[str, Any]:
        return {**self.counters, "device": self.device, "compute_type": self.compute_type}

    def close(self) -> None:
        self._translator = None
        self._sp = None
        self._sentence_cache.clear()

"""Before paying or waiting: how much a run would send, what DeepL would bill, and roughly how long it would take.

Everything comes from `translate.pipeline.plan`: the sources are streamed once, segments are deduplicated across
all files, curated templates and translation-memory hits are subtracted, and what is left is what a run sends.

* **Billed characters** (DeepL): the characters of the segments still to send, as the run will send them: protected
  spans travel inside ``<x i="0">…</x>`` tags and ``&``, ``<``, ``>`` in the prose as XML entities, and the fake
  server in tests/ (like this estimate) counts those characters too. DeepL bills every character of the source
  text, spaces and punctuation included; how it counts markup is its own business, so treat the figure as an upper
  bound within a few percent for data with few protected spans.
* **Price**: billed characters × a per-million-character rate. The default, 25.00 (USD), is DeepL API Pro's public
  usage price at the time of writing, excluding the monthly base fee; it is an assumption: pass your own rate
  (``--price-per-million``) for your plan and currency. DeepL API Free includes 500,000 characters a month.
* **Time**: source tokens ÷ tokens per second. Tokens are estimated from characters with a characters-per-token
  ratio (default 4.0, a typical figure for English prose under NLLB's SentencePiece vocabulary; pass
  ``--chars-per-token`` to change it). The rate is either configured (``--tokens-per-second``, e.g. from
  bench/RESULTS.md on your GPU) or measured (``--measure N`` translates N segments still to send with the chosen
  backend and times them, not counting the first, which loads the model; the results are not stored).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from translate.backends.base import Backend
from translate.errors import ConfigError
from translate.memory import TranslationMemory
from translate.pipeline import PlanCounts, Segmenter, plan

DEFAULT_PRICE_PER_MILLION = 25.0
DEFAULT_CURRENCY = "USD"
DEFAULT_CHARS_PER_TOKEN = 4.0
DEEPL_FREE_MONTHLY_CHARACTERS = 500_000


@dataclass
class Estimate:
    backend: str
    fingerprint: str
    counts: PlanCounts
    billed_characters: int | None
    price_per_million: float | None
    currency: str
    cost: float | None
    chars_per_token: float
    tokens: int
    tokens_per_second: float | None
    rate_source: str | None  # "configured" | "measured" | None
    seconds: float | None
    memory: str | None
    usage: dict[str, float] | None = None  # the backend's own prediction (an LLM: requests, tokens, cost)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "fingerprint": self.fingerprint,
            "memory": self.memory,
            "counts": self.counts.as_dict(),
            "billed_characters": self.billed_characters,
            "usage": self.usage,
            "price": None if self.cost is None else {
                "per_million_characters": self.price_per_million, "currency": self.currency,
                "cost": round(self.cost, 2)},
            "time": {"chars_per_token": self.chars_per_token, "tokens": self.tokens,
                     "tokens_per_second": self.tokens_per_second, "rate_source": self.rate_source,
                     "seconds": None if self.seconds is None else round(self.seconds, 1)},
        }


def open_memory(path: Path | None) -> tuple[TranslationMemory, str | None]:
    """The memory to count hits against; an absent file counts as empty and is not created."""
    if path is not None and path.exists():
        return TranslationMemory(path), str(path)
    return TranslationMemory(":memory:"), None


def estimate(sources: Iterable[str | Path], segmenter: Segmenter, memory: TranslationMemory, backend: Backend,
             *, memory_label: str | None = None, window: int = 1024,
             price_per_million: float | None = DEFAULT_PRICE_PER_MILLION, currency: str = DEFAULT_CURRENCY,
             chars_per_token: float = DEFAULT_CHARS_PER_TOKEN, tokens_per_second: float | None = None,
             measure: int = 0, records_key: str | None = None) -> Estimate:
    if chars_per_token <= 0:
        raise ConfigError("--chars-per-token must be positive")
    if tokens_per_second is not None and tokens_per_second <= 0:
        raise ConfigError("--tokens-per-second must be positive")
    billed_backend = backend.capabilities.billed  # --measure would spend money on it
    if measure and billed_backend:
        raise ConfigError(f"--measure would send (and pay for) text on {backend.name}; "
                          "give --tokens-per-second instead, or measure with another backend")
    sample: list[str] = []
    # What the service counts per text, where that differs from the segment's length (DeepL: the XML-escaped text).
    billed_length = backend.request_characters
    billed_total = 0
    usage: dict[str, float] | None = None

    def on_missing(missing: list[tuple[bytes, str]]) -> None:
        nonlocal billed_total, usage
        billed_total += sum(billed_length(t) for _, t in missing)
        predicted = backend.estimate_usage([t for _, t in missing])
        if predicted is not None:
            usage = usage or {}
            for key, value in predicted.items():
                if key.startswith("price_"):
                    usage[key] = value  # a rate, not a sum
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    usage[key] = usage.get(key, 0) + value
        if len(sample) < measure + 1:
            sample.extend(t for _, t in missing[: measure + 1 - len(sample)])

    counts = plan(sources, segmenter, memory, window=window, on_missing=on_missing, records_key=records_key)
    rate_source = "configured" if tokens_per_second is not None else None
    if measure and len(sample) >= 2:
        tokens_per_second = measure_rate(backend, sample, chars_per_token)
        rate_source = "measured"
    # An engine with its own usage prediction is billed by that (tokens), not by characters.
    billed = billed_total if billed_backend and usage is None else None
    cost = None
    if billed is not None and price_per_million is not None:
        cost = billed / 1_000_000 * price_per_million
    tokens = round(counts.characters_missing / chars_per_token)
    seconds = tokens / tokens_per_second if tokens_per_second else None
    return Estimate(backend.name, backend.fingerprint(), counts, billed,
                    price_per_million if billed is not None else None, currency, cost, chars_per_token, tokens,
                    tokens_per_second, rate_source, seconds, memory_label,
                    {k: round(v, 6) for k, v in usage.items()} if usage is not None else None)


def measure_rate(backend: Backend, sample: list[str], chars_per_token: float) -> float:
    """Source tokens per second on `sample`, after one warm-up text (model loading, connection set-up)."""
    backend.translate(sample[:1])
    rest = sample[1:]
    started = time.perf_counter()
    for i in range(0, len(rest), backend.max_batch_texts):
        backend.translate(rest[i: i + backend.max_batch_texts])
    elapsed = max(time.perf_counter() - started, 1e-6)
    return sum(map(len, rest)) / chars_per_token / elapsed


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"

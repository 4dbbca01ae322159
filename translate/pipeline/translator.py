"""The translate stage: fill the memory with what a window lacks, one committed backend batch at a time, and the
checked calls into a backend.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from translate.backends.base import Backend, RecordTexts, iter_batches
from translate.errors import BackendError, TranslateError
from translate.formats.records import (
    record_id,
)
from translate.memory import TranslationMemory
from translate.pipeline.options import Stats
from translate.pipeline.segments import PreparedRecord, Segmenter


class SegmentTranslator:
    """The translate stage: fills the memory with what a window lacks, one committed batch at a time."""

    def __init__(self, backend: Backend, memory: TranslationMemory, segmenter: Segmenter):
        self.backend = backend
        self.memory = memory
        self.segmenter = segmenter
        self._spans: dict[bytes, tuple] = {}
        # Called after each stored backend batch with (texts done, texts missing) of the current `fill`: progress
        # that moves while a slow engine works through a window.
        self.on_batch: Callable[[int, int], None] | None = None

    def fill(self, wanted: dict[bytes, str], stats: Stats, records: list[PreparedRecord] | None = None,
             spans: dict[bytes, tuple] | None = None) -> dict[bytes, str]:
        """Translations for every key in `wanted` (key → source body): templates, memory hits, then the backend.

        `records`: the window's prepared records; an engine with `record_context` then gets the missing segments
        grouped by record (`Backend.translate_records`), each record in one request with its other turns as context.
        `spans`: the protected spans of bodies that have placeholders, stored with their translations.
        """
        self._spans = spans or {}
        found = self.lookup(wanted, stats)
        missing = [(k, text) for k, text in wanted.items() if k not in found]
        if not missing:
            return found
        done = 0
        for keys, sources, call in self.batches(missing, records):
            try:
                outputs = call()
            except BackendError as stop:
                # Keep what the backend finished in the failed batch (it was paid for), then stop.
                if stop.partial is not None and len(stop.partial) == len(sources):
                    self._store(keys, sources, stop.partial, stats, found, complete=False)
                raise
            # None: the backend gave up on that text (e.g. an echoed source). It is not stored, so a rerun retries
            # it, and its records are rejected with reason "backend_failed".
            self._store(keys, sources, outputs, stats, found)
            done += len(keys)
            if self.on_batch is not None:
                self.on_batch(done, len(missing))
        return found

    def lookup(self, wanted: dict[bytes, str], stats: Stats, skip: Any = ()) -> dict[bytes, str]:
        """What is already known of `wanted`: curated templates and memory hits (counted in `stats`). Keys in `skip`
        (in flight to the backend) are not looked up."""
        # Curated templates come from the glossary itself, not the memory, so an edited template takes effect on the
        # next run even though the memory keeps the first text stored under that key.
        is_template = self.segmenter.is_template
        templates = [(k, wanted[k], self.segmenter.template_text(k)) for k in wanted if is_template(k)]
        found = self.memory.lookup((k for k in wanted if not is_template(k) and k not in skip),
                                   origins=stats.hits_by_origin)
        stats.memory_hits += len(found)
        if templates:
            self.memory.put(templates, origin="template", **self._languages)
            found.update((k, t) for k, _, t in templates)
        return found

    def batches(self, missing: list[tuple[bytes, str]],
                records: list[PreparedRecord] | None = None) -> Iterator[tuple[list[bytes], list[str], Any]]:
        """(keys, texts, call) per backend batch for the (key, body) pairs of `missing`: whole records with their
        context for an engine with `record_context` (when `records` are given), else texts sorted by length."""
        if self.backend.capabilities.record_context and records is not None:
            return self._record_batches(dict(missing), records)
        return self._text_batches(missing)

    def store(self, keys: list[bytes], sources: list[str], outputs: list[str | None], stats: Stats,
              found: dict[bytes, str], spans: dict[bytes, tuple], complete: bool = True) -> None:
        """Commit one returned batch (`complete=False`: the finished part of a failed one)."""
        self._spans = spans
        self._store(keys, sources, outputs, stats, found, complete)

    def _text_batches(self, missing: list[tuple[bytes, str]]) -> Iterator[tuple[list[bytes], list[str], Any]]:
        """(keys, texts, call) per backend batch of single texts."""
        # Similar lengths batch better on every engine (less padding for NLLB); the order never reaches the output.
        missing.sort(key=lambda kt: len(kt[1]))
        texts = [text for _, text in missing]
        for batch in iter_batches(texts, self.backend.max_batch_texts, self.backend.max_batch_chars):
            sources = [texts[i] for i in batch]
            yield [missing[i][0] for i in batch], sources, functools.partial(translate_batch, self.backend, sources)

    def _record_batches(self, missing: dict[bytes, str],
                        records: list[PreparedRecord]) -> Iterator[tuple[list[bytes], list[str], Any]]:
        """(keys, texts, call) per batch of whole records, in reading order: each record's missing segments in turn
        order (a segment shared by several records travels once, with the first), its other values as context."""
        requests: list[RecordTexts] = []
        request_keys: list[list[bytes]] = []
        for rec in records:
            keys, texts, roles, context = [], [], [], []
            for f in rec.fields:
                if f.key is not None and f.key in missing:
                    keys.append(f.key)
                    texts.append(missing.pop(f.key))
                    roles.append(f.role)
                elif f.key is not None:
                    context.append((f.protected.body, f.role))
            if keys:
                image = rec.item.record.get("image") if isinstance(rec.item.record, dict) else None
                requests.append(RecordTexts(texts, roles, context, image if isinstance(image, str) else None,
                                            record_id(rec.item.record)))
                request_keys.append(keys)
        for key, body in missing.items():  # not in any record (cannot happen from a window; kept for safety)
            requests.append(RecordTexts([body], ["default"]))
            request_keys.append([key])
        sizes = ["".join(r.texts) for r in requests]
        for batch in iter_batches(sizes, max(1, self.backend.max_batch_texts), self.backend.max_batch_chars):
            group = [requests[i] for i in batch]
            keys = [k for i in batch for k in request_keys[i]]
            sources = [t for r in group for t in r.texts]
            yield keys, sources, functools.partial(translate_record_batch, self.backend, group)

    def _store(self, keys: list[bytes], sources: list[str], outputs: list[str | None], stats: Stats,
               found: dict[bytes, str], complete: bool = True) -> None:
        spans = self._spans
        rows = [(key, src, out, spans.get(key)) for key, src, out in zip(keys, sources, outputs)
                if isinstance(out, str)]
        if rows:
            self.memory.put(rows, origin=self.backend.fingerprint(), **self._languages)
        stats.segments_sent += len(rows)
        # Every text of a batch that returned was sent, given up on or not; of a failed batch, only the finished ones.
        stats.characters_sent += sum(len(src) for src, out in zip(sources, outputs) if complete or out is not None)
        found.update((row[0], row[2]) for row in rows)

    @property
    def _languages(self) -> dict[str, str]:
        return {"source_lang": self.segmenter.source_lang, "target_lang": self.segmenter.target_lang}


def _backend_call(backend: Backend, call: Callable[[], Any]) -> Any:
    """Run one backend call. Any exception that is not already one of ours (a plug-in's RuntimeError, CUDA running
    out of memory) becomes a BackendError, so the run stops with exit code 5 and a message instead of a traceback;
    what was committed stays in the memory."""
    try:
        return call()
    except TranslateError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plug-in or CUDA error becomes a BackendError (exit 5)
        raise BackendError(
            f"backend {backend.name} failed: {type(exc).__name__}: {exc}. Everything translated before is in the "
            "translation memory; rerun the same command to resume."
        ) from None


def _checked(backend: Backend, outputs: Any, expected: int) -> list[str | None]:
    """One str (or None: given up) per source, or a BackendError that says what came back instead."""
    if not isinstance(outputs, (list, tuple)) or len(outputs) != expected:
        got = f"{len(outputs)} translations" if isinstance(outputs, (list, tuple)) else type(outputs).__name__
        raise BackendError(f"backend {backend.name} returned {got} for {expected} texts")
    for out in outputs:
        if out is not None and not isinstance(out, str):
            raise BackendError(f"backend {backend.name} returned {type(out).__name__} {str(out)[:40]!r} where a "
                               "translation (text) was expected")
    return list(outputs)


def translate_batch(backend: Backend, sources: list[str]) -> list[str | None]:
    """`backend.translate(sources)`, checked: one str (or None: given up) per source."""
    return _checked(backend, _backend_call(backend, lambda: backend.translate(sources)), len(sources))


def translate_record_batch(backend: Backend, records: list[RecordTexts]) -> list[str | None]:
    """`backend.translate_records(records)`, checked record by record, flattened in order."""
    outputs = _backend_call(backend, lambda: backend.translate_records(records))
    if not isinstance(outputs, (list, tuple)) or len(outputs) != len(records):
        got = f"{len(outputs)} records" if isinstance(outputs, (list, tuple)) else type(outputs).__name__
        raise BackendError(f"backend {backend.name} returned {got} for {len(records)} records")
    flat: list[str | None] = []
    for request, translated in zip(records, outputs):
        flat.extend(_checked(backend, translated, len(request.texts)))
    return flat

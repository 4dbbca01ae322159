"""prepare / translate / assemble, streamed over windows of records, the engine translating while the rest goes on.

For each window of records: validate and protect every value (prepare), gather the segments the memory lacks
(translate), then rebuild, check and write each record (assemble). The missing segments of a look-ahead of a few
windows are sorted by length and sent, batch by batch, to an engine thread (`EngineThread`); meanwhile the caller's
thread prepares the next windows and assembles and writes the earlier ones, storing each returned batch in the memory
as soon as it is back (checked between records). Windows are written in reading order, so the output is the same
whatever the timing. A few windows are held at a time, so memory use does not grow with the file, and the memory,
committed per backend batch, is the checkpoint: a kill loses at most the batch in flight.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import hashlib
import heapq
import json
import queue
import re
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from translate import __version__
from translate.backends.base import Backend, RecordTexts, iter_batches
from translate.errors import BackendError, ConfigError, InputFileError, TranslateError
from translate.formats.readers import RecordReader, SourceItem
from translate.formats.records import (
    FieldPath,
    field_name,
    record_id,
    translatable_fields,
    validate,
    with_values,
)
from translate.formats.sources import Source
from translate.formats.survey import SchemaSurvey
from translate.formats.writers import (
    JsonArrayWriter,
    JsonLinesWriter,
    OutputSet,
    remove_stale_temporaries,
    write_json,
)
from translate.memory import KeySet, TranslationMemory, segment_key
from translate.protect import Protected, Protector, SpanLost
from translate.qc import (
    HARD_REASONS,
    QualityChecker,
    TurnCheck,
    record_check,
    write_qc_rows,
)
from translate.qc.qe import QeStage
from translate.reasons import Reason

ON_REJECT = ("drop", "keep-source", "keep")
MISSING_TRANSLATION = ("the backend gave no usable translation for this segment; nothing was stored, so a rerun tries "
                       "it again")
# Entries in each per-value cache before it is emptied: enough for LLaVA's repeated prompts, small enough that memory
# use stays flat on any file size.
_CACHE_SIZE = 4096
# A word an engine could translate: two letters in a row, or one letter outside ASCII (a CJK character).
_WORD = re.compile(r"[^\W\d_]{2}|[^\W\d_A-Za-z]")


@dataclass
class Stats:
    """Counters for one file (or a whole run, summed)."""

    records_in: int = 0
    records_kept: int = 0
    records_rejected: int = 0
    records_invalid: int = 0
    duplicate_ids: int = 0  # records whose id appeared earlier in the file; both are kept (LLaVA's files have some)
    segments_total: int = 0
    segments_empty: int = 0
    segments_unique: int = 0
    segments_templates: int = 0
    memory_hits: int = 0
    segments_sent: int = 0
    characters_sent: int = 0
    reasons: Counter = field(default_factory=Counter)
    # Memory hits per origin of the stored row ("import:kollava", "nllb/…", "template"): what was paid for where.
    hits_by_origin: Counter = field(default_factory=Counter)

    def add(self, other: Stats) -> None:
        for name, value in asdict(other).items():
            if name in ("reasons", "hits_by_origin"):
                getattr(self, name).update(getattr(other, name))
            else:
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = dict(sorted(self.reasons.items()))
        out["hits_by_origin"] = dict(sorted(self.hits_by_origin.items()))
        return out

    def count_segments(self, segments: SegmentCounts) -> None:
        self.segments_total += segments.total
        self.segments_empty += segments.empty
        self.segments_templates += segments.templates


@dataclass
class RunOptions:
    source_lang: str = "en"
    target_lang: str = "ko"
    window: int = 1024  # records per window; bounds memory use, not output
    on_reject: str = "drop"
    qc: dict[str, Any] = field(default_factory=dict)
    records_key: str | None = None  # the list to read in a file whose top level is an object
    qc_log: bool = True  # write the per-turn QC log
    limit: int | None = None  # only the first N records of each file
    sample: int | None = None  # only N records of each file, chosen by `seed` (`select_records`)
    seed: int = 0
    # Missing segments gathered before they are sorted by length and sent, or windows, whichever comes first. A larger
    # look-ahead sorts more texts together (less padding) but its translations come back later, so less of the
    # pipeline's own work overlaps the engine's (docs/performance.md); each pool is held until written.
    lookahead: int = 8192
    lookahead_windows: int = 2

    def __post_init__(self) -> None:
        if self.on_reject not in ON_REJECT:
            raise ConfigError(f"--on-reject must be one of {', '.join(ON_REJECT)}, not {self.on_reject!r}")
        if self.window < 1:
            raise ConfigError("window must be at least 1 record")


@dataclass(slots=True)
class PreparedField:
    path: FieldPath
    role: str
    value: str
    protected: Protected
    key: bytes | None  # None: nothing to translate (empty, whitespace, or <image> alone)


@dataclass(slots=True)
class PreparedRecord:
    item: SourceItem
    problems: list[Reason]
    fields: list[PreparedField]


ProgressCallback = Callable[[int, Stats], None]


@dataclass(slots=True)
class SegmentCounts:
    """What a window of prepared fields asks for: the keys to fill (key → protected body, first seen first) and how
    many fields there were, empty or curated."""

    wanted: dict[bytes, str]
    total: int = 0
    empty: int = 0
    templates: int = 0
    # The protected spans behind the placeholders of each wanted body that has any: stored beside the translation,
    # so a memory export (TMX) can put the real text back.
    spans: dict[bytes, tuple] = field(default_factory=dict)


def collect_segments(fields: Iterable[Any], segmenter: Segmenter) -> SegmentCounts:
    """The one prepare → count → collect step shared by the pipeline, `plan` and the prompt folders. `fields`: any
    objects with `.key` (None: nothing to translate) and `.protected`."""
    counts = SegmentCounts({})
    wanted = counts.wanted
    has_templates = bool(segmenter.templates)
    for f in fields:
        counts.total += 1
        key = f.key
        if key is None:
            counts.empty += 1
            continue
        if key not in wanted:
            wanted[key] = f.protected.body
            if f.protected.spans:
                counts.spans[key] = f.protected.spans
        if has_templates and segmenter.is_template(key):
            counts.templates += 1
    return counts


class Segmenter:
    """Record → protected fields with memory keys (the plan stage for one record)."""

    def __init__(self, protector: Protector, source_lang: str, target_lang: str, fingerprint: str,
                 templates: dict[str, str] | None = None):
        self.protector = protector
        self.source_lang = source_lang
        self.target_lang = target_lang
        self.fingerprint = fingerprint
        self.templates = templates or {}
        # Curated templates (glossary) are looked up by their exact body and keyed apart from any backend, so one
        # curated translation serves every backend and costs nothing.
        self._template_keys = {
            segment_key(body, source_lang, target_lang, "template"): body for body in self.templates
        }
        # LLaVA repeats its questions and prompts thousands of times: protect and key each distinct value once.
        self._protected_cache: dict[str, tuple[Protected, bytes | None]] = {}

    def key_for(self, body: str) -> bytes:
        if body in self.templates:
            return segment_key(body, self.source_lang, self.target_lang, "template")
        return segment_key(body, self.source_lang, self.target_lang, self.fingerprint)

    def key_for_protected(self, protected: Protected) -> bytes | None:
        """The memory key of a protected value, or None when there is nothing for an engine: an empty body, or one
        without a word outside its protected spans (a box answer "[0.53, 0.2, 0.91, 0.98]", a count "22", an option
        letter "D"), which stays byte for byte as it is instead of being sent, paid for, and judged "untranslated"."""
        if not protected.needs_translation:
            return None
        if all(span.restore == span.source for span in protected.spans) and not _WORD.search(
            self.protector.style.pattern.sub("", protected.body)
        ):
            return None
        return self.key_for(protected.body)

    def is_template(self, key: bytes) -> bool:
        return key in self._template_keys

    def template_text(self, key: bytes) -> str:
        return self.templates[self._template_keys[key]]

    def prepare(self, item: SourceItem) -> PreparedRecord:
        if item.error is not None:  # unparseable; a JSON null record is parsed, and rejected as not an object
            return PreparedRecord(item, [Reason("invalid_json", "", item.error)], [])
        problems = validate(item.record)
        if problems:
            return PreparedRecord(item, problems, [])
        fields = []
        cache = self._protected_cache
        for fpath, role, value in translatable_fields(item.record):
            hit = cache.get(value)
            if hit is None:
                protected = self.protector.protect(value)
                hit = (protected, self.key_for_protected(protected))
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[value] = hit
            fields.append(PreparedField(fpath, role, value, hit[0], hit[1]))
        return PreparedRecord(item, [], fields)


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


class Assembler:
    """The assemble stage for one record: restore spans, reinsert the shell, check, decide."""

    def __init__(self, protector: Protector, checker: QualityChecker):
        self.protector = protector
        self.checker = checker
        self._clean_checks: dict[tuple[str, str, str], Any] = {}

    def assemble(self, prepared: PreparedRecord, found: dict[bytes, str]) -> tuple[dict[str, Any], list[Reason]]:
        values: list[str] = []
        reasons: list[Reason] = []
        # (role, field, check) per translated field of this record: what the pipeline writes to the QC log.
        self.turns: list[tuple[str, str, TurnCheck]] = []
        for f in prepared.fields:
            if f.key is None:
                values.append(f.value)
                continue
            name = field_name(f.path)
            value, check = self.assemble_field(f.value, f.protected, f.key, found, f.role, name)
            reasons.extend(check.reasons)
            self.turns.append((f.role, name, check))
            values.append(value)
        if len(self.turns) > 1:
            reasons.extend(self._record_findings(prepared, values))
        return with_values(prepared.item.record, values), reasons

    def _record_findings(self, prepared: PreparedRecord, values: list[str]) -> list[Reason]:
        """Checks over the record's translated turns together (answers swapped between turns, one answer in another
        speech level). Each finding is also put on its turn's QC log row."""
        translated = [(f, field_name(f.path), v) for f, v in zip(prepared.fields, values) if f.key is not None]
        warnings: list[Reason] = []
        found = self.checker.inspect_record([f.value for f, _, _ in translated], [v for _, _, v in translated],
                                            [f.role for f, _, _ in translated], [n for _, n, _ in translated],
                                            warnings)
        if found or warnings:
            self.turns = [attach_findings(turn, found, warnings) for turn in self.turns]
        return found

    def assemble_field(self, source: str, protected: Protected, key: bytes, found: dict[bytes, str], role: str,
                       where: str, missing: str = MISSING_TRANSLATION) -> tuple[str, TurnCheck]:
        """One translated value: restored and checked. Returns the value to write (the source when there is no
        translation, the raw translation when a span was lost) and the check with its reasons and measurements."""
        if key not in found:
            return source, TurnCheck([Reason("backend_failed", where, missing)], len(source))
        try:
            restored = self.protector.restore(protected, found[key])
        except SpanLost as lost:
            return found[key], TurnCheck([Reason("span_lost", where, lost.detail)], len(source), len(found[key]))
        # The same source and translation (a repeated question) always checks the same; a clean result holds no
        # field name, so it can be reused as is.
        memo = (source, restored, role)
        check = self._clean_checks.get(memo)
        if check is None:
            check = self.checker.inspect(source, restored, role, where)
            if not check.reasons:
                if len(self._clean_checks) >= _CACHE_SIZE:
                    self._clean_checks.clear()
                self._clean_checks[memo] = check
        return restored, check


def attach_findings(turn: tuple[str, str, TurnCheck], reasons: list[Reason],
                    warnings: list[Reason]) -> tuple[str, str, TurnCheck]:
    """`turn` with the record-level findings that concern its field added; a new TurnCheck, since clean checks are
    shared between records."""
    role, name, check = turn
    mine = [r for r in reasons if r.field == name]
    mine_warn = [w for w in warnings if w.field == name]
    if not mine and not mine_warn:
        return turn
    return role, name, dataclasses.replace(check, reasons=check.reasons + mine, warnings=check.warnings + mine_warn)


# -- the engine thread ---------------------------------------------------------------------------------------------
# Backend batches run one at a time on a thread while the caller's thread does everything else. Only the backend call
# leaves the caller's thread: the caller stores each finished batch in the memory (SQLite stays on one thread; `put`
# on a worker thread was 4x slower from GIL churn) and then acknowledges it, and the engine starts its next batch only
# after that. So at any moment at most one batch has been sent and not stored, and a kill loses at most that one.


@dataclass(slots=True)
class Job:
    """One backend batch: the keys and texts it carries, and the call that translates them."""

    keys: list[bytes]
    sources: list[str]
    call: Callable[[], list[str | None]]
    pool: Any = None  # what the caller groups the batch under (its look-ahead pool)


@dataclass(slots=True)
class Outcome:
    job: Job
    outputs: list[str | None] | None
    error: BaseException | None


class EngineThread:
    """Runs submitted jobs in order, one at a time, on one daemon thread (started on the first submit)."""

    def __init__(self, name: str = "translate-engine"):
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        # Finished jobs, appended by the engine and taken by the caller; a deque, so that checking it between
        # records costs next to nothing.
        self.done: collections.deque[Outcome] = collections.deque()
        self._ready = threading.Event()
        self._stored = threading.Semaphore(0)
        self._stop = False
        self._thread: threading.Thread | None = None
        self.pending = 0  # submitted jobs whose outcome the caller has not taken yet

    def submit(self, job: Job) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()
        self.pending += 1
        self._jobs.put(job)

    def take(self, block: bool) -> list[Outcome]:
        """The finished outcomes, in submission order; with `block`, waits for at least one when any is pending.
        Each must then be `acknowledge`d once stored (the engine waits for that before its next batch)."""
        if block and not self.done and self.pending:
            while not self.done:
                # A timeout, so that Ctrl-C is seen promptly and a dead engine thread cannot hang the run.
                self._ready.wait(0.2)
                self._ready.clear()
                if not self.done and (self._thread is None or not self._thread.is_alive()):
                    raise RuntimeError("the translation engine thread stopped without a result")
        out = []
        while self.done:
            out.append(self.done.popleft())
        self.pending -= len(out)
        return out

    def acknowledge(self) -> None:
        """The outcome last taken is stored: the engine may start its next batch."""
        self._stored.release()

    def close(self) -> None:
        """Stop after the batch in progress (if any); its outcome is never stored. Does not wait for it."""
        self._stop = True
        self._jobs.put(None)
        self._stored.release()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None or self._stop:
                return
            try:
                outcome = Outcome(job, job.call(), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
                outcome = Outcome(job, None, exc)
            self.done.append(outcome)
            self._ready.set()
            if outcome.error is not None:
                return
            self._stored.acquire()


# The most of one record (serialised) that the rejected file keeps; a larger record is replaced by a marker with its
# size and SHA-256, so a file of pasted megabyte values cannot blow the log up (docs/robustness.md, "Bounded logs").
REJECTED_RECORD_CAP = 64 * 1024


def score_window(qe: QeStage, built: list[tuple[PreparedRecord, dict[str, Any] | None, list[Reason], list]]) -> None:
    """Quality estimation over a window: one scorer call for the translated turns of every record that is not
    already broken; each score goes on its turn's QC log row, and a score below the threshold adds `qe_low` to the
    record's reasons."""
    pairs: list[tuple[str, str]] = []
    where: list[tuple[int, int]] = []
    for i, (rec, record, reasons, turns) in enumerate(built):
        if record is None or any(r.code in HARD_REASONS for r in reasons):
            continue
        sources = {field_name(f.path): f.value for f in rec.fields if f.key is not None}
        outputs = {field_name(path): value for path, _, value in translatable_fields(record)}
        for j, (_, name, _) in enumerate(turns):
            if name in sources and name in outputs:
                pairs.append((sources[name], outputs[name]))
                where.append((i, j))
    for (i, j), score in zip(where, qe.score_window(pairs)):
        reasons, turns = built[i][2], built[i][3]
        role, name, check = turns[j]
        check, low = qe.apply(check, score, name)
        turns[j] = (role, name, check)
        if low is not None:
            reasons.append(low)


def output_paths(src: Path, out_dir: Path, target_lang: str, fmt: str) -> dict[str, Path]:
    stem = f"{target_lang}_{src.stem}"
    ext = ".json" if fmt == "json" else ".jsonl"
    return {
        "output": out_dir / f"{stem}{ext}",
        "rejected": out_dir / f"{stem}.rejected.jsonl",
        "manifest": out_dir / f"{stem}.manifest.json",
        "qc_log": out_dir / f"{stem}.qc.jsonl",  # one row per checked turn, for `translate report`
    }



def _rejection(src: Path, prepared: PreparedRecord, reasons: list[dict[str, str]],
               candidate: dict[str, Any] | None, policy: str | None = None) -> dict[str, Any]:
    item = prepared.item
    entry: dict[str, Any] = {"file": str(src), "index": item.index}
    if item.line is not None:
        entry["line"] = item.line
    entry["id"] = record_id(item.record)
    entry["reasons"] = reasons
    if policy:
        entry["policy"] = policy
    entry["source"] = capped_record(item.record)
    entry["candidate"] = capped_record(candidate)
    return entry


def capped_record(record: Any) -> Any:
    """`record` as is when its JSON is at most `REJECTED_RECORD_CAP` bytes, else a marker that still identifies it."""
    if record is None or isinstance(record, (int, float, bool)):
        return record
    data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    if len(data) <= REJECTED_RECORD_CAP:
        return record
    return {"truncated": True, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "note": f"the record is over {REJECTED_RECORD_CAP:,} bytes as compact JSON; find it in the source by its "
                    "index (`index`) and check it against this sha256"}


def _count_duplicate_ids(ids: KeySet, window: list[SourceItem]) -> int:
    """How many records of `window` carry an id already seen in this file (kept in SQLite: flat memory)."""
    keys = []
    for item in window:
        rid = record_id(item.record)
        if isinstance(rid, (str, int)):
            keys.append(hashlib.blake2b(f"{type(rid).__name__}:{rid}".encode("utf-8", "surrogatepass"),
                                        digest_size=16).digest())
    return len(keys) - ids.add_many(keys) if keys else 0


def _windows(items: Iterable[SourceItem], size: int) -> Iterator[list[SourceItem]]:
    window: list[SourceItem] = []
    for item in items:
        window.append(item)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window



def select_records(items: Iterable[SourceItem], limit: int | None, sample: int | None,
                   seed: int) -> Iterable[SourceItem]:
    """The records a partial run translates: the first `limit`, then (of those) `sample` chosen by `seed`.

    The sample keeps the `sample` records whose hash of (seed, index) is smallest (a bottom-k sample): the same seed
    picks the same records whatever the window, the machine or the Python version, and only `sample` records are
    held at once. They come out in file order."""
    if limit is not None:
        items = _first(items, limit)
    if sample is None:
        return items
    heap: list[tuple[int, int, SourceItem]] = []  # (-rank, index, item): the largest rank kept on top
    for item in items:
        rank = int.from_bytes(hashlib.blake2b(f"{seed}:{item.index}".encode(), digest_size=8).digest(), "big")
        if len(heap) < sample:
            heapq.heappush(heap, (-rank, item.index, item))
        elif rank < -heap[0][0]:
            heapq.heapreplace(heap, (-rank, item.index, item))
    return [entry[2] for entry in sorted(heap, key=lambda entry: entry[1])]


def _first(items: Iterable[SourceItem], n: int) -> Iterator[SourceItem]:
    for count, item in enumerate(items):
        if count >= n:
            return
        yield item


class Pipeline:
    """Runs files through plan → translate → assemble with one backend, one memory and one set of options."""

    def __init__(self, backend: Backend, memory: TranslationMemory, options: RunOptions,
                 protector: Protector | None = None, templates: dict[str, str] | None = None,
                 checker: QualityChecker | None = None):
        self.backend = backend
        self.memory = memory
        self.options = options
        self.protector = protector or Protector(style=backend.placeholder)
        self.segmenter = Segmenter(self.protector, options.source_lang, options.target_lang,
                                   backend.fingerprint(), templates)
        self.translator = SegmentTranslator(backend, memory, self.segmenter)
        self.assembler = Assembler(self.protector, checker or QualityChecker(options.target_lang, options.qc))
        # Optional quality estimation (`[qc.qe]`); None, the default, leaves the assemble stage as it always was.
        self.qe = QeStage.from_config((options.qc or {}).get("qe"), options.source_lang, options.target_lang)

    def run_file(self, src: str | Path | Source, out_dir: str | Path | None = None,
                 progress: ProgressCallback | None = None, manifest_extra: dict[str, Any] | None = None,
                 batch_progress: Callable[[int, int, int, Stats], None] | None = None) -> Stats:
        """`batch_progress(bytes_read, texts_done, texts_missing, stats)`: after each stored backend batch."""
        reader = RecordReader(src if isinstance(src, Source) else Path(src), records_key=self.options.records_key)
        # A URL is named by its file name and called by its URL in every log; a local path as before.
        src = reader.location if isinstance(src, Source) else Path(src)
        named = Path(reader.name) if isinstance(src, str) else src
        out_dir = Path(out_dir) if out_dir is not None else named.parent
        paths = output_paths(named, out_dir, self.options.target_lang, reader.format)
        for p in paths.values():
            remove_stale_temporaries(out_dir, p.name)
        started = time.time()
        stats = Stats()
        seen = KeySet()
        ids = KeySet()
        writer_cls = JsonArrayWriter if reader.format == "json" else JsonLinesWriter
        qc_path = paths["qc_log"]
        if not self.options.qc_log:
            del paths["qc_log"]  # not written, and not listed in the manifest
        opts = self.options
        records = select_records(reader, opts.limit, opts.sample, opts.seed)
        survey = SchemaSurvey()
        # All outputs of a file appear together, manifest last, or none does (a full disk at any write).
        outputs = OutputSet()
        try:
            with writer_cls(paths["output"], outputs) as out, JsonLinesWriter(paths["rejected"], outputs) as rejected, \
                    (JsonLinesWriter(qc_path, outputs) if opts.qc_log else contextlib.nullcontext()) as qc_log:
                flow = FileFlow(self, src, stats, seen, (out, rejected, qc_log), survey)
                if progress is not None:
                    flow.on_window = lambda: progress(reader.bytes_read, stats)
                if batch_progress is not None:
                    flow.on_batch = lambda done, total: batch_progress(reader.bytes_read, done, total, stats)
                try:
                    try:
                        for window in _windows(flow.polled(records), self.options.window):
                            stats.duplicate_ids += _count_duplicate_ids(ids, window)
                            flow.add_window(window)
                    except InputFileError:
                        # Bad input further on: translate and store what was read before it, as a run without a
                        # look-ahead would have, so the fixed file resumes without paying again; then stop.
                        flow.drain()
                        raise
                    flow.finish()
                finally:
                    flow.close()
            hint = survey.hint()
            if hint is not None and stats.records_invalid == stats.records_in:
                raise InputFileError(src, f"no record can be translated: {hint}")
        except BaseException:
            outputs.discard()
            raise
        finally:
            seen.close()
            ids.close()
        stats.segments_unique = seen.count
        finished = time.time()
        manifest = {
            "tool": {"name": "llava-translate", "version": __version__},
            "source": {"path": str(src), "format": reader.format, "bytes": reader.size},
            "outputs": {name: str(p) for name, p in paths.items()},
            "languages": {"source": self.options.source_lang, "target": self.options.target_lang},
            "backend": {"name": self.backend.name, "fingerprint": self.backend.fingerprint(),
                        "usage": self.backend.usage()},
            "memory": str(self.memory.path),
            "options": {"window": self.options.window, "on_reject": self.options.on_reject, "qc": self.options.qc},
            "counts": stats.as_dict(),
            "timing": {"started": started, "finished": finished, "seconds": round(finished - started, 3)},
        }
        if manifest_extra:
            manifest.update(manifest_extra)
        try:
            write_json(paths["manifest"], manifest, outputs)
        except BaseException:
            outputs.discard()
            raise
        outputs.commit()
        if not self.options.qc_log:
            qc_path.unlink(missing_ok=True)  # an earlier run's log would describe other outputs
        return stats


_SWITCH_INTERVAL = 0.001  # seconds; see FileFlow.__init__


@dataclass(slots=True)
class _Window:
    """A prepared window waiting to be assembled: what it knows, and how many of its keys are still in flight."""

    prepared: list[PreparedRecord]
    found: dict[bytes, str] = field(default_factory=dict)
    waiting: int = 0


@dataclass
class _Pool:
    """Missing segments gathered over the look-ahead, sent together (sorted by length across all its windows)."""

    missing: list[tuple[bytes, str]] = field(default_factory=list)
    spans: dict[bytes, tuple] = field(default_factory=dict)
    records: list[PreparedRecord] | None = None  # an engine with record_context: the window's records
    cuts: list[int] = field(default_factory=list)  # len(missing) after each window that added to it
    jobs: int = 0
    jobs_done: int = 0
    texts_done: int = 0

    def per_window(self) -> list[_Pool]:
        """This pool cut at its windows: sent one after another, the first windows can be written while the engine
        translates the last ones (what the end of a file wants; a look-ahead sorts more but returns all at once)."""
        parts, start = [], 0
        for end in self.cuts:
            part = _Pool(self.missing[start:end], records=self.records)
            part.spans = {k: self.spans[k] for k, _ in part.missing if k in self.spans}
            parts.append(part)
            start = end
        return parts


class FileFlow:
    """One file's windows through prepare → translate → assemble, translation on the engine thread.

    The caller's thread does everything but the backend call: SQLite (lookups, stores), prepare, assemble, QC and
    writing. A segment in flight for one window that a later window also needs is not sent again: the later window
    waits for it (and counts it as a memory hit, as it would have found it there)."""

    def __init__(self, pipeline: Pipeline, src: Path, stats: Stats, seen: KeySet, writers: tuple,
                 survey: SchemaSurvey | None):
        self.pipeline = pipeline
        self.src = src
        self.stats = stats
        self.seen = seen
        self.out, self.rejected, self.qc_log = writers
        self.survey = survey
        self.on_window: Callable[[], None] | None = None
        self.on_batch: Callable[[int, int], None] | None = None
        self.engine = EngineThread()
        self.flying: dict[bytes, list[_Window]] = {}  # key in flight → the windows waiting for it, sender first
        self.pending: deque[_Window] = deque()  # prepared, not yet written; in reading order
        self.outstanding: deque[_Pool] = deque()  # sent pools with batches not yet back
        self.pool = _Pool()
        self.windows_in_pool = 0
        self.sent_any = False
        backend = pipeline.backend
        self.per_record = backend.capabilities.record_context
        self.origin = backend.fingerprint()
        opts = pipeline.options
        self.lookahead = max(1, opts.lookahead)
        self.lookahead_windows = max(1, opts.lookahead_windows)
        # Each batch changes hands twice (engine → this thread to be stored, and back), and each time the other
        # thread waits for the GIL up to the switch interval (5 ms by default): per batch, time the engine is idle.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, _SWITCH_INTERVAL))

    # -- prepare ------------------------------------------------------------------------------------------------

    def add_window(self, window: list[SourceItem]) -> None:
        segmenter, done = self.pipeline.segmenter, self.engine.done
        prepared = []
        for item in window:
            prepared.append(segmenter.prepare(item))
            if done:
                self._settle(block=False)
        segments = collect_segments((f for rec in prepared for f in rec.fields), segmenter)
        self.stats.count_segments(segments)
        wanted = segments.wanted
        self.seen.add_many(wanted)
        win = _Window(prepared)
        if wanted:
            flying, pool = self.flying, self.pool
            win.found = found = self.pipeline.translator.lookup(wanted, self.stats, skip=flying)
            for key, body in wanted.items():
                if key in found:
                    continue
                waiters = flying.get(key)
                if waiters is None:
                    flying[key] = [win]
                    pool.missing.append((key, body))
                    span = segments.spans.get(key)
                    if span is not None:
                        pool.spans[key] = span
                else:
                    waiters.append(win)
                win.waiting += 1
            if self.pool.missing and (not self.pool.cuts or self.pool.cuts[-1] < len(self.pool.missing)):
                self.pool.cuts.append(len(self.pool.missing))
        self.pending.append(win)
        self.windows_in_pool += 1
        if self.pool.missing:
            if self.per_record:  # an LLM gets each window's records as today: the same requests, the same context
                self.pool.records = prepared
                self._send_pool()
            elif (not self.sent_any or len(self.pool.missing) >= self.lookahead
                  or self.windows_in_pool >= self.lookahead_windows):
                self._send_pool()
        self._assemble_ready()
        # Windows that need nothing wait behind one that does; hold no more than a couple of look-aheads of them.
        while len(self.pending) > 2 * self.lookahead_windows + 1:
            if self.pool.missing:
                self._send_pool()
            else:
                self._settle(block=True)
            self._assemble_ready()

    def finish(self) -> None:
        if self.pool.missing:
            pool, self.pool = self.pool, _Pool()
            for part in pool.per_window():
                self._send_pool(part)
        while self.pending:
            self._assemble_ready()
            if self.pending:
                if not self.engine.pending:
                    raise RuntimeError("a window waits for segments that were never sent")  # a bug, not bad input
                self._settle(block=True)

    def polled(self, items: Iterable[SourceItem]) -> Iterator[SourceItem]:
        """`items`, storing finished batches between them (reading a window takes a while)."""
        done = self.engine.done
        for item in items:
            if done:
                self._settle(block=False)
            yield item

    def drain(self) -> None:
        """Send what is gathered and store every batch (nothing more is written): before stopping on bad input."""
        if self.pool.missing:
            self._send_pool()
        while self.engine.pending:
            self._settle(block=True)

    def close(self) -> None:
        self.engine.close()
        sys.setswitchinterval(self._switch_interval)

    # -- translate ----------------------------------------------------------------------------------------------

    def _send_pool(self, pool: _Pool | None = None) -> None:
        if pool is None:
            pool, self.pool = self.pool, _Pool()
        self.windows_in_pool = 0
        self.sent_any = True
        for keys, sources, call in self.pipeline.translator.batches(pool.missing, pool.records):
            self.engine.submit(Job(keys, sources, call, pool))
            pool.jobs += 1
        self.outstanding.append(pool)
        # Double buffering: this pool is queued behind the one in flight; the older ones are finished and written
        # first, so that the engine always has the next pool while this thread assembles the last.
        while len(self.outstanding) > 1:
            self._settle(block=True)
            self._assemble_ready()
        self._assemble_ready()

    def _settle(self, block: bool) -> None:
        """Store every batch the engine has finished (waiting for one with `block`), and hand its texts to the
        windows waiting for them."""
        stats, translator = self.stats, self.pipeline.translator
        for outcome in self.engine.take(block):
            job, pool = outcome.job, outcome.job.pool
            if outcome.error is not None:
                error = outcome.error
                # Keep what the backend finished in the failed batch (it was paid for), then stop.
                if (isinstance(error, BackendError) and error.partial is not None
                        and len(error.partial) == len(job.sources)):
                    translator.store(job.keys, job.sources, error.partial, stats, {}, pool.spans, complete=False)
                raise error
            got: dict[bytes, str] = {}
            translator.store(job.keys, job.sources, outcome.outputs, stats, got, pool.spans)
            self.engine.acknowledge()  # stored: the engine may start the next batch
            time.sleep(0)  # and let it have the GIL now, not at the next switch interval
            self._resolve(job.keys, got)
            pool.jobs_done += 1
            pool.texts_done += len(job.keys)
            if self.on_batch is not None:
                self.on_batch(pool.texts_done, len(pool.missing))
            while self.outstanding and self.outstanding[0].jobs_done == self.outstanding[0].jobs:
                self.outstanding.popleft()

    def _resolve(self, keys: list[bytes], got: dict[bytes, str]) -> None:
        stats, flying = self.stats, self.flying
        for key in keys:
            waiters = flying.pop(key)
            text = got.get(key)  # None: given up; its records are rejected as backend_failed
            for i, win in enumerate(waiters):
                if text is not None:
                    win.found[key] = text
                    if i:  # a later window would have found it in the memory
                        stats.memory_hits += 1
                        stats.hits_by_origin[self.origin] += 1
                win.waiting -= 1

    # -- assemble -----------------------------------------------------------------------------------------------

    def _assemble_ready(self) -> None:
        pending = self.pending
        while pending and pending[0].waiting == 0:
            self._assemble(pending.popleft())
            if self.on_window is not None:
                self.on_window()

    def _assemble(self, win: _Window) -> None:
        src, stats, survey = self.src, self.stats, self.survey
        out, rejected, qc_log = self.out, self.rejected, self.qc_log
        assembler, found, done = self.pipeline.assembler, win.found, self.engine.done
        policy = self.pipeline.options.on_reject
        # First every record of the window is rebuilt and checked, then (with quality estimation on) the window's
        # turns are scored in one call, then everything is written in order.
        built: list[tuple[PreparedRecord, dict[str, Any] | None, list[Reason], list]] = []
        for rec in win.prepared:
            if done:
                self._settle(block=False)
            if rec.problems:
                built.append((rec, None, [], []))
                continue
            record, reasons = assembler.assemble(rec, found)
            built.append((rec, record, reasons, assembler.turns))
        if self.pipeline.qe is not None:
            score_window(self.pipeline.qe, built)
        for rec, record, reasons, turns in built:
            stats.records_in += 1
            if survey is not None and rec.item.error is None:  # an unparseable JSONL line says nothing of the shape
                survey.add(rec.item.record, rec.problems)
            if rec.problems:
                stats.records_invalid += 1
                stats.records_rejected += 1
                stats.reasons.update(p.code for p in rec.problems)
                details = [dict(p.as_dict(), detail=f"{src}: record {rec.item.index}"
                                f" (id {record_id(rec.item.record)!r}), field {p.field or '<record>'}: {p.detail}")
                           for p in rec.problems]
                rejected.write(_rejection(src, rec, details, None))
                write_qc_rows(qc_log, src, rec.item.index, record_id(rec.item.record),
                              [(None, "", record_check([p.code for p in rec.problems]))], "rejected")
                continue
            rid = record_id(rec.item.record)
            if not reasons:
                stats.records_kept += 1
                out.write(record)
                write_qc_rows(qc_log, src, rec.item.index, rid, turns, "kept")
                continue
            stats.reasons.update(r.code for r in reasons)
            reason_dicts = [r.as_dict() for r in reasons]
            # `keep` never writes a structurally broken candidate (lost <image> or span, no translation at all).
            if policy == "drop" or (policy == "keep" and any(r.code in HARD_REASONS for r in reasons)):
                stats.records_rejected += 1
                rejected.write(_rejection(src, rec, reason_dicts, record))
                verdict = "rejected"
            else:
                # Kept despite reasons; still listed, marked with the policy, so nothing is hidden.
                stats.records_kept += 1
                out.write(rec.item.record if policy == "keep-source" else record)
                rejected.write(_rejection(src, rec, reason_dicts, record, policy))
                verdict = "kept-source" if policy == "keep-source" else "kept-flagged"
            write_qc_rows(qc_log, src, rec.item.index, rid, turns, verdict)


@dataclass
class PlanCounts:
    """What a set of sources needs: the numbers behind `estimate` and the cluster plan."""

    files: int = 0
    records: int = 0
    records_invalid: int = 0
    segments_total: int = 0
    segments_empty: int = 0
    segments_unique: int = 0
    segments_templates: int = 0
    segments_in_memory: int = 0
    segments_missing: int = 0
    characters_unique: int = 0
    characters_missing: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


MissingCallback = Callable[[list[tuple[bytes, str]]], None]


def plan(sources: Iterable[str | Path], segmenter: Segmenter, memory: TranslationMemory, window: int = 1024,
         on_missing: MissingCallback | None = None, progress: Callable[[Path, int], None] | None = None,
         records_key: str | None = None) -> PlanCounts:
    """Stream the sources once and count what the memory lacks, without translating anything.

    Each unique segment (across all the files) is counted once; `on_missing` receives, window by window, the
    (key, body) pairs that are neither in the memory nor curated templates, each exactly once.
    """
    counts = PlanCounts()
    seen = KeySet()
    try:
        for src in sources:
            src = src if isinstance(src, Source) else Path(src)
            counts.files += 1
            reader = RecordReader(src, records_key=records_key)
            for items in _windows(reader, window):
                prepared = [segmenter.prepare(item) for item in items]
                counts.records += len(prepared)
                counts.records_invalid += sum(1 for rec in prepared if rec.problems)
                segments = collect_segments((f for rec in prepared for f in rec.fields), segmenter)
                counts.segments_total += segments.total
                counts.segments_empty += segments.empty
                # Keep only keys never seen earlier in this plan (KeySet.add_many reports the new ones in bulk).
                new = _new_keys(seen, segments.wanted)
                if not new:
                    continue
                counts.segments_unique += len(new)
                counts.characters_unique += sum(len(t) for t in new.values())
                templates = {k for k in new if segmenter.is_template(k)}
                counts.segments_templates += len(templates)
                in_memory = memory.lookup(k for k in new if k not in templates)
                counts.segments_in_memory += len(in_memory)
                missing = [(k, t) for k, t in new.items() if k not in templates and k not in in_memory]
                counts.segments_missing += len(missing)
                counts.characters_missing += sum(len(t) for _, t in missing)
                if on_missing and missing:
                    on_missing(missing)
                if progress:
                    progress(src, reader.bytes_read)
    finally:
        seen.close()
    return counts


def _new_keys(seen: KeySet, wanted: dict[bytes, str]) -> dict[bytes, str]:
    """The part of `wanted` not yet in `seen`, adding it. One query per window keeps this cheap."""
    known = seen.contains(wanted)
    fresh = {k: t for k, t in wanted.items() if k not in known}
    seen.add_many(fresh)
    return fresh

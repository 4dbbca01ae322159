"""`Pipeline`: runs files through prepare → translate → assemble with one backend, one memory and one set of options.

For each window of records: validate and protect every value (prepare), gather the segments the memory lacks
(translate), then rebuild, check and write each record (assemble). The missing segments of a look-ahead of a few
windows are sorted by length and sent, batch by batch, to an engine thread (`EngineThread`); meanwhile the caller's
thread prepares the next windows and assembles and writes the earlier ones, storing each returned batch in the memory
as soon as it is back (checked between records). Windows are written in reading order, so the output is the same
whatever the timing. A few windows are held at a time, so memory use does not grow with the file, and the memory,
committed per backend batch, is the checkpoint: a kill loses at most the batch in flight.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from translate import __version__
from translate.backends.base import Backend
from translate.errors import BackendError, InputFileError
from translate.formats.readers import RecordReader, SourceItem
from translate.formats.sources import Source
from translate.formats.survey import SchemaSurvey
from translate.formats.writers import (
    JsonArrayWriter,
    JsonLinesWriter,
    OutputSet,
    remove_stale_temporaries,
    write_json,
)
from translate.memory import KeySet, TranslationMemory
from translate.pipeline.assembler import Assembler
from translate.pipeline.engine import EngineThread, Job
from translate.pipeline.files import (
    count_duplicate_ids,
    output_paths,
    select_records,
    windows,
)
from translate.pipeline.options import RunOptions, SegmentCounts, Stats
from translate.pipeline.segments import PreparedRecord, Segmenter
from translate.pipeline.translator import SegmentTranslator
from translate.pipeline.window_stages import AssembleSettings, WindowOutput, assemble_window, prepare_window
from translate.pipeline.workers import WorkerPool, resolve_workers
from translate.protect import Protector
from translate.qc import QualityChecker
from translate.qc.qe import QeStage

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, Stats], None]

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

    def worker_count(self, size: int | None) -> int:
        """Worker processes for a file of `size` bytes (`RunOptions.workers`; see `translate.pipeline.workers`).
        None where they cannot help: an LLM gets whole records from the caller's process, and quality estimation
        calls a backend of its own."""
        count = resolve_workers(self.options.workers, size)
        if count and (self.backend.capabilities.record_context or self.qe is not None):
            if self.options.workers:
                why = "quality estimation is on" if self.qe is not None else f"{self.backend.name} translates records"
                log.info("--workers %d not used: %s, so prepare and assemble stay in this process",
                         self.options.workers, why)
            return 0
        return count

    def _manifest(self, src: Path | str, reader: RecordReader, paths: dict[str, Path], stats: Stats,
                  timing: tuple[float, float]) -> dict[str, Any]:
        started, finished = timing
        return {
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
                flow = FileFlow(self, src, stats, seen, (out, rejected, qc_log), survey,
                                workers=self.worker_count(reader.size))
                if progress is not None:
                    flow.on_window = lambda: progress(reader.bytes_read, stats)
                if batch_progress is not None:
                    flow.on_batch = lambda done, total: batch_progress(reader.bytes_read, done, total, stats)
                try:
                    try:
                        for window in windows(flow.polled(records), self.options.window):
                            stats.duplicate_ids += count_duplicate_ids(ids, window)
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
        manifest = self._manifest(src, reader, paths, stats, (started, finished))
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
    """A prepared window waiting to be assembled: what it knows, and how many of its keys are still in flight. Its
    records are here (`prepared`), or held by a worker process under `wid`."""

    prepared: list[PreparedRecord] | None
    found: dict[bytes, str] = field(default_factory=dict)
    waiting: int = 0
    wid: int | None = None


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
    waits for it (and counts it as a memory hit, as it would have found it there).

    With `workers`, prepare and assemble run in worker processes (`WorkerPool`): a few windows are prepared ahead of
    the one being looked up, and assembled windows are written as their results come back, still in reading order.
    Everything else (SQLite, the engine, the pools, writing) stays as it is here."""

    def __init__(self, pipeline: Pipeline, src: Path, stats: Stats, seen: KeySet, writers: tuple,
                 survey: SchemaSurvey | None, workers: int = 0):
        self.pipeline = pipeline
        self.src = src
        self.stats = stats
        self.seen = seen
        self.out, self.rejected, self.qc_log = writers
        self.survey = survey
        self.on_window: Callable[[], None] | None = None
        self.on_batch: Callable[[int, int], None] | None = None
        self.wake = threading.Event()  # the engine finished a batch, or a worker sent a result
        self.engine = EngineThread(wake=self.wake)
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
        self.settings = AssembleSettings(src, opts.on_reject, self.qc_log is not None)
        self.workers: WorkerPool | None = None
        self.next_wid = 0
        self.preparing: deque[int] = deque()  # windows given to a worker to prepare, in reading order
        self.assembling: deque[int] = deque()  # windows given to a worker to assemble, in reading order
        if workers:
            self.workers = WorkerPool(workers, pipeline.segmenter, pipeline.assembler, self.settings, self.wake)
            # Enough windows ahead that every worker has one to prepare while this process looks one up.
            self.depth = workers + 1
        # Each batch changes hands twice (engine → this thread to be stored, and back), and each time the other
        # thread waits for the GIL up to the switch interval (5 ms by default): per batch, time the engine is idle.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch_interval, _SWITCH_INTERVAL))

    # -- prepare ------------------------------------------------------------------------------------------------

    def add_window(self, window: list[SourceItem]) -> None:
        if self.workers is None:
            prepared, segments = prepare_window(self.pipeline.segmenter, window, self._poll)
            self._add_prepared(_Window(prepared), segments)
            return
        wid, self.next_wid = self.next_wid, self.next_wid + 1
        self.workers.prepare(wid, window)
        self.preparing.append(wid)
        while len(self.preparing) > self.depth:
            self._take_prepared()
        self._write_assembled(block=False)

    def _take_prepared(self) -> None:
        wid = self.preparing.popleft()
        self._add_prepared(_Window(None, wid=wid), self._await(wid, "prepare"))

    def _poll(self) -> None:
        """Between records: store what the engine has finished."""
        if self.engine.done:
            self._settle(block=False)

    def _await(self, wid: int, kind: str) -> Any:
        """A worker's result for window `wid`, storing the engine's batches while it comes."""
        assert self.workers is not None
        while True:
            result = self.workers.take(wid, kind)
            if result is not None:
                return result
            self._poll()
            self.wake.wait(0.2)
            self.wake.clear()
            self.workers.check_alive(wid)

    def _add_prepared(self, win: _Window, segments: SegmentCounts) -> None:
        """Look a prepared window up in the memory, gather what it lacks into the pool, send the pool when it is
        full, and assemble what is ready."""
        self.stats.count_segments(segments)
        wanted = segments.wanted
        self.seen.add_many(wanted)
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
                self.pool.records = win.prepared
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
        while self.preparing:
            self._take_prepared()
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
        while self.assembling:
            self._write_assembled(block=True)

    def polled(self, items: Iterable[SourceItem]) -> Iterator[SourceItem]:
        """`items`, storing finished batches between them (reading a window takes a while)."""
        done = self.engine.done
        for item in items:
            if done:
                self._settle(block=False)
            yield item

    def drain(self) -> None:
        """Send what is gathered and store every batch (nothing more is written): before stopping on bad input."""
        while self.preparing:
            self._take_prepared()
        if self.pool.missing:
            self._send_pool()
        while self.engine.pending:
            self._settle(block=True)

    def close(self) -> None:
        self.engine.close()
        if self.workers is not None:
            self.workers.close()
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
            win = pending.popleft()
            if win.wid is None:
                pipeline = self.pipeline
                self._write(assemble_window(pipeline.assembler, win.prepared or [], win.found, self.settings,
                                            pipeline.qe, self._poll))
                continue
            assert self.workers is not None
            self.workers.assemble(win.wid, win.found)
            self.assembling.append(win.wid)
            # Written as results come back; more than a few windows behind, wait for the oldest.
            self._write_assembled(block=len(self.assembling) > self.depth)

    def _write_assembled(self, block: bool) -> None:
        """Write the worker-assembled windows that are back, oldest first (waiting for the oldest with `block`)."""
        assert self.workers is not None
        while self.assembling:
            wid = self.assembling[0]
            output = self._await(wid, "assemble") if block else self.workers.take(wid, "assemble")
            if output is None:
                return
            self.assembling.popleft()
            self._write(output)
            block = len(self.assembling) > self.depth

    def _write(self, output: WindowOutput) -> None:
        """One assembled window into the output files and the counters, in reading order."""
        self.out.write_encoded(output.kept)
        if output.rejected:
            self.rejected.write_text("".join(output.rejected))
        if self.qc_log is not None and output.qc_rows:
            self.qc_log.write_text("".join(output.qc_rows))
        self.stats.add(output.stats)
        if self.survey is not None:
            for record, problems in output.survey:
                self.survey.add(record, problems)
        if self.on_window is not None:
            self.on_window()

"""Open a job from a config, and run files through it.

One place builds what a run needs: the backend, the translation memory, the protector and curated templates from the
glossary, and the pipeline. `run`, `prompts`, `estimate`, the cluster stages and the Ray executor all get their
pieces here, so they protect, key and check text the same way.

    with open_job(cfg) as job:
        totals = run_files(job, cfg.sources(), progress=bar)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from translate.backends.base import Backend, create_backend
from translate.config import RunConfig, redact
from translate.glossary import protection_for_run
from translate.memory import TranslationMemory
from translate.pipeline import Pipeline, RunOptions, Segmenter, Stats
from translate.protect import Protector


class RunProgress(Protocol):
    """What a caller is told while files run. The CLI draws a bar; batch jobs may print lines."""

    def start(self, total_bytes: int) -> None: ...

    def file_started(self, path: Path) -> None: ...

    def advance(self, done_bytes: int, records: int, segments: int) -> None: ...

    def file_done(self, path: Path, out_dir: Path, stats: Stats) -> None: ...


class NoProgress:
    """A `RunProgress` that says nothing."""

    def start(self, total_bytes: int) -> None:
        pass

    def file_started(self, path: Path) -> None:
        pass

    def advance(self, done_bytes: int, records: int, segments: int) -> None:
        pass

    def file_done(self, path: Path, out_dir: Path, stats: Stats) -> None:
        pass


@dataclass
class Protection:
    """The protector (placeholders, do-not-translate spans, glossary terms) and the curated templates of a run."""

    protector: Protector
    templates: dict[str, str]


def open_protection(cfg: RunConfig, backend: Backend) -> Protection:
    """From the glossary folder (`cfg.glossary`, else ./glossaries/<target>, else the one shipped with the tool).
    A backend with a native glossary gets its terms synced here (see `translate.glossary.protection_for_run`)."""
    protector, templates = protection_for_run(cfg.glossary, cfg.source, cfg.target, backend)
    return Protection(protector, templates)


def open_segmenter(cfg: RunConfig, backend: Backend) -> Segmenter:
    """The plan stage alone (for `estimate` and the cluster plan): protection and memory keys, no memory."""
    protection = open_protection(cfg, backend)
    return Segmenter(protection.protector, cfg.source, cfg.target, backend.fingerprint(), protection.templates)


def run_options(cfg: RunConfig) -> RunOptions:
    return RunOptions(source_lang=cfg.source, target_lang=cfg.target, window=cfg.window, on_reject=cfg.on_reject,
                      qc=cfg.qc)


def manifest_options(cfg: RunConfig) -> dict[str, Any]:
    """The options a manifest records: everything that shaped the output, never a secret."""
    return {
        "target": cfg.target, "source": cfg.source, "backend": cfg.backend, "window": cfg.window,
        "on_reject": cfg.on_reject, "qc": cfg.qc, "backend_options": redact(cfg.backend_options),
    }


class Job:
    """An open run: backend, memory and pipeline for one config. Close it (or use `with`) to release the model,
    sessions and the database."""

    def __init__(self, cfg: RunConfig, backend: Backend, memory: TranslationMemory, pipeline: Pipeline):
        self.config = cfg
        self.backend = backend
        self.memory = memory
        self.pipeline = pipeline

    def close(self) -> None:
        try:
            self.backend.close()
        finally:
            self.memory.close()

    def __enter__(self) -> "Job":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_job(cfg: RunConfig, backend: Backend | None = None, memory: TranslationMemory | None = None) -> Job:
    """Build the job for `cfg`. `backend`: one already built (the cluster assemble passes a stand-in that sends
    nothing); `memory`: one already open. The job owns and closes both."""
    if backend is None:
        backend = create_backend(cfg.backend, cfg.source, cfg.target, cfg.backend_options)
    try:
        if memory is None:
            memory = TranslationMemory(cfg.memory_path())
        protection = open_protection(cfg, backend)
    except BaseException:
        backend.close()
        if memory is not None:
            memory.close()
        raise
    pipeline = Pipeline(backend, memory, run_options(cfg), protector=protection.protector,
                        templates=protection.templates)
    return Job(cfg, backend, memory, pipeline)


def run_files(job: Job, sources: list[Path], progress: RunProgress | None = None,
              manifest_extra: dict[str, Any] | None = None) -> Stats:
    """Run every source through the job's pipeline into its output folder; the summed counters.

    The manifest of each file records the run's options (`manifest_options`) plus `manifest_extra`."""
    progress = progress or NoProgress()
    extra = {"options": manifest_options(job.config), **(manifest_extra or {})}
    totals = Stats()
    progress.start(sum(path.stat().st_size for path in sources))
    done_bytes = 0
    for path in sources:
        progress.file_started(path)

        def on_window(bytes_read: int, stats: Stats, _base: int = done_bytes) -> None:
            progress.advance(_base + bytes_read, totals.records_in + stats.records_in,
                             totals.segments_total + stats.segments_total)

        out_dir = job.config.out_dir(path)
        stats = job.pipeline.run_file(path, out_dir, progress=on_window, manifest_extra=extra)
        totals.add(stats)
        done_bytes += path.stat().st_size
        progress.advance(done_bytes, totals.records_in, totals.segments_total)
        progress.file_done(path, out_dir, stats)
    return totals

"""Open a job from a config, and run files through it.

One place builds what a run needs: the backend, the translation memory, the protector and curated templates from the
glossary, and the pipeline. `run`, `prompts`, `estimate`, the cluster stages and the Ray executor all get their
pieces here, so they protect, key and check text the same way.

    sources = cfg.sources()
    plan_outputs(cfg, sources)          # refuses collisions and foreign files before anything is opened
    with open_job(cfg) as job:
        totals = run_files(job, sources, progress=bar)
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from translate.backends.base import Backend, create_backend
from translate.config import RunConfig, redact, redacted_command, written_by_tool
from translate.errors import ConfigError
from translate.formats.sources import Source, source_size
from translate.glossary import glossary_identity, protection_for_run
from translate.memory import TranslationMemory
from translate.pipeline import Pipeline, RunOptions, Segmenter, Stats, output_paths
from translate.protect import Protector

log = logging.getLogger("translate.runtime")

class RunProgress(Protocol):
    """What a caller is told while files run. The CLI draws a bar; batch jobs may print lines."""

    def start(self, total_bytes: int) -> None: ...

    def file_started(self, path: Path) -> None: ...

    def advance(self, done_bytes: int, records: int, segments: int) -> None:
        """`segments`: segments *sent* to the backend so far (memory hits and templates cost nothing, so a rate over
        them would flatter a slow engine). Called per window and after every backend batch."""

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
    glossary: dict[str, str] | None = None  # folder and SHA-256, for the manifest


def open_protection(cfg: RunConfig, backend: Backend) -> Protection:
    """From the glossary folder (`cfg.glossary`, else ./glossaries/<target>, else the one shipped with the tool).
    A backend with a native glossary gets its terms synced here (see `translate.glossary.protection_for_run`)."""
    protector, templates = protection_for_run(cfg.glossary, cfg.source, cfg.target, backend)
    return Protection(protector, templates, glossary_identity(cfg.glossary, cfg.target))


def open_segmenter(cfg: RunConfig, backend: Backend) -> Segmenter:
    """The plan stage alone (for `estimate` and the cluster plan): protection and memory keys, no memory."""
    protection = open_protection(cfg, backend)
    return Segmenter(protection.protector, cfg.source, cfg.target, backend.fingerprint(), protection.templates)


def run_options(cfg: RunConfig) -> RunOptions:
    return RunOptions(source_lang=cfg.source, target_lang=cfg.target, window=cfg.window, on_reject=cfg.on_reject,
                      qc=cfg.qc, records_key=cfg.records_key, qc_log=cfg.qc_log, limit=cfg.limit,
                      sample=cfg.sample, seed=cfg.seed, workers=cfg.workers)


def manifest_options(cfg: RunConfig) -> dict[str, Any]:
    """The options a manifest records: everything that shaped the output, never a secret. Options left at their
    defaults that older manifests never had (records_key, qc_log) are written only when set."""
    options = {
        "target": cfg.target, "source": cfg.source, "backend": cfg.backend, "window": cfg.window,
        "on_reject": cfg.on_reject, "qc": cfg.qc, "backend_options": redact(cfg.backend_options),
    }
    if cfg.records_key is not None:
        options["records_key"] = cfg.records_key
    if not cfg.qc_log:
        options["qc_log"] = False
    return options


def partial_manifest(cfg: RunConfig) -> dict[str, Any]:
    """`{"partial": true, "selection": {...}}` for a preview run (--limit / --sample); {} for a whole run."""
    if not cfg.partial:
        return {}
    return {"partial": True, "selection": {"limit": cfg.limit, "sample": cfg.sample,
                                           "seed": cfg.seed if cfg.sample is not None else None}}


@dataclass
class PlannedFile:
    """One source and every file its run writes (`translate.pipeline.output_paths`)."""

    source: Path
    out_dir: Path
    paths: dict[str, Path]


def _same_file_key(path: Path | Source) -> str:
    if isinstance(path, Source):
        return path.location  # a URL is never one of our files
    return os.path.normcase(os.path.realpath(path))


def plan_outputs(cfg: RunConfig, sources: list[Path]) -> list[PlannedFile]:
    """Every output of a run, checked before anything is opened or written (invariant 8: nothing is overwritten).

    ConfigError (exit 2) when a source is itself an output of this tool, when two sources would write the same file
    (the same stem in two folders; `data.json` and `data.jsonl`, which share their rejected, manifest and QC files),
    when an output (or the memory) would replace a source, when an output name would leave its folder, or when an
    output exists that no manifest of this tool lists (unless `cfg.overwrite`)."""
    from translate.formats.readers import RecordReader

    inputs = {_same_file_key(p): p for p in sources}
    claimed: dict[str, tuple[Path, Path]] = {}  # file key → (source, output path)
    planned: list[PlannedFile] = []
    for src in sources:
        if cfg.is_own_output(src):
            raise ConfigError(f"--src {src}: this is a file llava-translate wrote (an output, side file or memory), "
                              "not a source; pass the file it was made from")
        out_dir = cfg.out_dir(src)
        named = Path(src.name) if isinstance(src, Source) else src  # outputs are named after the file name
        paths = output_paths(named, out_dir, cfg.target, RecordReader(src, records_key=cfg.records_key).format)
        for path in paths.values():
            if _same_file_key(path.parent) != _same_file_key(out_dir) or path.name.startswith("."):
                raise ConfigError(f"output name {path.name!r} would leave the output folder {out_dir}")
            key = _same_file_key(path)
            if key in inputs:
                raise ConfigError(f"the output {path} would overwrite the source {inputs[key]}; choose another --out")
            if key in claimed:
                other = claimed[key][0]
                raise ConfigError(f"{other} and {src} would both write {path}; rename one of them or run them into "
                                  "different --out folders")
            claimed[key] = (src, path)
        planned.append(PlannedFile(src, out_dir, paths))
    memory = cfg.memory_path()
    memory_key = _same_file_key(memory)
    if memory_key in inputs or memory_key in claimed:
        other = inputs.get(memory_key) or claimed[memory_key][1]
        raise ConfigError(f"the translation memory {memory} would be the same file as {other}; choose another --memory")
    if not cfg.overwrite:
        foreign = [path for plan in planned for path in plan.paths.values()
                   if os.path.lexists(path) and not written_by_tool(path)]
        if foreign:
            more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
            manifest = foreign[0].parent / f"{foreign[0].name.split('.')[0]}.manifest.json"
            raise ConfigError(f"{foreign[0]}{more} already exists and was not written by llava-translate (no "
                              f"{manifest.name} lists it); move it away, choose another --out, or pass --overwrite "
                              "to replace it")
    return planned


class Job:
    """An open run: backend, memory and pipeline for one config. Close it (or use `with`) to release the model,
    sessions and the database."""

    def __init__(self, cfg: RunConfig, backend: Backend, memory: TranslationMemory, pipeline: Pipeline,
                 glossary: dict[str, str] | None = None):
        self.config = cfg
        self.backend = backend
        self.memory = memory
        self.pipeline = pipeline
        self.glossary = glossary

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
    return Job(cfg, backend, memory, pipeline, protection.glossary)


def run_files(job: Job, sources: list[Path], progress: RunProgress | None = None,
              manifest_extra: dict[str, Any] | None = None) -> Stats:
    """Run every source through the job's pipeline into its output folder; the summed counters.

    The outputs are planned (and refused, see `plan_outputs`) before the first file starts. The manifest of each file
    records the run's options (`manifest_options`), `partial` for a preview run, plus `manifest_extra`. Progress
    moves per window and, inside a window, per backend batch (`RunProgress.advance`)."""
    progress = progress or NoProgress()
    planned = plan_outputs(job.config, sources)
    extra = {"options": manifest_options(job.config), **partial_manifest(job.config),
             "command": ["python", "-m", "translate", *redacted_command(sys.argv[1:])], "glossary": job.glossary,
             **(manifest_extra or {})}
    totals = Stats()
    progress.start(sum(source_size(path) for path in sources))
    done_bytes = 0
    for plan in planned:
        path = plan.source
        progress.file_started(path)
        window_start = [0]  # bytes read when the current window began

        def on_window(bytes_read: int, stats: Stats, _base: int = done_bytes) -> None:
            window_start[0] = bytes_read
            progress.advance(_base + bytes_read, totals.records_in + stats.records_in,
                             totals.segments_sent + stats.segments_sent)

        def on_batch(bytes_read: int, done: int, missing: int, stats: Stats, _base: int = done_bytes) -> None:
            # The reader is already at the window's end; move the bar through the window as its batches return.
            start = window_start[0]
            position = start + (bytes_read - start) * done // max(missing, 1)
            progress.advance(_base + position, totals.records_in + stats.records_in,
                             totals.segments_sent + stats.segments_sent)

        stats = job.pipeline.run_file(path, plan.out_dir, progress=on_window, manifest_extra=extra,
                                      batch_progress=on_batch)
        totals.add(stats)
        done_bytes += source_size(path)
        progress.advance(done_bytes, totals.records_in, totals.segments_sent)
        progress.file_done(path, plan.out_dir, stats)
    return totals

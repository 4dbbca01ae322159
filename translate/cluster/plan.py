"""The plan stage: read the sources once, collect the unique segments the memory lacks, and spread them over N work
units balanced by characters (greedy, longest first, in reading order: the same inputs always give the same units)."""

from __future__ import annotations

import dataclasses
import heapq
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from translate import __version__
from translate.cluster.workdir import (
    PLAN_FLUSH_CHARS,
    PLAN_FLUSH_ROWS,
    PLAN_FORMAT,
    Workdir,
    load_plan,
    read_results,
    unlink,
    write_parquet,
)
from translate.config import RunConfig, redact
from translate.errors import ConfigError
from translate.formats.sources import source_label
from translate.formats.writers import write_json


class UnitWriter:
    """Streams (key, body) pairs into N balanced units: each segment goes to the unit with the fewest characters
    so far (longest first within a window; ties to the lowest index), buffered and written as Parquet part files."""

    def __init__(self, wd: Workdir, shards: int, flush_rows: int = PLAN_FLUSH_ROWS,
                 flush_chars: int = PLAN_FLUSH_CHARS):
        self.wd = wd
        self.shards = shards
        self.flush_rows = flush_rows
        self.flush_chars = flush_chars
        self._heap = [(0, i) for i in range(shards)]
        self.segments = [0] * shards
        self.characters = [0] * shards
        self.parts = [0] * shards
        self._buffers: list[list[tuple[bytes, str]]] = [[] for _ in range(shards)]
        self._buffered_rows = 0
        self._buffered_chars = 0
        for i in range(shards):
            wd.unit_dir(i).mkdir(parents=True, exist_ok=True)

    def add(self, missing: list[tuple[bytes, str]]) -> None:
        heap = self._heap
        for key, body in sorted(missing, key=lambda kb: (-len(kb[1]), kb[0])):
            load, i = heapq.heappop(heap)
            n = len(body)
            heapq.heappush(heap, (load + n, i))
            self._buffers[i].append((key, body))
            self.segments[i] += 1
            self.characters[i] += n
            self._buffered_rows += 1
            self._buffered_chars += n
        if self._buffered_rows >= self.flush_rows or self._buffered_chars >= self.flush_chars:
            self.flush()

    def flush(self) -> None:
        for i, rows in enumerate(self._buffers):
            if rows:
                rows.sort(key=lambda kb: (len(kb[1]), kb[0]))  # similar lengths batch better downstream
                write_parquet(self.wd.unit_dir(i) / f"part-{self.parts[i]:05d}.parquet",
                              {"shard": [i] * len(rows), "key": [k for k, _ in rows], "source": [b for _, b in rows]})
                self.parts[i] += 1
                self._buffers[i] = []
        self._buffered_rows = self._buffered_chars = 0


def config_for_plan(cfg: RunConfig) -> dict[str, Any]:
    """The config as later stages need it: sources expanded, the memory path fixed, secrets dropped."""
    values = dataclasses.asdict(cfg)
    values["src"] = [source_label(p) for p in cfg.sources()]
    values["memory"] = str(cfg.memory_path())
    values["backend_options"] = redact(cfg.backend_options)
    values.pop("workers", None)  # each stage's machine picks its own (`assemble --workers`)
    return values


def make_plan(cfg: RunConfig, workdir: str | Path, shards: int, force: bool = False,
              chars_per_second: float | None = None,
              progress: Callable[[Path, int], None] | None = None) -> dict[str, Any]:
    """Plan `cfg`'s run as `shards` work units in `workdir`; returns the plan manifest (also written there).

    With `force`, an earlier plan in `workdir` is replaced; its finished results are first merged into the memory,
    so no translated segment is paid for twice."""
    from translate.pipeline import plan as plan_sources
    from translate.runtime import open_job, plan_outputs

    if shards < 1:
        raise ConfigError("--shards must be at least 1")
    wd = Workdir(workdir)
    sources = cfg.sources()
    plan_outputs(cfg, sources)  # collisions and foreign files are refused now, not after every shard has run
    if not force and any((wd.plan_path.exists(), (wd.root / "units").exists(), (wd.root / "results").exists())):
        raise ConfigError(f"{wd.root} already holds a plan; assemble it, or pass --force to replace it "
                          f"(its finished results are kept in the memory)")
    started = time.time()
    with open_job(cfg) as job:
        backend, memory = job.backend, job.memory
        salvaged = _salvage(wd, memory) if force else 0
        for name in ("units", "results"):
            shutil.rmtree(wd.root / name, ignore_errors=True)
        unlink(wd.plan_path)
        writer = UnitWriter(wd, shards)
        counts = plan_sources(sources, job.pipeline.segmenter, memory, window=cfg.window, on_missing=writer.add,
                              progress=progress, records_key=cfg.records_key)
        writer.flush()
        fingerprint = backend.fingerprint()
        placeholder = backend.placeholder.name
    finished = time.time()
    mean = sum(writer.characters) / shards
    estimate: dict[str, Any] = {
        "characters": counts.characters_missing,
        "largest_shard_characters": max(writer.characters),
        "smallest_shard_characters": min(writer.characters),
        "imbalance": round(max(writer.characters) / mean, 4) if mean else 1.0,
    }
    if chars_per_second:
        estimate["chars_per_second"] = chars_per_second
        estimate["seconds_per_shard"] = round(max(writer.characters) / chars_per_second, 1)
        estimate["seconds_one_worker"] = round(counts.characters_missing / chars_per_second, 1)
    manifest = {
        "format": PLAN_FORMAT,
        "plan_id": uuid.uuid4().hex,
        "tool": {"name": "llava-translate", "version": __version__},
        "cwd": os.getcwd(),
        "config": config_for_plan(cfg),
        "backend": {"name": cfg.backend, "fingerprint": fingerprint, "placeholder": placeholder},
        "counts": counts.as_dict(),
        "salvaged_from_earlier_plan": salvaged,
        "shards": {
            "count": shards,
            "segments": writer.segments,
            "characters": writer.characters,
        },
        "estimate": estimate,
        "timing": {"started": started, "finished": finished, "seconds": round(finished - started, 3)},
    }
    write_json(wd.plan_path, manifest)  # last: its presence means the units are complete
    return manifest


def _salvage(wd: Workdir, memory) -> int:
    """Merge the results of an earlier plan in `wd` (finished or not) into the memory before it is replaced."""
    if not wd.plan_path.exists():
        return 0
    try:
        old = load_plan(wd.root)
    except ConfigError:
        return 0
    added = 0
    for i in range(old["shards"]["count"]):
        for part in wd.result_files(i):
            rows = [r for r in read_results(part) if r[2] is not None]
            added += memory.put(rows, origin=old["backend"]["fingerprint"], source_lang=old["config"]["source"],
                                target_lang=old["config"]["target"])
    return added



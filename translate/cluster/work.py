"""The work stage: translate one unit of a plan with the plan's backend.

It never touches the SQLite memory (clusters often share files over NFS, where SQLite locking is unsafe): results go
to Parquet files written atomically, a few thousand rows at a time, so a killed shard loses at most the rows since its
last flush and a rerun resumes after them. A finished shard is skipped.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

from translate.backends.base import Backend, create_backend, iter_batches
from translate.cluster.workdir import (
    WORK_FLUSH_ROWS,
    WORK_FLUSH_SECONDS,
    Workdir,
    config_from_plan,
    done_keys,
    is_done,
    load_plan,
    next_seq,
    plan_folder,
    read_unit,
    remaining,
    unlink,
    write_parquet,
)
from translate.config import RunConfig
from translate.errors import BackendError, ConfigError
from translate.formats.writers import write_json
from translate.pipeline import translate_batch

def shard_index(shard: int | None, plan: dict[str, Any]) -> int:
    """The shard to work on, checked against the plan. None: the caller found none to name (no --shard, no array
    task id)."""
    if shard is None:
        raise ConfigError("which shard? pass --shard I (or run as a Slurm array task, which sets SLURM_ARRAY_TASK_ID)")
    index = shard
    count = plan["shards"]["count"]
    if not 0 <= index < count:
        raise ConfigError(f"shard {index} is not in this plan: it has shards 0 to {count - 1}")
    return index


def open_backend(plan: dict[str, Any], cfg: RunConfig) -> Backend:
    """The plan's backend, built as `run` and `plan` build it, and checked to translate exactly as planned (same
    fingerprint, so the same memory keys).

    `open_protection` is the step `run` takes after creating the backend: it loads the glossary and, for an engine
    with a native glossary (DeepL), syncs the terms to the account (reusing the identical glossary `plan` put there)
    and names it in the fingerprint. Skipping it would leave the glossary out of both the requests and the
    fingerprint."""
    from translate.runtime import open_protection

    backend = create_backend(cfg.backend, cfg.source, cfg.target, cfg.backend_options)
    try:
        open_protection(cfg, backend)
        got = backend.fingerprint()
    except BaseException:
        backend.close()
        raise
    planned = plan["backend"]["fingerprint"]
    if got != planned:
        backend.close()
        raise ConfigError(f"the backend here translates as {got!r}, the plan as {planned!r}: an option that changes "
                          f"the output (model, beam size, glossary, …) differs; use the plan's options or plan again")
    return backend


def translate_texts(backend: Backend, texts: list[str]) -> Iterator[tuple[list[int], list[str | None]]]:
    """(indices, translations) per backend batch, in the backend's batch limits, checked as the pipeline checks them.
    None: the backend gave up on that text; it is written as a result without a target (see `merge_results`)."""
    for batch in iter_batches(texts, backend.max_batch_texts, backend.max_batch_chars):
        yield batch, translate_batch(backend, [texts[i] for i in batch])


class ResultWriter:
    """Buffers one shard's results and writes them as atomic Parquet part files, by rows or by time."""

    def __init__(self, wd: Workdir, index: int, flush_rows: int = WORK_FLUSH_ROWS,
                 flush_seconds: float = WORK_FLUSH_SECONDS):
        self.dir = wd.result_dir(index)
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob(".part-*.tmp"):
            unlink(stale)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._seq = next_seq(self.dir)
        self._rows: list[tuple[bytes, str, str | None]] = []
        self._last = time.monotonic()
        self.written = 0
        self.given_up = 0

    def add(self, rows: list[tuple[bytes, str, str | None]]) -> None:
        self._rows.extend(rows)
        self.given_up += sum(1 for r in rows if r[2] is None)
        if len(self._rows) >= self.flush_rows or time.monotonic() - self._last >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        # A unique name: two processes on one shard (a requeued job) never overwrite each other's files.
        name = f"part-{self._seq:06d}-{uuid.uuid4().hex[:8]}.parquet"
        write_parquet(self.dir / name, {"key": [r[0] for r in rows], "source": [r[1] for r in rows],
                                        "target": [r[2] for r in rows]})
        self._seq += 1
        self.written += len(rows)


def mark_done(wd: Workdir, index: int, plan: dict[str, Any], info: dict[str, Any]) -> None:
    """Write the done marker after checking that the results cover the whole unit."""
    unit_keys = read_unit(wd, index).select("key")
    missing = unit_keys.join(done_keys(wd, index), on="key", how="anti").height
    if missing:
        raise BackendError(f"shard {index}: {missing} segment(s) of the unit have no result; rerun this shard")
    write_json(wd.done_path(index), {"plan_id": plan["plan_id"], "shard": index, "segments": unit_keys.height,
                                     **info})


def work_shard(workdir: str | Path, index: int, extra_options: dict[str, Any] | None = None,
               flush_rows: int = WORK_FLUSH_ROWS, flush_seconds: float = WORK_FLUSH_SECONDS,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Translate unit `index` of the plan in `workdir`. Returns what happened: {'state': 'skipped'|'done', …}."""
    wd = Workdir(workdir)
    plan = load_plan(wd.root)
    if is_done(wd, index, plan):
        return {"state": "skipped", "shard": index}
    started = time.time()
    with plan_folder(plan):
        cfg = config_from_plan(plan, extra_options)
        unit, left = remaining(wd, index)
        resumed = unit.height - left.height
        keys = left["key"].to_list()
        texts = left["source"].to_list()
        writer = ResultWriter(wd, index, flush_rows, flush_seconds)
        usage: dict[str, Any] = {}
        if texts:
            backend = open_backend(plan, cfg)
            try:
                done = 0
                for batch, outputs in translate_texts(backend, texts):
                    writer.add([(keys[i], texts[i], out) for i, out in zip(batch, outputs)])
                    done += len(batch)
                    if progress:
                        progress(done, len(texts))
                usage = backend.usage()
            finally:
                writer.flush()  # what was translated before a failure is kept for the rerun
                backend.close()
        finished = time.time()
        info = {"resumed_from": resumed, "translated": len(texts), "given_up": writer.given_up,
                "characters": sum(map(len, texts)),
                "usage": usage, "host": socket.gethostname(),
                "timing": {"started": started, "finished": finished, "seconds": round(finished - started, 3)}}
        mark_done(wd, index, plan, info)
    return {"state": "done", "shard": index, **info}



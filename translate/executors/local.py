"""Shards in this process, one after another: what a Slurm array task does for its one shard, and a way to finish
a plan on one machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from translate.cluster.work import work_shard
from translate.cluster.workdir import WORK_FLUSH_ROWS, WORK_FLUSH_SECONDS, Workdir, load_plan
from translate.executors.base import Executor, ProgressCallback, pending_shards


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, flush_rows: int = WORK_FLUSH_ROWS, flush_seconds: float = WORK_FLUSH_SECONDS, **_: Any):
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.results: list[dict[str, Any]] = []

    def run(self, workdir: str | Path, shards: list[int] | None = None, extra_options: dict[str, Any] | None = None,
            progress: ProgressCallback | None = None) -> dict[str, Any]:
        wd = Workdir(workdir)
        plan = load_plan(wd.root)
        selected, pending = pending_shards(wd, plan, shards)
        translated = 0
        self.results = []
        for index in pending:
            result = work_shard(wd.root, index, extra_options, flush_rows=self.flush_rows,
                                flush_seconds=self.flush_seconds, progress=progress)
            self.results.append(result)
            translated += result.get("translated", 0)
        return {"skipped": len(selected) - len(pending), "shards": pending, "translated": translated,
                "results": self.results}

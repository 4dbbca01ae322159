"""Shards in this process, one after another: what a Slurm array task does for its one shard, and a way to finish
a plan on one machine."""

from __future__ import annotations

from typing import Any

from translate.cluster.work import work_shard
from translate.cluster.workdir import WORK_FLUSH_ROWS, WORK_FLUSH_SECONDS, Workdir
from translate.executors.base import Executor, ProgressCallback


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, flush_rows: int = WORK_FLUSH_ROWS, flush_seconds: float = WORK_FLUSH_SECONDS, **_: Any):
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.results: list[dict[str, Any]] = []

    def run_pending(self, wd: Workdir, plan: dict[str, Any], pending: list[int],
                    extra_options: dict[str, Any] | None, progress: ProgressCallback | None) -> dict[str, Any]:
        self.results = [work_shard(wd.root, index, extra_options, flush_rows=self.flush_rows,
                                   flush_seconds=self.flush_seconds, progress=progress) for index in pending]
        return {"translated": sum(r.get("translated", 0) for r in self.results), "results": self.results}

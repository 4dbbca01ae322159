"""`run --engine ray|slurm`: plan into a work folder beside the memory, let an executor translate every unit,
assemble, and remove the folder. A run that stops part-way leaves the folder; the next run merges what it holds
first (`make_plan(force=True)` salvages earlier results), so nothing is paid for twice."""

from __future__ import annotations

import shutil

from translate.cluster.assemble import assemble_workdir
from translate.cluster.plan import make_plan
from translate.config import RunConfig, redact
from translate.executors.base import Executor
from translate.pipeline import Stats
from translate.runtime import RunProgress


def run_on_cluster(cfg: RunConfig, executor: Executor, progress: RunProgress | None = None) -> Stats:
    memory_path = cfg.memory_path()
    workdir = memory_path.parent / f".{memory_path.name}.{executor.name}-work"
    make_plan(cfg, workdir, shards=executor.default_shards(), force=True)
    # Secrets were left out of the plan; the shards of this run get them from here, never from a file.
    secrets = {k: v for k, v in cfg.backend_options.items() if k not in redact(cfg.backend_options)}
    executor.run(workdir, extra_options=secrets)
    totals, _, _ = assemble_workdir(workdir, progress)
    shutil.rmtree(workdir, ignore_errors=True)
    return totals

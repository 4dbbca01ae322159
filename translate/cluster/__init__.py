"""Cluster batch jobs: plan once, translate N independent shards, assemble once.

- `workdir`: the work folder's layout and files (plan.json, unit and result Parquet files, done markers);
- `plan`: find what the memory lacks and write balanced work units;
- `work`: translate one unit with the plan's backend;
- `assemble`: merge the results into the memory and write the outputs exactly as `run` does;
- `oneshot`: all three in one call, with the work stage on an executor (`run --engine ray|slurm`).

Where the shards run is the executors' business (`translate.executors`), not this package's.
"""

from translate.cluster.assemble import PlannedBackend, assemble_workdir, merge_results, open_assembly
from translate.cluster.plan import config_for_plan, make_plan
from translate.cluster.work import open_backend, shard_index, translate_texts, work_shard
from translate.cluster.workdir import (
    WorkIncomplete,
    Workdir,
    array_spec,
    config_from_plan,
    is_done,
    load_plan,
    shard_states,
)

__all__ = [
    "PlannedBackend", "WorkIncomplete", "Workdir", "array_spec", "assemble_workdir", "config_for_plan",
    "config_from_plan", "is_done", "load_plan", "make_plan", "merge_results", "open_assembly", "open_backend",
    "shard_index", "shard_states", "translate_texts", "work_shard",
]

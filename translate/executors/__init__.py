"""Where the work stage of a cluster plan runs.

The stages themselves live in `translate.cluster` (plan, work one shard, assemble); an executor only decides where
the shards run:

- ``local``: one shard in this process (`translate.cluster.work_shard`), which is what a Slurm array task does
  (`translate.executors.slurm` reads the task id and writes the array spec for reruns);
- ``ray``: the units through Ray Data, one actor per backend (`translate.executors.ray`).
"""

from __future__ import annotations

from translate.errors import ConfigError

ENGINES = ("local", "ray")


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    return engine

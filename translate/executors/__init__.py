"""Where the work stage of a cluster plan runs, picked by name:

- ``local``: the shards in this process (`LocalExecutor`), which is also what one Slurm array task does;
- ``ray``: the units through Ray Data, one actor per backend (`RayExecutor`);
- ``slurm``: one array job submitted with `sbatch --wait` (`SlurmExecutor`).

Third parties add executors through the entry-point group ``translate.executors``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from translate.errors import ConfigError
from translate.executors.base import Executor

ENTRY_POINT_GROUP = "translate.executors"
BUILTIN_EXECUTORS = {
    "local": "translate.executors.local:LocalExecutor",
    "ray": "translate.executors.ray:RayExecutor",
    "slurm": "translate.executors.slurm:SlurmExecutor",
}


def available_executors() -> dict[str, str]:
    found = dict(BUILTIN_EXECUTORS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def get_executor(name: str, **options: Any) -> Executor:
    """The executor called `name`, built with the options it takes (None values are left to its defaults)."""
    target = available_executors().get(name)
    if target is None:
        raise ConfigError(f"--engine must be one of {', '.join(sorted(available_executors()))}, not {name!r}")
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)(**{k: v for k, v in options.items() if v is not None})


__all__ = ["Executor", "available_executors", "get_executor"]

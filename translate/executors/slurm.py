"""Slurm array jobs: which shard a task is, and how to name a set of shards for ``sbatch --array``.

The job layout (see docker/slurm/translate-array.sbatch and docs/cluster.md): ``plan`` as one job, the shards as
an array job ``--array=0-(N-1)`` that depends on it, ``assemble`` as a job that depends on the whole array.
"""

from __future__ import annotations

import os

from translate.errors import ConfigError


def array_task_id(environ: dict[str, str] | None = None) -> int | None:
    """$SLURM_ARRAY_TASK_ID as an int; None outside an array job."""
    env = os.environ if environ is None else environ
    raw = env.get("SLURM_ARRAY_TASK_ID")
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"SLURM_ARRAY_TASK_ID={raw!r} is not a shard number") from None


def array_spec(indices: list[int]) -> str:
    """Shard numbers as a Slurm array spec: [0, 1, 2, 5, 7, 8] → "0-2,5,7-8"."""
    parts: list[str] = []
    ordered = sorted(set(indices))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def submit_commands(workdir: str, shards: int, script: str = "docker/slurm/translate-array.sbatch",
                    plan_job: str | None = None, throttle: int | None = None) -> list[str]:
    """The sbatch lines that run the shards of a plan in `workdir` and assemble after them (printed by `plan`)."""
    array = f"0-{shards - 1}" + (f"%{throttle}" if throttle else "")
    after_plan = f" --dependency=afterok:{plan_job}" if plan_job else ""
    return [
        f"array=$(sbatch --parsable{after_plan} --array={array} {script} {workdir})",
        (f"sbatch --dependency=afterok:$array --job-name=translate-assemble "
         f"--wrap 'python -m translate assemble --workdir {workdir}'"),
    ]

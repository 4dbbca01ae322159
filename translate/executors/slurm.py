"""Slurm array jobs: which shard a task is, how to name a set of shards for ``sbatch --array``, and an executor
that submits the unfinished shards as one array job and waits for it.

The job layout (see docker/slurm/translate-array.sbatch and docs/cluster.md): ``plan`` as one job, the shards as
an array job ``--array=0-(N-1)`` that depends on it, ``assemble`` as a job that depends on the whole array.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from translate.cluster.workdir import Workdir, array_spec
from translate.errors import BackendError, ConfigError
from translate.executors.base import Executor, ProgressCallback

__all__ = ["SlurmExecutor", "array_spec", "array_task_id", "submit_commands"]

DEFAULT_SCRIPT = "docker/slurm/translate-array.sbatch"


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


def submit_commands(workdir: str, shards: int, script: str = DEFAULT_SCRIPT,
                    plan_job: str | None = None, throttle: int | None = None) -> list[str]:
    """The sbatch lines that run the shards of a plan in `workdir` and assemble after them (printed by `plan`)."""
    array = f"0-{shards - 1}" + (f"%{throttle}" if throttle else "")
    after_plan = f" --dependency=afterok:{plan_job}" if plan_job else ""
    return [
        f"array=$(sbatch --parsable{after_plan} --array={array} {script} {workdir})",
        (f"sbatch --dependency=afterok:$array --job-name=translate-assemble "
         f"--wrap 'python -m translate assemble --workdir {workdir}'"),
    ]


class SlurmExecutor(Executor):
    """Submits the unfinished shards as one array job (`sbatch --wait --array=SPEC SCRIPT WORKDIR`) and returns
    when it has ended. The work folder must be on a file system the compute nodes share. Secrets are not passed on
    the command line: the tasks inherit the environment (sbatch's default `--export=ALL`)."""

    name = "slurm"

    def __init__(self, concurrency: int | None = None, script: str = DEFAULT_SCRIPT, sbatch: str = "sbatch",
                 throttle: int | None = None, **_: Any):
        self.shards = max(1, concurrency or 1)
        self.script = script
        self.sbatch = sbatch
        self.throttle = throttle

    def default_shards(self) -> int:
        return self.shards

    def run_pending(self, wd: Workdir, plan: dict[str, Any], pending: list[int],
                    extra_options: dict[str, Any] | None, progress: ProgressCallback | None) -> dict[str, Any]:
        if shutil.which(self.sbatch) is None:
            raise ConfigError(f"--engine slurm needs `{self.sbatch}` on PATH (run this on a Slurm login node), or "
                              f"submit by hand: {'; '.join(submit_commands(str(wd.root), plan['shards']['count']))}")
        array = array_spec(pending) + (f"%{self.throttle}" if self.throttle else "")
        command = [self.sbatch, "--wait", f"--array={array}", self.script, str(wd.root)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()
            raise BackendError(f"the Slurm array job for shards {array} failed ({' '.join(command)}: "
                               f"{tail[-1] if tail else f'exit {done.returncode}'}); finished shards are kept, "
                               f"rerun to resume")
        return {"translated": sum(plan["shards"]["segments"][i] for i in pending), "job": done.stdout.strip()}

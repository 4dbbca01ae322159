"""The assemble stage: merge every shard's results into the memory, then run the normal assemble stage (QC,
outputs, manifests). Every segment is then in the memory, so nothing is sent; a segment that is not is an error,
never a silent translation. The outputs are byte for byte those of a single ``run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from translate.backends.base import Backend, load_backend_class
from translate.cluster.workdir import (
    WorkIncomplete,
    Workdir,
    array_spec,
    config_from_plan,
    load_plan,
    plan_folder,
    read_results,
    shard_states,
)
from translate.errors import ConfigError
from translate.pipeline import Stats
from translate.runtime import Job, RunProgress, open_job, run_files

class PlannedBackend(Backend):
    """Stands in for the plan's backend at assemble: its name, fingerprint and placeholder style, and the usage the
    shards reported. It sends nothing. A segment the shards' backend gave up on gets None again (its records are
    rejected as `backend_failed`, as in a single run); any other segment that reaches it is missing from the memory,
    which is an error."""

    def __init__(self, plan: dict[str, Any], usage: dict[str, Any] | None = None):
        from translate.protect import STYLES

        info = plan["backend"]
        super().__init__(plan["config"]["source"], plan["config"]["target"])
        self.name = info["name"]
        style = STYLES.get(info.get("placeholder", ""))
        if style is None:
            style = load_backend_class(info["name"]).placeholder
        self.placeholder = style
        # The planned engine's own declarations (a native glossary changes how text is protected).
        try:
            self.capabilities = load_backend_class(info["name"]).capabilities
        except ConfigError:
            pass
        self._fingerprint = info["fingerprint"]
        self._usage = usage or {}
        self.given_up: set[bytes] = set()

    def fingerprint(self) -> str:
        return self._fingerprint

    def usage(self) -> dict[str, Any]:
        return self._usage

    def translate(self, texts: list[str]) -> list[str | None]:
        from translate.memory import segment_key

        lost = [t for t in texts
                if segment_key(t, self.source_lang, self.target_lang, self._fingerprint) not in self.given_up]
        if lost:
            raise WorkIncomplete(
                f"{len(lost)} segment(s) are in neither the memory nor the shard results (first: {lost[0][:80]!r}); "
                f"the sources, memory or options changed since the plan: plan again and rerun the shards")
        return [None] * len(texts)


def merge_results(wd: Workdir, plan: dict[str, Any], memory, given_up: set[bytes] | None = None) -> dict[str, int]:
    """Put every shard's results into the memory (first writer wins; a rerun adds nothing). Segments the backend gave
    up on are not stored (so a later plan sends them again); their keys are added to `given_up`."""
    rows = added = failed = 0
    for i in range(plan["shards"]["count"]):
        for part in wd.result_files(i):
            batch = read_results(part)
            rows += len(batch)
            done = [r for r in batch if r[2] is not None]
            if given_up is not None:
                given_up.update(r[0] for r in batch if r[2] is None)
            failed += len(batch) - len(done)
            added += memory.put(done, origin=plan["backend"]["fingerprint"], source_lang=plan["config"]["source"],
                                target_lang=plan["config"]["target"])
    return {"rows": rows, "added": added, "given_up": failed}


def shard_usage(wd: Workdir, plan: dict[str, Any]) -> dict[str, Any]:
    """The backends' usage counters summed over the shards' done markers (numbers only)."""
    total: dict[str, Any] = {}
    for i in range(plan["shards"]["count"]):
        try:
            with open(wd.done_path(i), encoding="utf-8") as fh:
                usage = json.load(fh).get("usage", {})
        except (OSError, json.JSONDecodeError):
            continue
        for k, v in usage.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                total[k] = total.get(k, 0) + v
    return total


def check_finished(wd: Workdir, plan: dict[str, Any]) -> None:
    states = shard_states(wd.root, plan)
    unfinished = [i for i, s in enumerate(states) if s != "done"]
    if unfinished:
        partial = sum(1 for i in unfinished if states[i] == "partial")
        raise WorkIncomplete(
            f"{len(unfinished)} of {len(states)} shard(s) are not finished ({partial} partial): "
            f"{array_spec(unfinished)}; run them again (e.g. `sbatch --array={array_spec(unfinished)} …` or "
            f"`work --workdir {wd.root} --shard {unfinished[0]}`), then assemble")


def open_assembly(workdir: str | Path, plan: dict[str, Any]) -> tuple[Job, dict[str, int]]:
    """The job to assemble with, and what was merged: every shard's results in the memory, a backend that sends
    nothing. Call inside `plan_folder(plan)`; the caller closes the job."""
    wd = Workdir(workdir)
    check_finished(wd, plan)
    cfg = config_from_plan(plan)
    backend = PlannedBackend(plan, shard_usage(wd, plan))
    job = open_job(cfg, backend=backend)
    try:
        merged = merge_results(wd, plan, job.memory, backend.given_up)
    except BaseException:
        job.close()
        raise
    return job, merged


def cluster_manifest(workdir: str | Path, plan: dict[str, Any], merged: dict[str, int]) -> dict[str, Any]:
    return {"cluster": {"workdir": str(workdir), "plan_id": plan["plan_id"], "shards": plan["shards"]["count"],
                        "segments_planned": plan["counts"]["segments_missing"],
                        "characters_planned": plan["counts"]["characters_missing"],
                        "results_merged": merged["rows"], "memory_rows_added": merged["added"],
                        "given_up": merged["given_up"]}}




def assemble_workdir(workdir: str | Path, progress: RunProgress | None = None,
                     workers: int | None = None) -> tuple[Stats, dict[str, int], int]:
    """Merge the shards' results, then rebuild, check and write every file of the plan as `run` does. Returns the
    summed counters, what was merged, and the number of sources. `workers`: processes that prepare and assemble
    windows in parallel over the merged memory (None: `RunOptions.workers`' default)."""
    plan = load_plan(workdir)
    workdir_abs = str(Path(workdir).resolve())
    with plan_folder(plan):
        job, merged = open_assembly(workdir_abs, plan)
        job.pipeline.options.workers = workers
        with job:
            sources = job.config.sources()
            totals = run_files(job, sources, progress, manifest_extra=cluster_manifest(workdir_abs, plan, merged))
    return totals, merged, len(sources)

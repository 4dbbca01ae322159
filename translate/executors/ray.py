"""The work stage through Ray Data: the plan's units read with ``read_parquet``, translated by a pool of actors that
each own one backend (one GPU each for NLLB), and the results written back per shard, as `work` does.

Results come back to this (driver) process and are written to the shard result folders with the same atomic part
files and done markers as a Slurm task, so a Ray run and Slurm tasks can finish each other's shards, a failed Ray run
resumes where it stopped, and `assemble` is the same. The work folder must be visible to every Ray node (a shared
file system), since read tasks open the unit files wherever they run.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any, Callable

from translate.cluster import (
    WORK_FLUSH_ROWS,
    WORK_FLUSH_SECONDS,
    ResultWriter,
    Workdir,
    _is_done,
    config_from_plan,
    load_plan,
    mark_done,
    open_backend,
    plan_folder,
    remaining,
    translate_texts,
    write_parquet,
)
from translate.errors import BackendError, ConfigError, TranslateError

# Backends that want a GPU each when the Ray cluster has GPUs.
GPU_BACKENDS = ("nllb",)


class TranslateWorker:
    """A Ray Data actor: builds the plan's backend once, then translates batches of unit rows (pyarrow tables with
    shard, key, source) into the same rows plus `target`."""

    def __init__(self, plan: dict[str, Any], extra_options: dict[str, Any] | None = None):
        cfg = config_from_plan(plan, extra_options)
        self.backend = open_backend(plan, cfg)

    def __call__(self, batch):
        import pyarrow as pa

        texts = batch.column("source").to_pylist()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch better
        ordered = [texts[i] for i in order]
        out: list[str | None] = [None] * len(texts)  # None stays None where the backend gave up
        for indices, outputs in translate_texts(self.backend, ordered):
            for j, text in zip(indices, outputs):
                out[order[j]] = text
        return batch.append_column("target", pa.array(out, type=pa.string()))

    def __del__(self) -> None:
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()


def ensure_ray(quiet: bool = True):
    """Import Ray and connect: to $RAY_ADDRESS or an already started cluster, else a local one."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'llava-translate[ray]'") from None
    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=not quiet,
                 logging_level="WARNING" if quiet else "INFO")
    if quiet:
        ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


def default_gpus(ray, backend: str, options: dict[str, Any]) -> float:
    if backend not in GPU_BACKENDS or str(options.get("device", "auto")) == "cpu":
        return 0.0
    return 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0


def actor_cpus(cluster_cpus: float, concurrency: int) -> float:
    """CPUs to reserve per actor: one, unless that would leave less than one CPU for the tasks that list and read
    the units (a pool holding every CPU waits forever for its input)."""
    if concurrency + 1 <= cluster_cpus:
        return 1.0
    return int(100 * max(0.0, cluster_cpus - 1) / concurrency) / 100


def work_ray(workdir: str | Path, extra_options: dict[str, Any] | None = None, shards: list[int] | None = None,
             concurrency: int | None = None, gpus_per_worker: float | None = None, batch_size: int = 512,
             flush_rows: int = WORK_FLUSH_ROWS, flush_seconds: float = WORK_FLUSH_SECONDS, quiet: bool = True,
             progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Translate the unfinished shards (all, or those in `shards`) of the plan in `workdir` on Ray."""
    wd = Workdir(workdir)
    plan = load_plan(wd.root)
    count = plan["shards"]["count"]
    selected = list(range(count)) if shards is None else sorted(set(shards))
    for i in selected:
        if not 0 <= i < count:
            raise ConfigError(f"shard {i} is not in this plan: it has shards 0 to {count - 1}")
    pending = [i for i in selected if not _is_done(wd, i, plan)]
    started = time.time()
    summary: dict[str, Any] = {"skipped": len(selected) - len(pending), "shards": pending, "translated": 0}
    if not pending:
        return summary
    resume_dir = wd.root / "resume"
    shutil.rmtree(resume_dir, ignore_errors=True)
    with plan_folder(plan):
        cfg = config_from_plan(plan, extra_options)
        files: list[str] = []
        total = 0
        for i in pending:
            if not wd.result_files(i):
                files += [str(p.resolve()) for p in wd.unit_files(i)]
                total += plan["shards"]["segments"][i]
                continue
            _, left = remaining(wd, i)  # a partial shard: only what it lacks
            if left.height:
                path = resume_dir / f"shard-{i:05d}.parquet"
                write_parquet(path, {c: left[c].to_list() for c in ("shard", "key", "source")})
                files.append(str(path.resolve()))
                total += left.height
        writers = {i: ResultWriter(wd, i, flush_rows, flush_seconds) for i in pending}
        if files:
            ray = ensure_ray(quiet)
            gpus = default_gpus(ray, cfg.backend, cfg.backend_options) if gpus_per_worker is None else gpus_per_worker
            resources = ray.cluster_resources()
            if concurrency is None:
                concurrency = max(1, int(resources.get("GPU", 0) // gpus)) if gpus else 1
            import pyarrow.fs

            # The work folder is a local (or shared, mounted) file system: say so, rather than have Ray probe URLs.
            ds = ray.data.read_parquet(files, filesystem=pyarrow.fs.LocalFileSystem(), partitioning=None,
                                       override_num_blocks=max(len(files), concurrency))
            ds = ds.map_batches(
                TranslateWorker,
                fn_constructor_kwargs={"plan": plan, "extra_options": extra_options or {}},
                batch_size=batch_size,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=concurrency),
                num_gpus=gpus,
                num_cpus=actor_cpus(resources.get("CPU", 1), concurrency),
            )
            done = 0
            try:
                for table in ds.iter_batches(batch_format="pyarrow", batch_size=None):
                    cols = [table.column(c).to_pylist() for c in ("shard", "key", "source", "target")]
                    by_shard: dict[int, list[tuple[bytes, str, str]]] = {}
                    for shard, key, source, target in zip(*cols):
                        by_shard.setdefault(shard, []).append((key, source, target))
                    for shard, rows in by_shard.items():
                        writers[shard].add(rows)
                    done += table.num_rows
                    if progress:
                        progress(done, total)
            except TranslateError:
                raise
            except Exception as exc:  # noqa: BLE001 - Ray wraps what the actors raised; show the cause, not Ray's traceback
                raise _unwrap(exc) from None
            finally:
                for w in writers.values():
                    w.flush()
            summary["translated"] = done
        finished = time.time()
        for i in pending:
            mark_done(wd, i, plan, {"engine": "ray", "translated": writers[i].written,
                                    "given_up": writers[i].given_up,
                                    "timing": {"started": started, "finished": finished,
                                               "seconds": round(finished - started, 3)}})
    shutil.rmtree(resume_dir, ignore_errors=True)
    return summary


def _unwrap(exc: BaseException) -> TranslateError:
    """The project's own error inside Ray's wrappers, or a BackendError that names the first line of the cause."""
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, TranslateError):
            return cur
        nxt = getattr(cur, "cause", None)
        cur = nxt if isinstance(nxt, BaseException) else (cur.__cause__ or cur.__context__)
    text = str(exc).strip().splitlines()
    return BackendError(f"the Ray work stage failed: {text[-1] if text else type(exc).__name__}; finished "
                        f"results are kept, rerun to resume")

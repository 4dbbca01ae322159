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
from typing import Any

from translate.backends.base import load_backend_class
from translate.cluster.work import ResultWriter, mark_done, open_backend, translate_texts
from translate.cluster.workdir import (
    WORK_FLUSH_ROWS,
    WORK_FLUSH_SECONDS,
    Workdir,
    config_from_plan,
    plan_folder,
    remaining,
    write_parquet,
)
from translate.errors import BackendError, ConfigError, TranslateError
from translate.executors.base import Executor, ProgressCallback


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
    """One GPU per actor for a backend that wants one (`Capabilities.wants_gpu`), when the cluster has GPUs and the
    run did not ask for the CPU."""
    if not load_backend_class(backend).capabilities.wants_gpu or str(options.get("device", "auto")) == "cpu":
        return 0.0
    return 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0


def actor_cpus(cluster_cpus: float, concurrency: int) -> float:
    """CPUs to reserve per actor: one, unless that would leave less than one CPU for the tasks that list and read
    the units (a pool holding every CPU waits forever for its input)."""
    if concurrency + 1 <= cluster_cpus:
        return 1.0
    return int(100 * max(0.0, cluster_cpus - 1) / concurrency) / 100


class RayExecutor(Executor):
    """The units of every unfinished shard through Ray Data, on a pool of `concurrency` actors (default: one per
    GPU the cluster has, else 1), each owning one backend."""

    name = "ray"

    def __init__(self, concurrency: int | None = None, gpus_per_worker: float | None = None, batch_size: int = 512,
                 flush_rows: int = WORK_FLUSH_ROWS, flush_seconds: float = WORK_FLUSH_SECONDS, quiet: bool = True):
        self.concurrency = concurrency
        self.gpus_per_worker = gpus_per_worker
        self.batch_size = batch_size
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.quiet = quiet

    def default_shards(self) -> int:
        return max(1, self.concurrency or 1)

    def run_pending(self, wd: Workdir, plan: dict[str, Any], pending: list[int],
                    extra_options: dict[str, Any] | None, progress: ProgressCallback | None) -> dict[str, Any]:
        summary: dict[str, Any] = {"translated": 0}
        started = time.time()
        resume_dir = wd.root / "resume"
        shutil.rmtree(resume_dir, ignore_errors=True)
        with plan_folder(plan):
            files, total = _unit_files(wd, plan, pending, resume_dir)
            writers = {i: ResultWriter(wd, i, self.flush_rows, self.flush_seconds) for i in pending}
            if files:
                cfg = config_from_plan(plan, extra_options)
                ds = self._translated(files, plan, cfg.backend, cfg.backend_options, extra_options or {})
                summary["translated"] = _collect(ds, writers, total, progress)
            finished = time.time()
            for i in pending:
                mark_done(wd, i, plan, {"engine": "ray", "translated": writers[i].written,
                                        "given_up": writers[i].given_up,
                                        "timing": {"started": started, "finished": finished,
                                                   "seconds": round(finished - started, 3)}})
        shutil.rmtree(resume_dir, ignore_errors=True)
        return summary

    def _translated(self, files: list[str], plan: dict[str, Any], backend: str, options: dict[str, Any],
                    extra_options: dict[str, Any]):
        """A Ray dataset of the unit rows with their translations, computed lazily by the actor pool."""
        ray = ensure_ray(self.quiet)
        gpus = default_gpus(ray, backend, options) if self.gpus_per_worker is None else self.gpus_per_worker
        resources = ray.cluster_resources()
        concurrency = self.concurrency
        if concurrency is None:
            concurrency = max(1, int(resources.get("GPU", 0) // gpus)) if gpus else 1
        import pyarrow.fs

        # The work folder is a local (or shared, mounted) file system: say so, rather than have Ray probe URLs.
        ds = ray.data.read_parquet(files, filesystem=pyarrow.fs.LocalFileSystem(), partitioning=None,
                                   override_num_blocks=max(len(files), concurrency))
        return ds.map_batches(
            TranslateWorker,
            fn_constructor_kwargs={"plan": plan, "extra_options": extra_options},
            batch_size=self.batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=concurrency),
            num_gpus=gpus,
            num_cpus=actor_cpus(resources.get("CPU", 1), concurrency),
        )


def _unit_files(wd: Workdir, plan: dict[str, Any], pending: list[int], resume_dir: Path) -> tuple[list[str], int]:
    """The Parquet files holding what the pending shards still lack, and how many segments that is. A partial shard
    gets a new file with only its missing rows."""
    files: list[str] = []
    total = 0
    for i in pending:
        if not wd.result_files(i):
            files += [str(p.resolve()) for p in wd.unit_files(i)]
            total += plan["shards"]["segments"][i]
            continue
        _, left = remaining(wd, i)
        if left.height:
            path = resume_dir / f"shard-{i:05d}.parquet"
            write_parquet(path, {c: left[c].to_list() for c in ("shard", "key", "source")})
            files.append(str(path.resolve()))
            total += left.height
    return files, total


def _collect(ds, writers: dict[int, ResultWriter], total: int, progress: ProgressCallback | None) -> int:
    """Stream the translated rows back to this (driver) process into each shard's result writer."""
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
    return done


def work_ray(workdir: str | Path, extra_options: dict[str, Any] | None = None, shards: list[int] | None = None,
             concurrency: int | None = None, gpus_per_worker: float | None = None, quiet: bool = True,
             progress: ProgressCallback | None = None, **options: Any) -> dict[str, Any]:
    """Translate the unfinished shards (all, or those in `shards`) of the plan in `workdir` on Ray."""
    executor = RayExecutor(concurrency=concurrency, gpus_per_worker=gpus_per_worker, quiet=quiet, **options)
    return executor.run(workdir, shards, extra_options, progress)


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

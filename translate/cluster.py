"""Cluster batch jobs: plan once, translate N independent shards, assemble once.

The three stages of a run, split over processes and machines that share a work folder::

    W/plan.json                              what to do: the run's options, counts, shards, estimate
    W/units/shard-00003/part-00000.parquet   work unit 3: (shard, key, source), sorted by length
    W/results/shard-00003/part-*.parquet     its translations: (key, source, target), one file per flush
    W/results/shard-00003/done.json          written last, when every segment of unit 3 is translated

- plan reads the sources once, collects the unique segments the memory lacks, and spreads them over N units,
  balanced by characters (greedy, longest first, in reading order: the same inputs always give the same units).
- work translates one unit with the backend. It never touches the SQLite memory (clusters often share files over
  NFS, where SQLite locking is unsafe): results go to Parquet files written atomically, a few thousand rows at a
  time, so a killed shard loses at most the rows since its last flush and a rerun resumes after them. A finished
  shard is skipped.
- assemble merges the results into the memory and runs the normal assemble stage (QC, outputs, manifests). Every
  segment is then in the memory, so nothing is sent; a segment that is not is an error, never a silent translation.
  The outputs are byte for byte those of a single ``run``.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import os
import shutil
import socket
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from translate import __version__
from translate.backends.base import Backend, create_backend, iter_batches, load_backend_class
from translate.config import RunConfig, redact
from translate.errors import BackendError, ConfigError, OutputError
from translate.formats.writers import write_json

PLAN_FILE = "plan.json"
PLAN_FORMAT = 1
DONE_FILE = "done.json"
# Plan buffers at most this many segments (or characters) before writing them out as unit part files.
PLAN_FLUSH_ROWS = 100_000
PLAN_FLUSH_CHARS = 64_000_000
# A shard writes its results at least this often; a killed shard loses at most this much work.
WORK_FLUSH_ROWS = 2048
WORK_FLUSH_SECONDS = 60.0


class WorkIncomplete(ConfigError):
    """Assemble was asked for before every shard finished, or the results do not cover the plan."""


# -- the work folder ----------------------------------------------------------------------------------------------

class Workdir:
    """Paths inside a work folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @property
    def plan_path(self) -> Path:
        return self.root / PLAN_FILE

    def unit_dir(self, index: int) -> Path:
        return self.root / "units" / f"shard-{index:05d}"

    def result_dir(self, index: int) -> Path:
        return self.root / "results" / f"shard-{index:05d}"

    def done_path(self, index: int) -> Path:
        return self.result_dir(index) / DONE_FILE

    def unit_files(self, index: int) -> list[Path]:
        return sorted(self.unit_dir(index).glob("part-*.parquet"))

    def result_files(self, index: int) -> list[Path]:
        return sorted(self.result_dir(index).glob("part-*.parquet"))


def load_plan(workdir: str | Path) -> dict[str, Any]:
    wd = Workdir(workdir)
    try:
        with open(wd.plan_path, encoding="utf-8") as fh:
            plan = json.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{wd.root}: no plan here ({PLAN_FILE} missing); run `plan --workdir {wd.root}` first") \
            from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{wd.plan_path}: cannot read the plan: {exc}") from None
    if plan.get("format") != PLAN_FORMAT:
        raise ConfigError(f"{wd.plan_path}: plan format {plan.get('format')!r} is not {PLAN_FORMAT}; plan again")
    return plan


def config_from_plan(plan: dict[str, Any], extra_options: dict[str, Any] | None = None) -> RunConfig:
    """The run's config as planned, plus options given to this stage (secrets, device; never written anywhere)."""
    known = {f.name for f in dataclasses.fields(RunConfig)}
    values = {k: v for k, v in plan["config"].items() if k in known}
    values["backend_options"] = {**values.get("backend_options", {}), **(extra_options or {})}
    return RunConfig(**values)


@contextmanager
def plan_folder(plan: dict[str, Any]) -> Iterator[None]:
    """Run a stage in the folder the plan was made in, so relative paths (sources, outputs, memory, model) mean
    what they meant there and the outputs carry the same file names as a single run."""
    here = os.getcwd()
    cwd = plan.get("cwd")
    if not cwd or Path(cwd) == Path(here):
        yield
        return
    if not Path(cwd).is_dir():
        relative = [p for p in plan["config"].get("src", []) if not os.path.isabs(p)]
        if relative:
            raise ConfigError(f"the plan was made in {cwd}, which is not reachable here, and names relative paths "
                              f"({relative[0]}); plan with absolute paths, or run this where {cwd} exists")
        yield
        return
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)


def shard_states(workdir: str | Path, plan: dict[str, Any]) -> list[str]:
    """'done', 'partial' (some results, no done marker) or 'pending', per shard."""
    wd = Workdir(workdir)
    states = []
    for i in range(plan["shards"]["count"]):
        if _is_done(wd, i, plan):
            states.append("done")
        elif wd.result_files(i):
            states.append("partial")
        else:
            states.append("pending")
    return states


def _is_done(wd: Workdir, index: int, plan: dict[str, Any]) -> bool:
    try:
        with open(wd.done_path(index), encoding="utf-8") as fh:
            done = json.load(fh)
    except (OSError, json.JSONDecodeError):
        return False
    return done.get("plan_id") == plan["plan_id"]


# -- plan ---------------------------------------------------------------------------------------------------------

class UnitWriter:
    """Streams (key, body) pairs into N balanced units: each segment goes to the unit with the fewest characters
    so far (longest first within a window; ties to the lowest index), buffered and written as Parquet part files."""

    def __init__(self, wd: Workdir, shards: int, flush_rows: int = PLAN_FLUSH_ROWS,
                 flush_chars: int = PLAN_FLUSH_CHARS):
        self.wd = wd
        self.shards = shards
        self.flush_rows = flush_rows
        self.flush_chars = flush_chars
        self._heap = [(0, i) for i in range(shards)]
        self.segments = [0] * shards
        self.characters = [0] * shards
        self.parts = [0] * shards
        self._buffers: list[list[tuple[bytes, str]]] = [[] for _ in range(shards)]
        self._buffered_rows = 0
        self._buffered_chars = 0
        for i in range(shards):
            wd.unit_dir(i).mkdir(parents=True, exist_ok=True)

    def add(self, missing: list[tuple[bytes, str]]) -> None:
        heap = self._heap
        for key, body in sorted(missing, key=lambda kb: (-len(kb[1]), kb[0])):
            load, i = heapq.heappop(heap)
            n = len(body)
            heapq.heappush(heap, (load + n, i))
            self._buffers[i].append((key, body))
            self.segments[i] += 1
            self.characters[i] += n
            self._buffered_rows += 1
            self._buffered_chars += n
        if self._buffered_rows >= self.flush_rows or self._buffered_chars >= self.flush_chars:
            self.flush()

    def flush(self) -> None:
        for i, rows in enumerate(self._buffers):
            if rows:
                rows.sort(key=lambda kb: (len(kb[1]), kb[0]))  # similar lengths batch better downstream
                write_parquet(self.wd.unit_dir(i) / f"part-{self.parts[i]:05d}.parquet",
                              {"shard": [i] * len(rows), "key": [k for k, _ in rows], "source": [b for _, b in rows]})
                self.parts[i] += 1
                self._buffers[i] = []
        self._buffered_rows = self._buffered_chars = 0


def config_for_plan(cfg: RunConfig) -> dict[str, Any]:
    """The config as later stages need it: sources expanded, the memory path fixed, secrets dropped."""
    values = dataclasses.asdict(cfg)
    values["src"] = [str(p) for p in cfg.sources()]
    values["memory"] = str(cfg.memory_path())
    values["backend_options"] = redact(cfg.backend_options)
    return values


def make_plan(cfg: RunConfig, workdir: str | Path, shards: int, force: bool = False,
              chars_per_second: float | None = None,
              progress: Callable[[Path, int], None] | None = None) -> dict[str, Any]:
    """Plan `cfg`'s run as `shards` work units in `workdir`; returns the plan manifest (also written there).

    With `force`, an earlier plan in `workdir` is replaced; its finished results are first merged into the memory,
    so no translated segment is paid for twice."""
    from translate.cli import build_pipeline
    from translate.pipeline import plan as plan_sources

    if shards < 1:
        raise ConfigError("--shards must be at least 1")
    wd = Workdir(workdir)
    sources = cfg.sources()
    if not force and any((wd.plan_path.exists(), (wd.root / "units").exists(), (wd.root / "results").exists())):
        raise ConfigError(f"{wd.root} already holds a plan; assemble it, or pass --force to replace it "
                          f"(its finished results are kept in the memory)")
    started = time.time()
    backend, memory, pipeline = build_pipeline(cfg)
    try:
        salvaged = _salvage(wd, memory) if force else 0
        for name in ("units", "results"):
            shutil.rmtree(wd.root / name, ignore_errors=True)
        _unlink(wd.plan_path)
        writer = UnitWriter(wd, shards)
        counts = plan_sources(sources, pipeline.segmenter, memory, window=cfg.window, on_missing=writer.add,
                              progress=progress)
        writer.flush()
        fingerprint = backend.fingerprint()
        placeholder = backend.placeholder.name
    finally:
        backend.close()
        memory.close()
    finished = time.time()
    mean = sum(writer.characters) / shards
    estimate: dict[str, Any] = {
        "characters": counts.characters_missing,
        "largest_shard_characters": max(writer.characters),
        "smallest_shard_characters": min(writer.characters),
        "imbalance": round(max(writer.characters) / mean, 4) if mean else 1.0,
    }
    if chars_per_second:
        estimate["chars_per_second"] = chars_per_second
        estimate["seconds_per_shard"] = round(max(writer.characters) / chars_per_second, 1)
        estimate["seconds_one_worker"] = round(counts.characters_missing / chars_per_second, 1)
    manifest = {
        "format": PLAN_FORMAT,
        "plan_id": uuid.uuid4().hex,
        "tool": {"name": "llava-translate", "version": __version__},
        "cwd": os.getcwd(),
        "config": config_for_plan(cfg),
        "backend": {"name": cfg.backend, "fingerprint": fingerprint, "placeholder": placeholder},
        "counts": counts.as_dict(),
        "salvaged_from_earlier_plan": salvaged,
        "shards": {
            "count": shards,
            "segments": writer.segments,
            "characters": writer.characters,
        },
        "estimate": estimate,
        "timing": {"started": started, "finished": finished, "seconds": round(finished - started, 3)},
    }
    write_json(wd.plan_path, manifest)  # last: its presence means the units are complete
    return manifest


def _salvage(wd: Workdir, memory) -> int:
    """Merge the results of an earlier plan in `wd` (finished or not) into the memory before it is replaced."""
    if not wd.plan_path.exists():
        return 0
    try:
        old = load_plan(wd.root)
    except ConfigError:
        return 0
    added = 0
    for i in range(old["shards"]["count"]):
        for part in wd.result_files(i):
            rows = [r for r in read_results(part) if r[2] is not None]
            added += memory.put(rows, origin=old["backend"]["fingerprint"])
    return added


# -- work ---------------------------------------------------------------------------------------------------------

def shard_index(shard: int | None, plan: dict[str, Any]) -> int:
    """The shard to work on: the one given, else $SLURM_ARRAY_TASK_ID; checked against the plan."""
    from translate.executors.slurm import array_task_id

    index = shard if shard is not None else array_task_id()
    if index is None:
        raise ConfigError("which shard? pass --shard I (or run as a Slurm array task, which sets SLURM_ARRAY_TASK_ID)")
    count = plan["shards"]["count"]
    if not 0 <= index < count:
        raise ConfigError(f"shard {index} is not in this plan: it has shards 0 to {count - 1}")
    return index


def open_backend(plan: dict[str, Any], cfg: RunConfig) -> Backend:
    """The plan's backend, built as `run` and `plan` build it, and checked to translate exactly as planned (same
    fingerprint, so the same memory keys).

    `load_protection` is the step `run` takes after creating the backend: it loads the glossary and, for an engine
    with a native glossary (DeepL), syncs the terms to the account (reusing the identical glossary `plan` put there)
    and names it in the fingerprint. Skipping it would leave the glossary out of both the requests and the
    fingerprint."""
    from translate.cli import load_protection

    backend = create_backend(cfg.backend, cfg.source, cfg.target, cfg.backend_options)
    try:
        load_protection(cfg, backend)
        got = backend.fingerprint()
    except BaseException:
        backend.close()
        raise
    planned = plan["backend"]["fingerprint"]
    if got != planned:
        backend.close()
        raise ConfigError(f"the backend here translates as {got!r}, the plan as {planned!r}: an option that changes "
                          f"the output (model, beam size, glossary, …) differs; use the plan's options or plan again")
    return backend


def translate_texts(backend: Backend, texts: list[str]) -> Iterator[tuple[list[int], list[str | None]]]:
    """(indices, translations) per backend batch, in the backend's batch limits, checked as the pipeline checks them.
    None: the backend gave up on that text; it is written as a result without a target (see `merge_results`)."""
    from translate.pipeline import translate_batch

    for batch in iter_batches(texts, backend.max_batch_texts, backend.max_batch_chars):
        yield batch, translate_batch(backend, [texts[i] for i in batch])


class ResultWriter:
    """Buffers one shard's results and writes them as atomic Parquet part files, by rows or by time."""

    def __init__(self, wd: Workdir, index: int, flush_rows: int = WORK_FLUSH_ROWS,
                 flush_seconds: float = WORK_FLUSH_SECONDS):
        self.dir = wd.result_dir(index)
        self.dir.mkdir(parents=True, exist_ok=True)
        for stale in self.dir.glob(".part-*.tmp"):
            _unlink(stale)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._seq = _next_seq(self.dir)
        self._rows: list[tuple[bytes, str, str | None]] = []
        self._last = time.monotonic()
        self.written = 0
        self.given_up = 0

    def add(self, rows: list[tuple[bytes, str, str | None]]) -> None:
        self._rows.extend(rows)
        self.given_up += sum(1 for r in rows if r[2] is None)
        if len(self._rows) >= self.flush_rows or time.monotonic() - self._last >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        # A unique name: two processes on one shard (a requeued job) never overwrite each other's files.
        name = f"part-{self._seq:06d}-{uuid.uuid4().hex[:8]}.parquet"
        write_parquet(self.dir / name, {"key": [r[0] for r in rows], "source": [r[1] for r in rows],
                                        "target": [r[2] for r in rows]})
        self._seq += 1
        self.written += len(rows)


def read_unit(wd: Workdir, index: int):
    """Unit `index` as a polars frame (shard, key, source)."""
    import polars as pl

    files = wd.unit_files(index)
    if not files:
        return pl.DataFrame({"shard": [], "key": [], "source": []},
                            schema={"shard": pl.UInt32, "key": pl.Binary, "source": pl.String})
    return pl.read_parquet(files)


def done_keys(wd: Workdir, index: int):
    """Keys already translated in shard `index` (from its result part files)."""
    import polars as pl

    files = wd.result_files(index)
    if not files:
        return pl.DataFrame({"key": []}, schema={"key": pl.Binary})
    return pl.read_parquet(files, columns=["key"]).unique()


def remaining(wd: Workdir, index: int):
    """What is left of unit `index`: its rows without results yet, shortest first (stable: ties by key)."""
    import polars as pl

    unit = read_unit(wd, index)
    left = unit.join(done_keys(wd, index), on="key", how="anti")
    return unit, left.with_columns(pl.col("source").str.len_chars().alias("_n")).sort(["_n", "key"]).drop("_n")


def mark_done(wd: Workdir, index: int, plan: dict[str, Any], info: dict[str, Any]) -> None:
    """Write the done marker after checking that the results cover the whole unit."""
    unit_keys = read_unit(wd, index).select("key")
    missing = unit_keys.join(done_keys(wd, index), on="key", how="anti").height
    if missing:
        raise BackendError(f"shard {index}: {missing} segment(s) of the unit have no result; rerun this shard")
    write_json(wd.done_path(index), {"plan_id": plan["plan_id"], "shard": index, "segments": unit_keys.height,
                                     **info})


def work_shard(workdir: str | Path, index: int, extra_options: dict[str, Any] | None = None,
               flush_rows: int = WORK_FLUSH_ROWS, flush_seconds: float = WORK_FLUSH_SECONDS,
               progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Translate unit `index` of the plan in `workdir`. Returns what happened: {'state': 'skipped'|'done', …}."""
    wd = Workdir(workdir)
    plan = load_plan(wd.root)
    if _is_done(wd, index, plan):
        return {"state": "skipped", "shard": index}
    started = time.time()
    with plan_folder(plan):
        cfg = config_from_plan(plan, extra_options)
        unit, left = remaining(wd, index)
        resumed = unit.height - left.height
        keys = left["key"].to_list()
        texts = left["source"].to_list()
        writer = ResultWriter(wd, index, flush_rows, flush_seconds)
        usage: dict[str, Any] = {}
        if texts:
            backend = open_backend(plan, cfg)
            try:
                done = 0
                for batch, outputs in translate_texts(backend, texts):
                    writer.add([(keys[i], texts[i], out) for i, out in zip(batch, outputs)])
                    done += len(batch)
                    if progress:
                        progress(done, len(texts))
                usage = backend.usage()
            finally:
                writer.flush()  # what was translated before a failure is kept for the rerun
                backend.close()
        finished = time.time()
        info = {"resumed_from": resumed, "translated": len(texts), "given_up": writer.given_up,
                "characters": sum(map(len, texts)),
                "usage": usage, "host": socket.gethostname(),
                "timing": {"started": started, "finished": finished, "seconds": round(finished - started, 3)}}
        mark_done(wd, index, plan, info)
    return {"state": "done", "shard": index, **info}


# -- assemble -----------------------------------------------------------------------------------------------------

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


def read_results(path: Path) -> list[tuple[bytes, str, str | None]]:
    """(key, source, target) rows of one result file; target is None where the backend gave up."""
    import polars as pl

    frame = pl.read_parquet(path, columns=["key", "source", "target"])
    return list(zip(frame["key"].to_list(), frame["source"].to_list(), frame["target"].to_list()))


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
            added += memory.put(done, origin=plan["backend"]["fingerprint"])
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
    from translate.executors.slurm import array_spec

    states = shard_states(wd.root, plan)
    unfinished = [i for i, s in enumerate(states) if s != "done"]
    if unfinished:
        partial = sum(1 for i in unfinished if states[i] == "partial")
        raise WorkIncomplete(
            f"{len(unfinished)} of {len(states)} shard(s) are not finished ({partial} partial): "
            f"{array_spec(unfinished)}; run them again (e.g. `sbatch --array={array_spec(unfinished)} …` or "
            f"`work --workdir {wd.root} --shard {unfinished[0]}`), then assemble")


def open_assembly(workdir: str | Path, plan: dict[str, Any]):
    """(cfg, backend, memory, pipeline, merged) ready to assemble: results merged into the memory, nothing to send.
    Call inside `plan_folder(plan)`; the caller closes backend and memory."""
    from translate.cli import build_pipeline

    wd = Workdir(workdir)
    check_finished(wd, plan)
    cfg = config_from_plan(plan)
    backend = PlannedBackend(plan, shard_usage(wd, plan))
    backend_obj, memory, pipeline = build_pipeline(cfg, backend=backend)
    try:
        merged = merge_results(wd, plan, memory, backend.given_up)
    except BaseException:
        memory.close()
        raise
    return cfg, backend_obj, memory, pipeline, merged


def cluster_manifest(workdir: str | Path, plan: dict[str, Any], merged: dict[str, int]) -> dict[str, Any]:
    return {"cluster": {"workdir": str(workdir), "plan_id": plan["plan_id"], "shards": plan["shards"]["count"],
                        "segments_planned": plan["counts"]["segments_missing"],
                        "characters_planned": plan["counts"]["characters_missing"],
                        "results_merged": merged["rows"], "memory_rows_added": merged["added"],
                        "given_up": merged["given_up"]}}


# -- helpers ------------------------------------------------------------------------------------------------------

def write_parquet(path: Path, columns: dict[str, list]) -> None:
    """A Parquet file written atomically (a temporary name, then a rename), with fixed column types."""
    import polars as pl

    schema = {"shard": pl.UInt32, "key": pl.Binary, "source": pl.String, "target": pl.String}
    frame = pl.DataFrame(columns, schema={name: schema[name] for name in columns})
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _next_seq(folder: Path) -> int:
    seqs = []
    for p in folder.glob("part-*.parquet"):
        try:
            seqs.append(int(p.name.split("-")[1].split(".")[0]))
        except (IndexError, ValueError):
            continue
    return max(seqs, default=-1) + 1


def _unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

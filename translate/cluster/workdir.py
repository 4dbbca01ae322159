"""The work folder shared by the cluster stages, and its files.

Cluster batch jobs: plan once, translate N independent shards, assemble once.

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
import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from translate.config import RunConfig
from translate.errors import ConfigError, OutputError

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


def array_spec(indices: list[int]) -> str:
    """Shard indices as a compact range list for `sbatch --array` and messages: [0, 1, 2, 5] → "0-2,5"."""
    spans: list[list[int]] = []
    for i in sorted(set(indices)):
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


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
        if is_done(wd, i, plan):
            states.append("done")
        elif wd.result_files(i):
            states.append("partial")
        else:
            states.append("pending")
    return states


def is_done(wd: Workdir, index: int, plan: dict[str, Any]) -> bool:
    try:
        with open(wd.done_path(index), encoding="utf-8") as fh:
            done = json.load(fh)
    except (OSError, json.JSONDecodeError):
        return False
    return done.get("plan_id") == plan["plan_id"]


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


def read_results(path: Path) -> list[tuple[bytes, str, str | None]]:
    """(key, source, target) rows of one result file; target is None where the backend gave up."""
    import polars as pl

    frame = pl.read_parquet(path, columns=["key", "source", "target"])
    return list(zip(frame["key"].to_list(), frame["source"].to_list(), frame["target"].to_list()))



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
        unlink(tmp)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def next_seq(folder: Path) -> int:
    seqs = []
    for p in folder.glob("part-*.parquet"):
        try:
            seqs.append(int(p.name.split("-")[1].split(".")[0]))
        except (IndexError, ValueError):
            continue
    return max(seqs, default=-1) + 1


def unlink(path: str | Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

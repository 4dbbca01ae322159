"""Executors: picked by name from a registry; local, slurm (through a stand-in `sbatch` that runs the array tasks
here, as Slurm would on its nodes) and ray all finish a plan whose assembly is byte for byte a single run's."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from translate.cluster import load_plan, shard_states
from translate.errors import ConfigError
from translate.executors import available_executors, get_executor
from translate.executors.local import LocalExecutor
from translate.executors.slurm import SlurmExecutor


def main(*args) -> int:
    from translate.cli import main as cli_main

    try:
        cli_main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code or 0
    return 0


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.suffix in (".json", ".jsonl") and not p.name.endswith(".manifest.json")}


# A stand-in for sbatch: `sbatch --wait --array=SPEC SCRIPT WORKDIR` runs SCRIPT once per task id with
# SLURM_ARRAY_TASK_ID set, then exits with the worst status, as `sbatch --wait` does once the array has ended.
FAKE_SBATCH = """#!{python}
import os, subprocess, sys
args = sys.argv[1:]
array = next(a.split("=", 1)[1] for a in args if a.startswith("--array="))
rest = [a for a in args if not a.startswith("--")]
script, workdir = rest[0], rest[1]
ids = []
for part in array.split("%")[0].split(","):
    a, _, b = part.partition("-")
    ids += list(range(int(a), int(b or a) + 1))
with open(os.environ["SBATCH_LOG"], "a") as log:
    log.write(" ".join(args) + "\\n")
worst = 0
for i in ids:
    env = dict(os.environ, SLURM_ARRAY_TASK_ID=str(i), SLURM_ARRAY_JOB_ID="4242")
    worst = max(worst, subprocess.run(["bash", script, workdir], env=env).returncode)
print("Submitted batch job 4242")
sys.exit(worst)
"""


@pytest.fixture
def fake_sbatch(tmp_path, monkeypatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    sbatch = bindir / "sbatch"
    sbatch.write_text(FAKE_SBATCH.format(python=sys.executable))
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "sbatch.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SBATCH_LOG", str(log))
    monkeypatch.setenv("TRANSLATE_CMD", f"{sys.executable} -m translate")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return log


def test_registry_names_every_engine_and_refuses_an_unknown_one():
    assert {"local", "ray", "slurm"} <= set(available_executors())
    assert isinstance(get_executor("local"), LocalExecutor)
    assert isinstance(get_executor("slurm", concurrency=3), SlurmExecutor)
    assert get_executor("slurm", concurrency=3).default_shards() == 3
    with pytest.raises(ConfigError, match="--engine must be one of local, ray, slurm"):
        get_executor("kubernetes")


def test_local_executor_finishes_every_shard_and_skips_finished_ones(tmp_path, make_instruct):
    src = make_instruct(60)
    wd = tmp_path / "work"
    assert main("plan", "--src", src, "--backend", "pseudo", "--out", tmp_path / "out", "--workdir", wd,
                "--shards", 3, "-q") == 0
    first = LocalExecutor().run(wd, shards=[1])
    assert first["shards"] == [1] and shard_states(wd, load_plan(wd)) == ["pending", "done", "pending"]
    rest = LocalExecutor().run(wd)
    assert rest["shards"] == [0, 2] and rest["skipped"] == 1
    assert shard_states(wd, load_plan(wd)) == ["done"] * 3
    with pytest.raises(ConfigError, match="shard 7 is not in this plan"):
        LocalExecutor().run(wd, shards=[7])


def test_run_on_slurm_submits_one_array_job_and_matches_a_local_run(tmp_path, make_instruct, blip_excerpt,
                                                                     fake_sbatch):
    src = make_instruct(80)
    assert main("run", "--src", src, "--src", blip_excerpt, "--backend", "pseudo", "--out", tmp_path / "local",
                "-q") == 0
    assert main("run", "--src", src, "--src", blip_excerpt, "--backend", "pseudo", "--out", tmp_path / "slurm",
                "--engine", "slurm", "--concurrency", 3, "-q") == 0
    assert outputs(tmp_path / "slurm") == outputs(tmp_path / "local")
    submitted = fake_sbatch.read_text().splitlines()
    assert len(submitted) == 1 and "--wait" in submitted[0] and "--array=0-2" in submitted[0]
    # The work folder is removed after a successful assemble.
    assert not any(p.name.endswith("-work") for p in (tmp_path / "slurm").iterdir())


def test_slurm_executor_resubmits_only_unfinished_shards(tmp_path, make_instruct, fake_sbatch):
    src = make_instruct(40)
    wd = tmp_path / "work"
    assert main("plan", "--src", src, "--backend", "pseudo", "--out", tmp_path / "out", "--workdir", wd,
                "--shards", 4, "-q") == 0
    LocalExecutor().run(wd, shards=[0, 2])
    summary = SlurmExecutor().run(wd)
    assert summary["shards"] == [1, 3] and summary["skipped"] == 2
    assert "--array=1,3" in fake_sbatch.read_text()
    assert shard_states(wd, load_plan(wd)) == ["done"] * 4


def test_slurm_without_sbatch_says_how_to_submit_by_hand(tmp_path, make_instruct, monkeypatch):
    src = make_instruct(10)
    wd = tmp_path / "work"
    assert main("plan", "--src", src, "--backend", "pseudo", "--out", tmp_path / "out", "--workdir", wd,
                "--shards", 2, "-q") == 0
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ConfigError, match=r"needs `sbatch` on PATH.*sbatch --parsable --array=0-1"):
        SlurmExecutor().run(wd)


def test_a_failed_array_job_stops_with_a_backend_error_and_keeps_finished_shards(tmp_path, make_instruct,
                                                                                 fake_sbatch, monkeypatch):
    from translate.errors import BackendError

    src = make_instruct(40)
    wd = tmp_path / "work"
    assert main("plan", "--src", src, "--backend", "pseudo", "--out", tmp_path / "out", "--workdir", wd,
                "--shards", 2, "-q") == 0
    # Every task's backend fails after its first batch: the array job ends with a non-zero status.
    monkeypatch.setenv("TRANSLATE_OPTS", "--opt fail_after_batches=0")
    with pytest.raises(BackendError, match="the Slurm array job for shards 0-1 failed"):
        SlurmExecutor().run(wd)
    monkeypatch.delenv("TRANSLATE_OPTS")
    assert SlurmExecutor().run(wd)["shards"] == [0, 1]
    assert shard_states(wd, load_plan(wd)) == ["done", "done"]


def test_plan_refuses_two_sources_that_would_write_the_same_output_before_any_shard_runs(tmp_path, make_instruct):
    a = make_instruct(5, "data.json")
    (tmp_path / "d2").mkdir()
    b = synthetic_copy(a, tmp_path / "d2" / "data.json")
    wd = tmp_path / "work"
    assert main("plan", "--src", a, "--src", b, "--backend", "pseudo", "--out", tmp_path / "out", "--workdir", wd,
                "--shards", 2, "-q") == 2
    assert not (wd / "plan.json").exists()


def synthetic_copy(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes())
    return dst

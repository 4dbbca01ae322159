"""The work stage on Ray Data (a local Ray on the CPU, pseudo backend): the same bytes as a single run."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
pytest.importorskip("ray.data")

from conftest import load_json  # noqa: E402
from test_cluster import main, outputs, plan_args, single_run  # noqa: E402

from translate.cluster import Workdir, load_plan, shard_states  # noqa: E402


@pytest.fixture(autouse=True)
def watchdog():
    """A hung Ray pipeline fails the test instead of stalling the suite."""
    import signal

    def expire(*_):
        raise TimeoutError("the Ray pipeline did not finish within 240 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(240)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def test_ray_work_stage_is_identical_and_finishes_what_slurm_tasks_left(tmp_path, make_instruct, blip_excerpt,
                                                                       local_ray):
    from translate.executors.ray import work_ray

    sources = [make_instruct(120, "instruct.json", seed=4), blip_excerpt]
    single = single_run(tmp_path, sources)
    out, wd = tmp_path / "sharded", tmp_path / "work"
    assert main(*plan_args(wd, out, sources, 3, "--opt", "batch_size=8")) == 0
    plan = load_plan(wd)
    assert main("work", "--workdir", wd, "--shard", 0, "-q") == 0  # one shard done elsewhere (a Slurm task)
    summary = work_ray(wd, concurrency=2, batch_size=32)
    assert summary["skipped"] == 1 and summary["shards"] == [1, 2]
    assert summary["translated"] == plan["shards"]["segments"][1] + plan["shards"]["segments"][2]
    assert shard_states(wd, plan) == ["done"] * 3
    assert load_json(Workdir(wd).done_path(1))["engine"] == "ray"
    assert work_ray(wd)["translated"] == 0  # all done: nothing starts

    assert main("assemble", "--workdir", wd, "-q") == 0
    assert outputs(out) == outputs(single)


def test_run_engine_ray_is_identical_to_a_local_run(tmp_path, make_instruct, local_ray):
    src = make_instruct(80, "instruct.json", seed=5)
    single = single_run(tmp_path, [src])
    out = tmp_path / "ray"
    assert main("run", "--src", src, "--backend", "pseudo", "--out", out, "--engine", "ray", "--concurrency", 2,
                "-q") == 0
    assert outputs(out) == outputs(single)
    assert not list(out.glob(".*ray-work"))  # the work folder is gone after a successful run
    manifest = load_json(out / "ko_instruct.manifest.json")
    assert manifest["counts"]["segments_sent"] == 0 and manifest["cluster"]["shards"] == 2

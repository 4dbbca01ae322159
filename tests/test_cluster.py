"""Cluster batch jobs: plan, work shards, assemble. The sharded result must be byte for byte a single run's."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import synthetic
from conftest import ROOT, cache_dir, load_json, run_cli
from fakes import FakeDeepL
from remote_support import KEY, captions, fast_deepl_sdk  # noqa: F401  (fast_deepl_sdk is a fixture)

from translate.backends.base import BUILTIN_BACKENDS
from translate.backends.pseudo import PseudoBackend
from translate.cluster import Workdir, config_for_plan, config_from_plan, load_plan, open_backend, shard_states
from translate.config import RunConfig
from translate.executors.ray import TranslateWorker
from translate.executors.slurm import array_spec, array_task_id, submit_commands
from translate.memory import TranslationMemory


def main(*args) -> int:
    """The command line in this process (faster than a subprocess); returns the exit code."""
    from translate.cli import main as cli_main

    try:
        cli_main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code or 0
    return 0


@pytest.fixture
def sources(tmp_path, blip_excerpt, make_instruct) -> list[Path]:
    """Three files: a JSON array, a JSONL file with a broken line and an invalid record, and real BLIP captions.
    They share segments (the BLIP prompts repeat; the JSONL repeats part of the instruct file)."""
    instruct = make_instruct(150, "instruct.json", seed=1)
    jsonl = tmp_path / "extra.jsonl"
    with open(jsonl, "w", encoding="utf-8") as fh:
        for i, rec in enumerate(synthetic.records(40, seed=1)):  # the same records as instruct's first 40
            rec["id"] = f"x{i}"
            fh.write(json.dumps(rec) + "\n")
            if i == 7:
                fh.write('{"id": "broken", "conversations": [\n')
            if i == 9:
                fh.write(json.dumps({"id": "no-turns", "image": "a.jpg"}) + "\n")
    return [instruct, jsonl, blip_excerpt]


def outputs(folder: Path) -> dict[str, bytes]:
    """Every output and rejected file in a folder (manifests hold timings, so they are compared apart)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.name.endswith((".json", ".jsonl")) and ".manifest." not in p.name}


def single_run(tmp_path, sources, name="single") -> Path:
    out = tmp_path / name
    args = ["run", "--backend", "pseudo", "--out", out, "-q"]
    for s in sources:
        args += ["--src", s]
    assert main(*args) == 0
    return out


def plan_args(workdir, out, sources, shards, *extra) -> list:
    args = ["plan", "--backend", "pseudo", "--out", out, "--workdir", workdir, "--shards", shards, "-q", *extra]
    for s in sources:
        args += ["--src", s]
    return args


def test_three_shards_are_byte_identical_to_a_single_run(tmp_path, sources):
    single = single_run(tmp_path, sources)
    out, wd, journal = tmp_path / "sharded", tmp_path / "work", tmp_path / "journal"
    assert main(*plan_args(wd, out, sources, 3, "--opt", f"journal={journal}")) == 0
    plan = load_plan(wd)
    assert plan["counts"]["records"] == 150 + 42 + 120 and plan["counts"]["files"] == 3
    assert sum(plan["shards"]["segments"]) == plan["counts"]["segments_missing"] > 0
    assert shard_states(wd, plan) == ["pending"] * 3

    for i in range(3):
        assert main("work", "--workdir", wd, "--shard", i, "-q") == 0
    assert shard_states(wd, plan) == ["done"] * 3
    # The shards never wrote to the shared SQLite memory.
    with TranslationMemory(plan["config"]["memory"]) as memory:
        assert len(memory) == 0
    sent = journal.read_text().splitlines()
    assert sum(int(line.split()[0]) for line in sent) == plan["counts"]["segments_missing"]

    # A finished shard is skipped: nothing more is sent.
    assert main("work", "--workdir", wd, "--shard", 1, "-q") == 0
    assert journal.read_text().splitlines() == sent

    assert main("assemble", "--workdir", wd, "-q") == 0
    assert outputs(out) == outputs(single)
    assert {f"ko_{n}{ext}" for n in ("instruct", "blip_excerpt") for ext in (".json", ".rejected.jsonl")} | {
        "ko_extra.jsonl", "ko_extra.rejected.jsonl"} <= set(outputs(out))
    assert b'"broken"' not in outputs(out)["ko_extra.jsonl"]
    assert b"no-turns" in outputs(out)["ko_extra.rejected.jsonl"]
    for name in ("instruct", "extra", "blip_excerpt"):
        one, many = load_json(single / f"ko_{name}.manifest.json"), load_json(out / f"ko_{name}.manifest.json")
        assert many["counts"]["segments_sent"] == 0  # assemble sends nothing
        for counter in ("records_in", "records_kept", "records_rejected", "segments_total", "segments_unique"):
            assert many["counts"][counter] == one["counts"][counter]
        assert {k: v for k, v in many["options"].items() if k != "backend_options"} == \
            {k: v for k, v in one["options"].items() if k != "backend_options"}
        assert many["cluster"]["shards"] == 3
    with TranslationMemory(single / "translation_memory.sqlite") as a, \
            TranslationMemory(out / "translation_memory.sqlite") as b:
        assert [r[:3] for r in a.rows()] == [r[:3] for r in b.rows()]
    # Assembling again changes nothing.
    before = outputs(out)
    assert main("assemble", "--workdir", wd, "-q") == 0
    assert outputs(out) == before


def test_units_are_balanced_complete_and_deterministic(tmp_path, sources):
    frames = []
    for name in ("a", "b"):
        wd = tmp_path / f"work-{name}"
        assert main(*plan_args(wd, tmp_path / f"out-{name}", sources, 4)) == 0
        plan = load_plan(wd)
        units = [pl.read_parquet(Workdir(wd).unit_files(i)) for i in range(4)]
        frames.append(units)
        chars = [u["source"].str.len_chars().sum() for u in units]
        assert chars == plan["shards"]["characters"]
        longest = max(u["source"].str.len_chars().max() for u in units)
        assert max(chars) - min(chars) <= longest  # greedy balance: within one segment
        keys = pl.concat(units)["key"]
        assert keys.len() == keys.n_unique() == plan["counts"]["segments_missing"]
        assert all(set(u["shard"].to_list()) == {i} for i, u in enumerate(units))
    for a, b in zip(*frames):
        assert a.equals(b)


def test_plan_counts_what_the_memory_already_has(tmp_path, sources):
    single = single_run(tmp_path, sources[:1])  # fills the memory with the instruct file's segments
    wd = tmp_path / "work"
    args = plan_args(wd, single, sources, 2)
    assert main(*args) == 0
    plan = load_plan(wd)
    counts = plan["counts"]
    assert counts["segments_in_memory"] > 0
    assert counts["segments_missing"] == (counts["segments_unique"] - counts["segments_in_memory"]
                                         - counts["segments_templates"])
    # A second plan in the same folder needs --force.
    res = run_cli(*args)
    assert res.returncode == 2 and "--force" in res.stderr and "Traceback" not in res.stderr


def test_force_replan_keeps_finished_results(tmp_path, sources):
    wd, out = tmp_path / "work", tmp_path / "out"
    assert main(*plan_args(wd, out, sources, 2)) == 0
    first = load_plan(wd)
    assert main("work", "--workdir", wd, "--shard", 0, "-q") == 0
    assert main(*plan_args(wd, out, sources, 2, "--force")) == 0
    second = load_plan(wd)
    assert second["salvaged_from_earlier_plan"] == first["shards"]["segments"][0]
    assert second["counts"]["segments_missing"] == first["counts"]["segments_missing"] - second[
        "salvaged_from_earlier_plan"]
    assert shard_states(wd, second) == ["pending", "pending"]


def test_killed_shard_is_rerun_alone_and_the_result_is_identical(tmp_path, make_instruct):
    small = [make_instruct(50, "small.json", seed=2)]
    single = single_run(tmp_path, small)
    out, wd, journal, batch = tmp_path / "sharded", tmp_path / "work", tmp_path / "journal", 4
    assert main(*plan_args(wd, out, small, 2, "--opt", f"batch_size={batch}", "--opt", "delay=0.05",
                           "--opt", f"journal={journal}")) == 0
    plan = load_plan(wd)
    assert main("work", "--workdir", wd, "--shard", 0, "-q") == 0
    sent_shard0 = _texts(journal)

    proc = subprocess.Popen([sys.executable, "-m", "translate", "work", "--workdir", str(wd), "--shard", "1",
                             "--flush-rows", str(batch), "-q"], cwd=ROOT, stderr=subprocess.PIPE)
    results = Workdir(wd).result_dir(1)
    deadline = time.time() + 60
    while len(list(results.glob("part-*.parquet"))) < 3 and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert shard_states(wd, plan) == ["done", "partial"]
    kept = pl.read_parquet(list(results.glob("part-*.parquet"))).height
    assert 0 < kept < plan["shards"]["segments"][1]

    # Assemble refuses, names the shard, writes nothing.
    res = run_cli("assemble", "--workdir", wd)
    assert res.returncode == 2 and "1 of 2 shard(s) are not finished (1 partial): 1" in res.stderr
    assert not out.exists() or not list(out.glob("ko_*"))

    # The rerun resumes after the flushed results; only the batch in flight may be sent twice.
    res = run_cli("work", "--workdir", wd, "--shard", 1)
    assert res.returncode == 0, res.stderr
    assert re.search(rf"{kept:,} kept from an earlier attempt", res.stderr), res.stderr
    sent_shard1 = _texts(journal) - sent_shard0
    assert plan["shards"]["segments"][1] <= sent_shard1 <= plan["shards"]["segments"][1] + batch

    assert main("assemble", "--workdir", wd, "-q") == 0
    assert outputs(out) == outputs(single)


def test_assemble_fails_clearly_when_results_are_missing(tmp_path, sources):
    wd, out = tmp_path / "work", tmp_path / "out"
    assert main(*plan_args(wd, out, sources[:1], 2)) == 0
    for i in range(2):
        assert main("work", "--workdir", wd, "--shard", i, "-q") == 0
    for part in Workdir(wd).result_files(1):
        part.unlink()  # a done marker whose results are gone: nothing may be translated silently
    res = run_cli("assemble", "--workdir", wd)
    assert res.returncode == 2, res.stderr
    assert "in neither the memory nor the shard results" in res.stderr and "Traceback" not in res.stderr
    assert not (out / "ko_instruct.json").exists()


def test_shard_comes_from_slurm_array_task_id(tmp_path, sources, monkeypatch, capsys):
    wd = tmp_path / "work"
    assert main(*plan_args(wd, tmp_path / "out", sources[:1], 2)) == 0
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")
    assert main("work", "--workdir", wd, "-q") == 0
    assert shard_states(wd, load_plan(wd)) == ["pending", "done"]
    capsys.readouterr()
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "5")
    assert main("work", "--workdir", wd) == 2
    assert "shard 5 is not in this plan: it has shards 0 to 1" in capsys.readouterr().err
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    assert main("work", "--workdir", wd) == 2
    assert "--shard" in capsys.readouterr().err
    assert main("work", "--workdir", tmp_path / "nowhere", "--shard", "0") == 2
    assert "no plan here" in capsys.readouterr().err


def test_nllb_shards_match_a_single_run(tmp_path, blip_excerpt, request):
    """The tiny copy-model NLLB (tests/support/nllb_support.py), built once per session: plan on one backend instance, two
    shards on others, and the planned fingerprint must match theirs."""
    pytest.importorskip("ctranslate2")
    pytest.importorskip("sentencepiece")
    from nllb_support import cached_copy_model

    model = cached_copy_model(cache_dir(request, "nllb-tiny-model"))
    config = tmp_path / "run.toml"
    config.write_text("[qc]\nuntranslated = false\nwrong_script = false\n", encoding="utf-8")
    common = ["--src", blip_excerpt, "--backend", "nllb", "--model", model, "--device", "cpu", "--config", config,
              "-q"]
    assert main("run", *common, "--out", tmp_path / "single") == 0
    wd = tmp_path / "work"
    assert main("plan", *common, "--out", tmp_path / "sharded", "--workdir", wd, "--shards", 2) == 0
    assert load_plan(wd)["backend"]["fingerprint"].startswith("nllb/")
    for i in range(2):
        assert main("work", "--workdir", wd, "--shard", i, "-q") == 0
    assert main("assemble", "--workdir", wd, "-q") == 0
    assert outputs(tmp_path / "sharded") == outputs(tmp_path / "single")
    kept = load_json(tmp_path / "sharded" / "ko_blip_excerpt.json")
    assert len(kept) == 120 and kept[0]["conversations"][1]["value"]  # the copy model gives the text back


class GiveUpBackend(PseudoBackend):
    """Pseudo, but gives up (None) on every text about a giraffe, as a remote engine does after its retries."""

    name = "giveup"

    def fingerprint(self) -> str:
        return "giveup/v1"

    def translate(self, texts):
        return [None if "giraffe" in t else out for t, out in zip(texts, super().translate(texts))]


def test_segments_the_backend_gave_up_on_are_rejected_as_in_a_single_run(tmp_path, make_instruct, monkeypatch):
    monkeypatch.setitem(BUILTIN_BACKENDS, "giveup", f"{__name__}:GiveUpBackend")
    src = make_instruct(60, "instruct.json", seed=6)
    single = tmp_path / "single"
    assert main("run", "--src", src, "--backend", "giveup", "--out", single, "-q") == 0
    wd, out = tmp_path / "work", tmp_path / "sharded"
    assert main("plan", "--src", src, "--backend", "giveup", "--out", out, "--workdir", wd, "--shards", 2, "-q") == 0
    for i in range(2):
        assert main("work", "--workdir", wd, "--shard", i, "-q") == 0
    assert main("assemble", "--workdir", wd, "-q") == 0
    assert outputs(out) == outputs(single)
    rejected = [json.loads(line) for line in outputs(out)["ko_instruct.rejected.jsonl"].splitlines()]
    assert rejected and all(r["reasons"][0]["code"] == "backend_failed" for r in rejected)
    manifest = load_json(out / "ko_instruct.manifest.json")
    assert manifest["cluster"]["given_up"] > 0
    # Nothing given up was stored, so a new plan sends exactly those segments again.
    assert main("plan", "--src", src, "--backend", "giveup", "--out", out, "--workdir", wd, "--shards", 1, "--force",
                "-q") == 0
    assert load_plan(wd)["counts"]["segments_missing"] == manifest["cluster"]["given_up"]


def test_failing_backend_stops_the_shard_with_exit_5_and_the_rerun_matches_a_single_run(tmp_path, make_instruct):
    small = [make_instruct(40, "small.json", seed=3)]
    single = single_run(tmp_path, small)
    out, wd = tmp_path / "sharded", tmp_path / "work"
    assert main(*plan_args(wd, out, small, 2, "--opt", "batch_size=4")) == 0
    plan = load_plan(wd)
    res = run_cli("work", "--workdir", wd, "--shard", 0, "--flush-rows", 4, "--opt", "fail_after_batches=1")
    assert res.returncode == 5, res.stderr
    message = res.stderr.strip()
    assert message.startswith("error: ") and "injected failure" in message and "Traceback" not in res.stderr
    # The batch translated before the failure was written; the shard is partial, not done.
    assert shard_states(wd, plan)[0] == "partial"
    assert pl.read_parquet(Workdir(wd).result_files(0)).height == 4
    res = run_cli("work", "--workdir", wd, "--shard", 0)
    assert res.returncode == 0 and "4 kept from an earlier attempt" in res.stderr, res.stderr
    assert main("work", "--workdir", wd, "--shard", 1, "-q") == 0
    assert main("assemble", "--workdir", wd, "-q") == 0
    assert outputs(out) == outputs(single)


class CrashingBackend(PseudoBackend):
    """A plug-in that fails as third-party code does: a plain exception on its second batch, or nonsense answers."""

    name = "crashing"

    def __init__(self, source_lang, target_lang, batch_size: int = 4, mode: str = "raise"):
        super().__init__(source_lang, target_lang, batch_size=batch_size)
        self.mode = mode

    def translate(self, texts):
        if self.batches >= 1:
            if self.mode == "raise":
                raise RuntimeError("CUDA out of memory (simulated)")
            return texts[:-1]  # one translation short
        return super().translate(texts)


@pytest.mark.parametrize("mode, words", [("raise", "RuntimeError: CUDA out of memory"),
                                         ("short", "returned 3 translations for 4 texts")])
def test_plugin_exceptions_and_bad_answers_become_backend_errors_in_shards(tmp_path, make_instruct, monkeypatch,
                                                                         capsys, mode, words):
    """Shards (local and Ray actors) check backend answers as `run` does: exit 5 and one line, never a traceback."""
    import pyarrow as pa

    from translate.errors import BackendError

    monkeypatch.setitem(BUILTIN_BACKENDS, "crashing", f"{__name__}:CrashingBackend")
    src = make_instruct(30, "instruct.json", seed=7)
    wd = tmp_path / "work"
    assert main("plan", "--src", src, "--backend", "crashing", "--opt", f"mode={mode}", "--out", tmp_path / "out",
                "--workdir", wd, "--shards", 1, "-q") == 0
    capsys.readouterr()
    assert main("work", "--workdir", wd, "--shard", 0, "--flush-rows", 4, "-q") == 5
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and "\n" not in err, err
    assert shard_states(wd, load_plan(wd)) == ["partial"]  # the first batch is kept for the rerun
    worker = TranslateWorker(load_plan(wd))
    texts = [f"caption number {i}" for i in range(8)]
    table = pa.table({"shard": pa.array([0] * 8, pa.uint32()), "key": [t.encode() for t in texts], "source": texts})
    with pytest.raises(BackendError, match=words):
        worker(table)


def test_deepl_shards_use_the_synced_glossary_and_match_a_single_run(tmp_path, monkeypatch, fast_deepl_sdk):  # noqa: F811
    """DeepL with the shipped glossary: plan syncs it and names it in the fingerprint; each shard must build its
    backend the same way (reusing that glossary and sending its id), or its fingerprint lacks the glossary and the
    shard refuses to work."""
    hydrant = {"id": "h1", "image": "h1.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat is next to the fire hydrant?"},
        {"from": "gpt", "value": "A dog sits next to a red fire hydrant on the sidewalk."}]}
    src = captions(tmp_path / "captions.json", 30, extra=[hydrant])
    monkeypatch.setenv("DEEPL_AUTH_KEY", KEY)
    with FakeDeepL(auth_keys={KEY}) as fake:
        common = ["--src", src, "--backend", "deepl", "--opt", f"server_url={fake.url}", "--opt",
                  "retry_backoff=0.01", "-q"]
        wd, out = tmp_path / "work", tmp_path / "sharded"
        assert main("plan", *common, "--out", out, "--workdir", wd, "--shards", 2) == 0
        plan = load_plan(wd)
        assert plan["backend"]["fingerprint"].startswith("deepl/KO/glossary=")
        assert fake.translate_log == [] and len(fake.glossaries) == 1  # plan sends no text; the glossary is there
        (gid,) = fake.glossaries
        worker = TranslateWorker(plan)  # the Ray actor builds its backend the same way
        assert worker.backend.fingerprint() == plan["backend"]["fingerprint"] and worker.backend.glossary_id == gid
        del worker
        shard_backend = open_backend(plan, config_from_plan(plan))
        assert shard_backend.glossary_id == gid
        shard_backend.close()
        for i in range(2):
            assert main("work", "--workdir", wd, "--shard", i, "-q") == 0
        assert shard_states(wd, plan) == ["done", "done"]
        # Every shard request applied the glossary the plan synced; the shards reused it (no new upload).
        assert fake.translate_log and all(r["glossary_id"] == gid for r in fake.translate_log)
        assert list(fake.glossaries) == [gid]
        sent = len(fake.translate_log)
        assert main("assemble", "--workdir", wd, "-q") == 0
        assert len(fake.translate_log) == sent  # assemble sends nothing
        single = tmp_path / "single"
        assert main("run", *common, "--out", single) == 0
    assert outputs(out) == outputs(single)
    kept = outputs(out)["ko_captions.json"].decode()
    assert "소화전" in kept  # the glossary term, applied by the engine
    manifest = load_json(out / "ko_captions.manifest.json")
    assert manifest["backend"]["fingerprint"] == plan["backend"]["fingerprint"]


def test_slurm_helpers():
    assert array_spec([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert array_spec([3]) == "3" and array_spec([]) == ""
    assert array_task_id({"SLURM_ARRAY_TASK_ID": "12"}) == 12 and array_task_id({}) is None
    lines = submit_commands("/scratch/w", 16, throttle=4, plan_job="123")
    assert "--dependency=afterok:123 --array=0-15%4" in lines[0]
    assert "--dependency=afterok:$array" in lines[1] and "assemble --workdir /scratch/w" in lines[1]


def test_plan_never_writes_secrets(tmp_path, blip_excerpt):
    cfg = RunConfig(src=[str(blip_excerpt)], out=str(tmp_path), backend="pseudo",
                    backend_options={"auth_key": "s3cr3t-value", "api_token": "t0k3n", "delay": 0.5})
    saved = json.dumps(config_for_plan(cfg))
    assert "s3cr3t" not in saved and "t0k3n" not in saved and '"delay": 0.5' in saved


# -- docker and Slurm files ---------------------------------------------------------------------------------------

DOCKER = ROOT / "docker"


def _dockerfile_copies(path: Path, upto: str | None = None) -> list[str]:
    """The sources of every COPY/ADD in a Dockerfile (those before the first `upto` text, if given)."""
    sources = []
    text = path.read_text()
    if upto is not None:
        text = text[:text.index(upto)]
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0].upper() in ("COPY", "ADD"):
            args = [a for a in parts[1:] if not a.startswith("--")]
            sources += args[:-1]
    return sources


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_every_path_a_dockerfile_copies_exists(name):
    copies = _dockerfile_copies(DOCKER / name)
    assert copies, "no COPY found"
    # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile: everything is left out but what is copied.
    kept = [line[1:].rstrip("/") for line in (DOCKER / f"{name}.dockerignore").read_text().splitlines()
            if line.startswith("!")]
    for src in copies:
        assert (ROOT / src).exists(), f"{name} copies {src}, which is not in the repository"
        assert src.rstrip("/") in kept, f"{name} copies {src}, which {name}.dockerignore leaves out"


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_a_dockerfile_copies_every_file_pyproject_names_before_installing(name):
    """`pip install .` reads the files pyproject.toml names (the readme, a license file): they must be in the image
    by then."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = []
    for key in ("readme", "license"):
        value = project.get(key)
        if key == "readme" and isinstance(value, str):
            named.append(value)
        elif isinstance(value, dict) and "file" in value:
            named.append(value["file"])
    assert "README.md" in named
    copied = _dockerfile_copies(DOCKER / name, upto="RUN pip install")
    for path in named:
        assert (ROOT / path).is_file() and path in copied, f"{name} does not copy {path} before `pip install`"


def test_sbatch_script_runs_the_shard_of_its_array_task():
    script = DOCKER / "slurm" / "translate-array.sbatch"
    text = script.read_text()
    assert text.startswith("#!/bin/bash") and "#SBATCH" in text
    assert re.search(r'^exec "\$\{cmd\[@\]\}" work --workdir "\$WORK" --shard "\$SLURM_ARRAY_TASK_ID"', text, re.M)
    assert '${TRANSLATE_CMD:-python -m translate}' in text
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0


def _texts(journal: Path) -> int:
    if not journal.exists():
        return 0
    return sum(int(line.split()[0]) for line in journal.read_text().splitlines() if line.strip())

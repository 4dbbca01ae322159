"""The command line as a user runs it: subprocesses, exit codes, config files, and a real kill -9 resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, load_json, run_cli


def test_help_lists_run():
    res = run_cli("--help")
    assert res.returncode == 0 and "run" in res.stdout
    res = run_cli("run", "--help")
    assert res.returncode == 0 and "--src" in res.stdout and "--memory" in res.stdout


def test_run_writes_the_three_outputs(tmp_path, blip_excerpt):
    res = run_cli("run", "--src", blip_excerpt, "--backend", "pseudo", "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ko_blip_excerpt.json", "ko_blip_excerpt.manifest.json", "ko_blip_excerpt.qc.jsonl",
                     "ko_blip_excerpt.rejected.jsonl", "translation_memory.sqlite"]
    assert len(load_json(tmp_path / "ko_blip_excerpt.json")) == 120


def test_target_changes_prefix_and_config_file_supplies_options(tmp_path, blip_excerpt):
    config = tmp_path / "run.toml"
    config.write_text(f'src = ["{blip_excerpt}"]\nbackend = "pseudo"\ntarget = "ja"\nout = "{tmp_path / "o"}"\n'
                      "[backend_options]\nbatch_size = 5\n")
    res = run_cli("run", "--config", config)
    assert res.returncode == 0, res.stderr
    manifest = load_json(tmp_path / "o" / "ja_blip_excerpt.manifest.json")
    assert manifest["languages"]["target"] == "ja"
    assert manifest["backend"]["usage"]["batches"] == 27  # 131 segments in batches of 5
    # A flag overrides the file.
    res = run_cli("run", "--config", config, "--target", "vi")
    assert res.returncode == 0 and (tmp_path / "o" / "vi_blip_excerpt.json").exists()


def test_globs_and_several_files(tmp_path, make_instruct):
    make_instruct(20, "a.json", seed=1)
    make_instruct(20, "b.json", seed=2)
    res = run_cli("run", "--src", str(tmp_path / "*.json"), "--backend", "pseudo", "--out", tmp_path / "o")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "o" / "ko_a.json").exists() and (tmp_path / "o" / "ko_b.json").exists()


def test_truncated_file_is_a_clear_error_with_no_partial_output(tmp_path, blip_excerpt):
    src = tmp_path / "cut.json"
    src.write_bytes(blip_excerpt.read_bytes()[:5000])
    res = run_cli("run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "o")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert str(src) in res.stderr and "byte" in res.stderr
    assert not list((tmp_path / "o").glob("ko_*"))
    assert not list((tmp_path / "o").glob(".ko_*"))


def test_usage_errors_are_clear(tmp_path):
    res = run_cli("run", "--src", tmp_path / "missing.json", "--backend", "pseudo")
    assert res.returncode == 2 and "no such file" in res.stderr and "Traceback" not in res.stderr
    src = tmp_path / "a.json"
    src.write_text("[]")
    res = run_cli("run", "--src", src, "--backend", "nope")
    assert res.returncode == 2 and "unknown backend 'nope'" in res.stderr
    res = run_cli("run", "--src", src, "--backend", "pseudo", "--opt", "novalue")
    assert res.returncode == 2 and "KEY=VALUE" in res.stderr


def _journal_texts(path) -> list[int]:
    if not path.exists():
        return []
    return [int(line.split()[0]) for line in path.read_text().splitlines() if line.strip()]


def test_kill_9_then_rerun_is_byte_identical_and_resends_at_most_one_batch(tmp_path, make_instruct):
    src = make_instruct(400, "instruct.json", seed=3)
    reference = run_cli("run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "ref", "-q")
    assert reference.returncode == 0, reference.stderr

    out, journal, batch = tmp_path / "out", tmp_path / "journal", 16
    args = [sys.executable, "-m", "translate", "run", "--src", str(src), "--backend", "pseudo", "--out", str(out),
            "-q", "--opt", f"batch_size={batch}", "--opt", f"journal={journal}"]
    proc = subprocess.Popen(args + ["--opt", "delay=0.03"], cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while len(_journal_texts(journal)) < 10 and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "ko_instruct.json").exists()  # nothing half-written is visible
    sent_before = sum(_journal_texts(journal))

    rerun = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert (out / "ko_instruct.json").read_bytes() == (tmp_path / "ref" / "ko_instruct.json").read_bytes()
    manifest = load_json(out / "ko_instruct.manifest.json")
    unique = manifest["counts"]["segments_unique"]
    total_sent = sent_before + manifest["counts"]["segments_sent"]
    assert manifest["counts"]["memory_hits"] > 0
    assert unique <= total_sent <= unique + batch  # at most the batch in flight was paid twice


def test_a_glob_skips_earlier_outputs_in_the_same_folder(tmp_path, make_instruct):
    make_instruct(10, "a.json", seed=1)
    first = run_cli("run", "--src", str(tmp_path / "*.json"), "--backend", "pseudo", "-q")
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "ko_a.json").exists()
    again = run_cli("run", "--src", str(tmp_path / "*.json*"), "--backend", "pseudo", "-q")
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "ko_ko_a.json").exists() and not (tmp_path / "ko_ko_a.manifest.json").exists()

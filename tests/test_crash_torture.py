"""kill -9 at seeded random points of real runs, each followed by a rerun; and two processes sharing one memory.

The pseudo backend's journal gets one fsynced line per batch *before* the batch is translated, so it counts what was
sent even by a run that was killed mid-batch. Killing loses at most the batch in flight: per killed run, segments
sent minus segments committed to the memory never exceeds one batch, and the final output is byte-identical to an
uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from robustness_support import (
    ROOT,
    assert_no_traceback,
    child_env,
    ko_files,
    llava_records,
    temporaries,
    translate_cmd,
    write_array,
)

BATCH = 4
DELAY = 0.015
KILLS = 10
SEED = 20240611


def _journal(path: Path) -> list[int]:
    """Texts per journaled batch (a line is only counted once complete)."""
    if not path.exists():
        return []
    text = path.read_text()
    return [int(line.split()[0]) for line in text.split("\n")[:-1] if line.strip()]


def _memory_rows(path: Path) -> dict[bytes, str]:
    """key → translation, read with plain SQLite (it also recovers the WAL of a killed writer)."""
    if not path.exists():
        return {}
    db = sqlite3.connect(path)
    try:
        return dict(db.execute("SELECT key, target FROM segments"))
    finally:
        db.close()


def _integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def _run_args(src: Path, out: Path, memory: Path, journal: Path | None = None, delay: float = 0.0,
              window: int = 60) -> list[str]:
    args = ["run", "--src", src, "--backend", "pseudo", "--out", out, "--memory", memory, "--window", window,
            "--quiet", "--opt", f"batch_size={BATCH}"]
    if journal is not None:
        args += ["--opt", f"journal={journal}"]
    if delay:
        args += ["--opt", f"delay={delay}"]
    return translate_cmd(*args)


def _reference(src: Path, out: Path) -> dict:
    proc = subprocess.run(_run_args(src, out, out / "tm.sqlite"), capture_output=True, text=True,
                          env=child_env(), cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / f"ko_{src.stem}.manifest.json").read_text())["counts"]


def test_ten_kills_then_rerun_is_byte_identical_and_loses_at_most_a_batch_per_kill(tmp_path):
    src = write_array(tmp_path / "instruct.json", llava_records(300, seed=7))
    ref = tmp_path / "ref"
    ref_counts = _reference(src, ref)
    unique = ref_counts["segments_sent"]
    assert unique > KILLS * 4 * BATCH  # enough work left for every kill to land mid-run

    out, memory, journal = tmp_path / "out", tmp_path / "out" / "tm.sqlite", tmp_path / "journal"
    rng = random.Random(SEED)
    kills = 0
    log = []
    while kills < KILLS:
        lines_before = len(_journal(journal))
        committed_before = len(_memory_rows(memory))
        proc = subprocess.Popen(_run_args(src, out, memory, journal, delay=DELAY), cwd=ROOT, env=child_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # A random point: at start-up/planning (no batch yet), or a few batches in, plus part of a batch.
        extra = rng.choice([0, 1, 1, 2, 3, 4])
        if extra == 0:
            time.sleep(rng.uniform(0.05, 0.6))
        else:
            deadline = time.time() + 30
            while len(_journal(journal)) < lines_before + extra and proc.poll() is None and time.time() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 2 * DELAY))
        if proc.poll() is not None:
            pytest.fail(f"run finished before kill {kills + 1}; the work is too small for the kill schedule")
        os.kill(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        assert b"Traceback" not in stderr
        kills += 1

        sent = sum(_journal(journal)[lines_before:])
        rows = _memory_rows(memory)
        committed = len(rows) - committed_before
        log.append((extra, sent, committed))
        assert 0 <= sent - committed <= BATCH, log  # at most the batch in flight is lost
        assert _integrity(memory) == "ok"
        # Whatever ko_* file a killed run left is whole (atomic rename): identical to the reference, or absent.
        for name in ko_files(out):
            if name.endswith(".manifest.json"):
                json.loads((out / name).read_text())
            else:
                assert (out / name).read_bytes() == (ref / name).read_bytes(), name

    final = subprocess.run(_run_args(src, out, memory, journal), cwd=ROOT, env=child_env(), capture_output=True,
                           text=True, timeout=120)
    assert_no_traceback(final)
    assert final.returncode == 0, final.stderr
    for name in ("ko_instruct.json", "ko_instruct.rejected.jsonl"):
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    assert temporaries(out) == []
    counts = json.loads((out / "ko_instruct.manifest.json").read_text())["counts"]
    assert counts["records_in"] == counts["records_kept"] + counts["records_rejected"] == 300

    total_sent = sum(_journal(journal))
    assert len(_memory_rows(memory)) == unique
    assert unique <= total_sent <= unique + KILLS * BATCH, log
    assert _integrity(memory) == "ok"
    assert _memory_rows(memory) == _memory_rows(ref / "tm.sqlite")


def _concurrent(jobs: list[list[str]]) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(args, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for args in jobs]
    done = []
    for args, proc in zip(jobs, procs):
        stdout, stderr = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return done


@pytest.mark.parametrize("overlap", ["different files", "the same records"])
def test_two_processes_sharing_one_memory_file(tmp_path, overlap):
    a = write_array(tmp_path / "a.json", llava_records(120, seed=1, prefix="a"))
    if overlap == "different files":
        b = write_array(tmp_path / "b.json", llava_records(120, seed=2, prefix="b"))
    else:  # half of a's records again, in another order, plus new ones: the two runs race on the same segments
        recs = llava_records(120, seed=1, prefix="a")[::2][::-1] + llava_records(60, seed=3, prefix="c")
        b = write_array(tmp_path / "b.json", recs)
    ref_a, ref_b = tmp_path / "ref_a", tmp_path / "ref_b"
    _reference(a, ref_a)
    _reference(b, ref_b)

    shared = tmp_path / "shared.sqlite"
    runs = _concurrent([_run_args(a, tmp_path / "out_a", shared, tmp_path / "ja", delay=0.01),
                        _run_args(b, tmp_path / "out_b", shared, tmp_path / "jb", delay=0.01)])
    for proc in runs:
        assert_no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ja").exists() and (tmp_path / "jb").exists()  # both really translated, side by side

    assert _integrity(shared) == "ok"
    assert (tmp_path / "out_a" / "ko_a.json").read_bytes() == (ref_a / "ko_a.json").read_bytes()
    assert (tmp_path / "out_b" / "ko_b.json").read_bytes() == (ref_b / "ko_b.json").read_bytes()
    expected = {**_memory_rows(ref_a / "tm.sqlite"), **_memory_rows(ref_b / "tm.sqlite")}
    assert _memory_rows(shared) == expected
    # A third run over both, from the shared memory alone, sends nothing.
    again = subprocess.run(_run_args(a, tmp_path / "again", shared, tmp_path / "jc"), cwd=ROOT, env=child_env(),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "jc").exists()


def test_ctrl_c_stops_cleanly_and_the_rerun_matches(tmp_path):
    """SIGINT (Ctrl-C) mid-run: exit 130 with a message saying how to resume, no traceback, no ko_* file or
    temporary left; the rerun gives the uninterrupted bytes."""
    src = write_array(tmp_path / "instruct.json", llava_records(200, seed=12))
    ref = tmp_path / "ref"
    _reference(src, ref)
    out, memory, journal = tmp_path / "out", tmp_path / "tm.sqlite", tmp_path / "journal"
    proc = subprocess.Popen(_run_args(src, out, memory, journal, delay=DELAY), cwd=ROOT, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while len(_journal(journal)) < 5 and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert "Traceback" not in stdout + stderr
    assert proc.returncode == 130, stderr
    assert "rerun" in stderr
    assert ko_files(out) == [] and temporaries(out) == []
    final = subprocess.run(_run_args(src, out, memory, journal), cwd=ROOT, env=child_env(), capture_output=True,
                           text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert (out / "ko_instruct.json").read_bytes() == (ref / "ko_instruct.json").read_bytes()
    assert sum(_journal(journal)) <= json.loads((ref / "ko_instruct.manifest.json").read_text())["counts"][
        "segments_sent"] + BATCH

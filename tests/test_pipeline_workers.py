"""pipeline/workers.py and pipeline/window_stages.py: prepare and assemble in worker processes give the same bytes
and counters as one process, whatever the windows, the policy or the engine's speed; a dead worker, Ctrl-C and a
killed caller leave no process and no partial output behind."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import synthetic
from conftest import ROOT, run_main

from translate.backends.pseudo import PseudoBackend
from translate.errors import InputFileError, OutputError, TranslateError
from translate.formats.writers import NonFiniteNumberError
from translate.memory import TranslationMemory
from translate.pipeline import Pipeline, RunOptions
from translate.pipeline.workers import AUTO_MAX_WORKERS, AUTO_MIN_BYTES, WorkerError, portable, resolve_workers


def _mixed_file(path: Path, n: int = 300) -> Path:
    """Instruct-like records with every kind of trouble: a record that is not an object, one without turns, one with
    <image> in an answer, an answer the quality checks reject (it comes back in Chinese), duplicate ids, unknown
    keys."""
    records = list(synthetic.records(n, seed=3))
    records[5] = "not a record"
    records[17] = {"id": "no-turns", "image": "a.jpg"}
    records[40]["conversations"][1]["value"] += " <image>"
    records[41]["id"] = records[40]["id"]
    records[42]["extra"] = {"kept": [1, 2.5, None]}
    records[60]["conversations"][1]["value"] = "这是一个测试句子，内容很长，没有一个英文单词。"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def _jsonl_file(path: Path, n: int = 120) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i, rec in enumerate(synthetic.records(n, seed=4)):
            fh.write(json.dumps(rec) + "\n")
            if i == 11:
                fh.write('{"id": "broken", "conversations": [\n')
    return path


def _run(src: Path, out: Path, workers: int, **options) -> dict:
    backend = PseudoBackend("en", "ko", **options.pop("backend", {}))
    with TranslationMemory(out / "tm.sqlite") as memory:
        pipeline = Pipeline(backend, memory, RunOptions(workers=workers, **options))
        stats = pipeline.run_file(src, out)
    return stats.as_dict()


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.name.startswith("ko_") and ".manifest." not in p.name}


@pytest.mark.parametrize("on_reject", ["drop", "keep", "keep-source"])
def test_workers_write_the_same_bytes_and_counts_as_one_process(tmp_path, on_reject):
    src = _mixed_file(tmp_path / "mixed.json")
    one, many = tmp_path / "one", tmp_path / "many"
    counts_one = _run(src, one, 0, window=16, on_reject=on_reject)
    counts_many = _run(src, many, 3, window=16, on_reject=on_reject)
    assert _outputs(many) == _outputs(one)
    assert set(_outputs(one)) == {"ko_mixed.json", "ko_mixed.rejected.jsonl", "ko_mixed.qc.jsonl"}
    assert counts_many == counts_one
    assert counts_one["records_in"] == 300 and counts_one["records_invalid"] == 3
    assert counts_one["duplicate_ids"] == 1
    assert set(counts_one["reasons"]) - {"image_in_gpt_turn", "missing_field", "not_an_object"}  # and a QC reason
    with TranslationMemory(one / "tm.sqlite") as a, TranslationMemory(many / "tm.sqlite") as b:
        assert [r[:3] for r in a.rows()] == [r[:3] for r in b.rows()]


def test_workers_with_a_slow_engine_and_jsonl_give_the_same_bytes(tmp_path):
    """The engine thread translating while workers prepare and assemble: timing must not reach the output."""
    src = _jsonl_file(tmp_path / "lines.jsonl")
    one, many = tmp_path / "one", tmp_path / "many"
    slow = {"delay": 0.01, "batch_size": 40}
    counts_one = _run(src, one, 0, window=8, backend=dict(slow))
    counts_many = _run(src, many, 2, window=8, backend=dict(slow))
    assert _outputs(many) == _outputs(one)
    assert counts_many == counts_one and counts_one["records_invalid"] == 1


def test_a_second_run_with_workers_finds_everything_in_the_memory(tmp_path):
    src = _mixed_file(tmp_path / "mixed.json", 100)
    first = _run(src, tmp_path / "out", 2, window=10)
    written = _outputs(tmp_path / "out")
    again = _run(src, tmp_path / "out", 2, window=10)
    assert first["segments_sent"] > 0 and again["segments_sent"] == again["characters_sent"] == 0
    assert again["memory_hits"] > first["memory_hits"]
    assert _outputs(tmp_path / "out") == written


def test_a_killed_worker_stops_the_run_with_a_clear_error_and_no_output(tmp_path):
    src = _mixed_file(tmp_path / "mixed.json")
    out = tmp_path / "out"
    killed = []

    def kill_a_worker(bytes_read, stats):
        if not killed:
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.name)

    with TranslationMemory(out / "tm.sqlite") as memory:
        pipeline = Pipeline(PseudoBackend("en", "ko"), memory, RunOptions(window=8, workers=2))
        with pytest.raises(WorkerError, match=r"translate-worker-\d was killed by signal 9 while the run waited"):
            pipeline.run_file(src, out, progress=kill_a_worker)
        assert len(memory) > 0  # what was translated is kept for the rerun
    assert killed
    assert not list(out.glob("ko_*"))
    assert not list(out.glob(".ko_*.tmp"))
    assert multiprocessing.active_children() == []


def test_a_dead_worker_stops_the_run_even_while_another_worker_owes_the_awaited_window(tmp_path):
    # A worker killed while writing to the shared result queue can tear it, so the other workers' results stop
    # coming. Modelled here by stopping worker 0 (which owes the even windows) and killing worker 1: the run must
    # name the dead worker instead of waiting for worker 0 for ever.
    src = _mixed_file(tmp_path / "mixed.json", n=600)
    out = tmp_path / "out"
    stopped: list[multiprocessing.Process] = []

    def stop_one_kill_the_other(bytes_read, stats):
        if not stopped:
            by_name = {proc.name: proc for proc in multiprocessing.active_children()}
            stopped.append(by_name["translate-worker-0"])
            os.kill(by_name["translate-worker-0"].pid, signal.SIGSTOP)
            os.kill(by_name["translate-worker-1"].pid, signal.SIGKILL)

    # Should the run wait for the stopped worker after all, this kills it after a while, so the test fails (on the
    # message, which then names worker 0) instead of hanging.
    watchdog = threading.Timer(60.0, lambda: stopped and os.kill(stopped[0].pid, signal.SIGKILL))
    watchdog.start()
    try:
        with TranslationMemory(out / "tm.sqlite") as memory:
            pipeline = Pipeline(PseudoBackend("en", "ko"), memory, RunOptions(window=8, workers=2))
            with pytest.raises(WorkerError, match=r"translate-worker-1 was killed by signal 9 while the run waited"):
                pipeline.run_file(src, out, progress=stop_one_kill_the_other)
    finally:
        watchdog.cancel()
    assert stopped
    assert not list(out.glob("ko_*"))
    assert multiprocessing.active_children() == []  # the stopped worker was killed by close(), not left behind


def test_ctrl_c_stops_the_workers_and_discards_the_outputs(tmp_path):
    src = _mixed_file(tmp_path / "mixed.json")
    out = tmp_path / "out"

    def interrupt(bytes_read, stats):
        if stats.records_in >= 16:
            raise KeyboardInterrupt

    with TranslationMemory(out / "tm.sqlite") as memory:
        pipeline = Pipeline(PseudoBackend("en", "ko"), memory, RunOptions(window=8, workers=2))
        with pytest.raises(KeyboardInterrupt):
            pipeline.run_file(src, out, progress=interrupt)
    assert multiprocessing.active_children() == []
    assert not list(out.glob("ko_*"))


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")
def test_workers_exit_by_themselves_when_the_caller_is_killed(tmp_path):
    src = _mixed_file(tmp_path / "mixed.json", 400)
    proc = subprocess.Popen([sys.executable, "-m", "translate", "run", "--src", str(src), "--backend", "pseudo",
                             "--opt", "delay=0.05", "--opt", "batch_size=20", "--window", "8", "--workers", "2",
                             "--out", str(tmp_path / "out"), "-q"], cwd=ROOT)
    try:
        deadline = time.time() + 60
        workers: list[int] = []
        while time.time() < deadline and len(workers) < 2:
            # spawn starts a resource tracker too; the workers are the children that run `multiprocessing.spawn`
            workers = [c for c in _children(proc.pid)
                       if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
            time.sleep(0.1)
        assert len(workers) == 2, "the run never started its workers"
        proc.kill()
        proc.wait(10)
        deadline = time.time() + 15
        while time.time() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(_alive(w) for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_script_without_a_main_guard_can_use_workers(tmp_path):
    """`spawn` would run an unguarded script again in every worker (and each would start workers of its own)."""
    src = _mixed_file(tmp_path / "mixed.json", 80)
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        from translate.backends.pseudo import PseudoBackend
        from translate.memory import TranslationMemory
        from translate.pipeline import Pipeline, RunOptions
        print("script body ran")
        with TranslationMemory({str(tmp_path / 'tm.sqlite')!r}) as memory:
            stats = Pipeline(PseudoBackend("en", "ko"), memory, RunOptions(window=8, workers=2)).run_file(
                {str(src)!r}, {str(tmp_path / 'out')!r})
        print("records", stats.records_in)
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["script body ran", "records 80"]


def test_errors_cross_the_process_boundary_with_their_class_and_message():
    nan = NonFiniteNumberError({"score": float("nan")}, ValueError("Out of range float values"))
    crossed = pickle.loads(pickle.dumps(portable(nan)))
    assert type(crossed) is OutputError and str(crossed) == str(nan) and "score" in str(crossed)
    bad = InputFileError("a.json", "not JSON", offset=7)
    crossed = pickle.loads(pickle.dumps(portable(bad)))
    assert isinstance(crossed, TranslateError) and str(crossed) == "a.json at byte 7: not JSON"
    plain = ValueError("x")
    assert portable(plain) is plain

    class Odd(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a}{b}")

    assert str(portable(Odd(1, 2))) == "Odd: 12"


def test_how_many_workers_a_file_gets(monkeypatch):
    monkeypatch.setattr("translate.pipeline.workers.available_cores", lambda: 2)
    assert resolve_workers(3, 10) == 3  # asked for: given, whatever the size
    assert resolve_workers(0, None) == 0
    assert resolve_workers(None, AUTO_MIN_BYTES - 1) == 0  # a small file: starting workers costs more
    assert resolve_workers(None, AUTO_MIN_BYTES) == 2
    assert resolve_workers(None, None) == 2  # a stream of unknown size
    monkeypatch.setattr("translate.pipeline.workers.available_cores", lambda: 64)
    assert resolve_workers(None, None) == AUTO_MAX_WORKERS


def test_an_llm_backend_keeps_prepare_and_assemble_in_the_caller(tmp_path, caplog):
    class RecordBackend(PseudoBackend):
        name = "records"
        capabilities = PseudoBackend.capabilities.__class__(record_context=True)

    with TranslationMemory(tmp_path / "tm.sqlite") as memory:
        pipeline = Pipeline(RecordBackend("en", "ko"), memory, RunOptions(workers=2))
        with caplog.at_level("INFO"):
            assert pipeline.worker_count(10**9) == 0
        assert "--workers 2 not used: records translates records" in caplog.text
        plain = Pipeline(PseudoBackend("en", "ko"), memory, RunOptions(workers=2))
        assert plain.worker_count(10) == 2


def test_the_command_line_takes_workers_and_refuses_a_negative_count(tmp_path, capsys):
    src = _mixed_file(tmp_path / "mixed.json", 80)
    code, _, _ = run_main(["run", "--src", str(src), "--backend", "pseudo", "--out", str(tmp_path / "a"), "-q",
                           "--workers", "2", "--window", "8"], capsys)
    assert code == 0
    code, _, _ = run_main(["run", "--src", str(src), "--backend", "pseudo", "--out", str(tmp_path / "b"), "-q",
                           "--workers", "0", "--window", "8"], capsys)
    assert code == 0
    assert _outputs(tmp_path / "a") == _outputs(tmp_path / "b")
    manifest = json.loads((tmp_path / "a" / "ko_mixed.manifest.json").read_text())
    assert "workers" not in manifest["options"]  # it never shapes the output
    code, _, err = run_main(["run", "--src", str(src), "--backend", "pseudo", "--out", str(tmp_path / "c"), "-q",
                             "--workers", "-1"], capsys)
    assert code == 2 and "workers must be a whole number of at least 0" in err
    config = tmp_path / "run.toml"
    config.write_text('workers = "many"\n', encoding="utf-8")
    code, _, err = run_main(["run", "--src", str(src), "--backend", "pseudo", "--out", str(tmp_path / "d"), "-q",
                             "--config", str(config)], capsys)
    assert code == 2 and "workers must be a whole number of at least 0" in err


def test_cluster_assemble_with_workers_matches_a_single_run(tmp_path, capsys):
    src = _mixed_file(tmp_path / "mixed.json", 200)
    single, sharded, wd = tmp_path / "single", tmp_path / "sharded", tmp_path / "work"
    base = ["--backend", "pseudo", "--src", str(src), "-q", "--window", "8"]
    assert run_main(["run", "--out", str(single), *base], capsys)[0] == 0
    assert run_main(["plan", "--out", str(sharded), "--workdir", str(wd), "--shards", "2", *base], capsys)[0] == 0
    for shard in range(2):
        assert run_main(["work", "--workdir", str(wd), "--shard", str(shard), "-q"], capsys)[0] == 0
    assert run_main(["assemble", "--workdir", str(wd), "--workers", "2", "-q"], capsys)[0] == 0
    assert _outputs(sharded) == _outputs(single)
    assert "workers" not in json.loads((wd / "plan.json").read_text())["config"]

"""Observable runs with bounded logs: retries and waits logged (stderr and --log-file), a progress line every N seconds
when stderr is not a terminal, progress per backend batch counting segments *sent*, a size cap on each record in the
rejected file, a QC log that can be switched off, --records-key, and a file where no record validates."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest

import translate.backends.base as backends_base
from conftest import load_json, read_jsonl, run_main
from robustness_support import ROOT, child_env, llava_records, run_translate, write_array
from translate.backends.pseudo import PseudoBackend
from translate.config import RunConfig
from translate.pipeline import REJECTED_RECORD_CAP
from translate.retry import Backoff
from translate.runtime import open_job, run_files


class ThrottledBackend(PseudoBackend):
    """The pseudo backend behind a rate limit that answers 429 once per batch: it waits through `translate.retry`
    exactly as the DeepL and Google backends do (the wait is logged there)."""

    name = "throttled"

    def __init__(self, source_lang, target_lang, batch_size: int = 256):
        super().__init__(source_lang, target_lang, batch_size=batch_size)
        self.backoff = Backoff(base=0.001, cap=0.001)

    def translate(self, texts):
        self.backoff.sleep(0, backend=self.name, reason="429 Too Many Requests", retry_after=None)
        return super().translate(texts)


@pytest.fixture
def throttled(monkeypatch):
    builtins = dict(backends_base.BUILTIN_BACKENDS)
    monkeypatch.setattr(backends_base, "available_backends",
                        lambda: {**builtins, "throttled": f"{__name__}:ThrottledBackend"})


def test_retries_are_logged_on_stderr_and_in_the_log_file(tmp_path, capsys, throttled):
    src = write_array(tmp_path / "a.json", llava_records(20))
    log_file = tmp_path / "logs" / "run.log"
    code, _, err = run_main(["run", "--src", src, "--backend", "throttled", "--out", tmp_path / "o", "-q",
                             "--opt", "batch_size=8", "--log-file", log_file], capsys)
    assert code == 0, err
    waits = [line for line in err.splitlines() if "throttled: 429 Too Many Requests; retry 1 in" in line]
    # 24 segments in batches of 8; not a terminal, so each line carries its time
    assert len(waits) == 3 and all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d warning: ", line) for line in waits)
    logged = log_file.read_text().splitlines()
    assert sum("WARNING translate.retry: throttled: 429 Too Many Requests; retry 1 in" in line for line in logged) == 3
    # --log-level ERROR silences them on both.
    code, _, err = run_main(["run", "--src", src, "--backend", "throttled", "--out", tmp_path / "o2", "-q",
                             "--log-level", "error", "--log-file", tmp_path / "quiet.log"], capsys)
    assert code == 0 and "429" not in err and "429" not in (tmp_path / "quiet.log").read_text()


def test_the_reason_a_run_stopped_goes_to_the_log_file(tmp_path, capsys):
    src = write_array(tmp_path / "a.json", llava_records(20))
    log_file = tmp_path / "run.log"
    code, _, err = run_main(["run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "o", "-q",
                             "--opt", "batch_size=4", "--opt", "fail_after_batches=2", "--log-file", log_file], capsys)
    assert code == 5 and err.count("injected failure") == 1  # printed once, as the error line
    assert "ERROR translate.cli: stopped with exit code 5: pseudo backend: injected failure" in log_file.read_text()


def test_a_log_that_is_not_a_terminal_gets_a_progress_line_every_n_seconds(tmp_path):
    src = write_array(tmp_path / "a.json", llava_records(60))
    proc = run_translate("run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "o", "--window", "20",
                         "--opt", "batch_size=5", "--opt", "delay=0.05", "--progress-every", "0.2",
                         env=child_env())
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if " progress: a.json" in line]
    assert len(lines) >= 3, proc.stderr
    for line in lines:
        assert "segments sent ·" in line and "sent/s ·" in line and "ETA" in line
    assert any("records" in line for line in lines)
    sent = [int(line.split(" segments sent")[0].rsplit("· ", 1)[1].replace(",", "")) for line in lines]
    assert sent == sorted(sent) and sent[-1] > 0
    # --quiet: no progress lines at all
    quiet = run_translate("run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "q", "-q",
                          "--opt", "delay=0.02", "--opt", "batch_size=5", "--progress-every", "0.1", env=child_env())
    assert quiet.returncode == 0 and "progress:" not in quiet.stderr


class Recorder:
    def __init__(self):
        self.advances: list[tuple[int, int, int]] = []

    def start(self, total_bytes):
        self.total = total_bytes

    def file_started(self, path):
        pass

    def advance(self, done_bytes, records, segments):
        self.advances.append((done_bytes, records, segments))

    def file_done(self, path, out_dir, stats):
        pass


def test_progress_moves_per_backend_batch_and_counts_segments_sent_not_memory_hits(tmp_path):
    src = write_array(tmp_path / "a.json", llava_records(40))
    cfg = RunConfig(src=[str(src)], out=str(tmp_path / "o"), backend="pseudo", window=1000,
                    backend_options={"batch_size": 4})
    first = Recorder()
    with open_job(cfg) as job:
        totals = run_files(job, cfg.sources(), first)
    # One window, 44 segments (4 prompts, 40 answers) in batches of 4: eleven updates from inside the window, then
    # the window's, then the file's.
    assert totals.segments_sent == 44
    inside = first.advances[:-2]
    assert len(inside) == 11
    assert [a[2] for a in inside] == [4 * i for i in range(1, 12)]
    assert [a[0] for a in inside] == sorted(a[0] for a in inside) and 0 < inside[0][0] < inside[-1][0] <= first.total
    assert first.advances[-1] == (first.total, 40, 44)
    # The same run again: everything comes from the memory, nothing is sent, and the rate has nothing to count.
    cfg.out = str(tmp_path / "o2")
    cfg.memory = str(tmp_path / "o" / "translation_memory.sqlite")
    again = Recorder()
    with open_job(cfg) as job:
        totals = run_files(job, cfg.sources(), again)
    assert totals.memory_hits == 44 and {a[2] for a in again.advances} == {0}


def test_the_rejected_file_keeps_each_record_up_to_a_size_cap(tmp_path, capsys):
    small = {"id": "small", "conversations": [{"from": "gpt", "value": "no human turn first"}]}
    big = {"id": "big", "blob": "x" * (REJECTED_RECORD_CAP + 10), "conversations": "not a list"}
    src = write_array(tmp_path / "a.json", llava_records(1) + [small, big])
    code, _, err = run_main(["run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "o", "-q"], capsys)
    assert code == 0, err
    rejected = {row["id"]: row for row in read_jsonl(tmp_path / "o" / "ko_a.rejected.jsonl")}
    assert rejected["small"]["source"] == small
    marker = rejected["big"]["source"]
    data = json.dumps(big, ensure_ascii=False, separators=(",", ":")).encode()
    assert marker["truncated"] is True and marker["bytes"] == len(data)
    assert marker["sha256"] == hashlib.sha256(data).hexdigest()
    assert rejected["big"]["index"] == 2 and rejected["big"]["reasons"][0]["code"] == "bad_conversations"
    assert (tmp_path / "o" / "ko_a.rejected.jsonl").stat().st_size < 4096


def test_the_qc_log_can_be_switched_off_and_a_stale_one_goes(tmp_path, capsys):
    src = write_array(tmp_path / "a.json", llava_records(5))
    out = tmp_path / "o"
    assert run_main(["run", "--src", src, "--backend", "pseudo", "--out", out, "-q"], capsys)[0] == 0
    assert (out / "ko_a.qc.jsonl").exists()
    with_log = (out / "ko_a.json").read_bytes()
    code, _, err = run_main(["run", "--src", src, "--backend", "pseudo", "--out", out, "-q", "--no-qc-log"], capsys)
    assert code == 0, err
    assert not (out / "ko_a.qc.jsonl").exists()  # it described the earlier run's outputs
    assert (out / "ko_a.json").read_bytes() == with_log
    manifest = load_json(out / "ko_a.manifest.json")
    assert "qc_log" not in manifest["outputs"] and manifest["options"]["qc_log"] is False
    # The same from a config file.
    config = tmp_path / "run.toml"
    config.write_text("qc_log = false\n")
    code, _, err = run_main(["run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "c", "-q",
                             "--config", config], capsys)
    assert code == 0 and not (tmp_path / "c" / "ko_a.qc.jsonl").exists()


def test_records_key_reads_the_list_of_a_top_level_object(tmp_path, capsys):
    src = tmp_path / "wrapped.json"
    src.write_text(json.dumps({"version": 2, "data": llava_records(3)}))
    code, _, err = run_main(["run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "o", "-q"], capsys)
    assert code == 2 and "--records-key data" in err and not (tmp_path / "o" / "ko_wrapped.json").exists()
    code, _, err = run_main(["run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "o", "-q",
                             "--records-key", "data"], capsys)
    assert code == 0, err
    assert [r["id"] for r in load_json(tmp_path / "o" / "ko_wrapped.json")] == ["r00000", "r00001", "r00002"]
    assert load_json(tmp_path / "o" / "ko_wrapped.manifest.json")["options"]["records_key"] == "data"


def test_a_file_where_no_record_validates_is_exit_2_with_the_schema_stated(tmp_path, capsys):
    records = [{"id": str(i), "images": [f"{i}.jpg"], "messages": [{"role": "user", "content": "<image>Hi"},
                                                                    {"role": "assistant", "content": "Hello"}]}
               for i in range(1000)]
    src = write_array(tmp_path / "chat.json", records)
    out = tmp_path / "o"
    code, _, err = run_main(["run", "--src", src, "--backend", "pseudo", "--out", out, "-q"], capsys)
    assert code == 2, err
    flat = " ".join(err.split())
    assert f"{src}: no record can be translated: 0 of 1,000 records have `conversations`" in flat
    assert "`messages` (1,000)" in flat and "OpenAI/ShareGPT" in flat
    assert not list(out.glob("ko_*")) and not list(out.glob(".ko_*"))
    # One good record among them is an ordinary run: the others are quarantined with their reasons.
    write_array(src, records + llava_records(1))
    code, _, err = run_main(["run", "--src", src, "--backend", "pseudo", "--out", out, "-q"], capsys)
    assert code == 0, err
    assert len(load_json(out / "ko_chat.json")) == 1 and len(read_jsonl(out / "ko_chat.rejected.jsonl")) == 1000


def test_the_slurm_script_logs_progress_lines_without_quiet(tmp_path):
    src = write_array(tmp_path / "a.json", llava_records(60))
    plan = run_translate("plan", "--src", src, "--backend", "pseudo", "--out", tmp_path / "out", "--shards", "1",
                         "--workdir", tmp_path / "w", "-q", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    script = ROOT / "docker" / "slurm" / "translate-array.sbatch"
    assert "--quiet" not in script.read_text().split("set -euo pipefail")[1]
    env = child_env(SLURM_ARRAY_TASK_ID="0", TRANSLATE_CMD=f"{sys.executable} -m translate",
                    TRANSLATE_OPTS="--opt delay=0.06 --opt batch_size=5", TRANSLATE_PROGRESS_EVERY="0.2")
    proc = subprocess.run(["bash", str(script), str(tmp_path / "w")], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    both = proc.stdout + proc.stderr
    lines = [line for line in both.splitlines() if " progress: shard 0 " in line]
    assert len(lines) >= 2, both
    assert all("segments sent ·" in line and "sent/s ·" in line and "ETA" in line for line in lines)
    assert "✓ shard 0: 64 segments" in both

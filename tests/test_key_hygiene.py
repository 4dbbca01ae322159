"""A known fake DeepL key, used against the local DeepL server by every command that can reach a backend, must
appear in no artifact: outputs, rejected files, QC logs, manifests, cluster work folders, the SQLite memory (with
its WAL), and everything printed on stdout and stderr, including the error messages of refused, exhausted and
misconfigured runs."""

from __future__ import annotations

import json
import subprocess

import pytest

from fakes import FakeDeepL
from robustness_support import ROOT, assert_no_traceback, child_env, llava_records, translate_cmd, write_array

KEY = "7f3c9a1e-robustness-5b2d-secret-88e0c4a1:fx"
# Pieces that would betray a partly printed or transformed key.
NEEDLES = [KEY, KEY.split(":")[0], "robustness-5b2d-secret", KEY.encode().hex()[:24]]


def _run(*args, key: str = KEY, expect: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run(translate_cmd(*args), capture_output=True, text=True, env=child_env(DEEPL_AUTH_KEY=key),
                          cwd=ROOT, timeout=180)
    assert_no_traceback(proc)
    assert proc.returncode == expect, (args, proc.stdout, proc.stderr)
    return proc


def _leaks(data: bytes) -> list[str]:
    found = []
    for needle in NEEDLES:
        for form in (needle.encode("utf-8"), needle.encode("utf-16-le")):
            if form in data:
                found.append(needle)
    return found


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """Every command run with the key; returns (the folder holding every file they wrote, their captured output,
    the fake server)."""
    base = tmp_path_factory.mktemp("keys")
    records = llava_records(40, seed=5)
    records[3]["conversations"][0]["from"] = "user"  # one rejected record, so the rejected file has content
    src = write_array(base / "data.json", records)
    logs: list[str] = []
    with FakeDeepL(auth_keys={KEY}) as fake:
        url = fake.url
        deepl = ["--backend", "deepl", "--opt", f"server_url={url}", "--opt", "retry_backoff=0.01"]

        def record(proc):
            logs.extend([proc.stdout, proc.stderr])

        out = base / "out"
        record(_run("run", "--src", src, "--out", out, *deepl))  # progress off: not a terminal
        record(_run("run", "--src", src, "--out", out, "--on-reject", "keep", "--backend", "deepl",
                    "--deepl-server-url", url))  # from memory, the flag spelling, the rejected kept
        record(_run("estimate", "--src", src, "--out", out, "--json", *deepl))

        # The cluster plan writes the run's configuration and the work units down.
        record(_run("plan", "--src", src, "--out", base / "cluster_out", "--workdir", base / "work", "--shards", 2,
                    *deepl))
        # The shards translate with the key (results, done markers), assemble writes outputs from them.
        for shard in (0, 1):
            record(_run("work", "--workdir", base / "work", "--shard", shard))
        record(_run("assemble", "--workdir", base / "work"))

        # Refused, exhausted and misconfigured runs print messages; none may carry the key.
        fake.auth_keys = {"another-key:fx"}
        record(_run("run", "--src", src, "--out", base / "refused", *deepl, expect=4))
        fake.auth_keys = {KEY}
        fake.quota_characters = fake.billed_characters + 200
        fresh = write_array(base / "fresh.json", llava_records(40, seed=6))
        record(_run("run", "--src", fresh, "--out", base / "quota", *deepl, expect=3))
        fake.quota_characters = None
        record(_run("run", "--src", src, "--out", base / "opt", *deepl, "--opt", f"auth_key={KEY}", expect=2))
        config = base / "config.toml"
        config.write_text(f'backend = "deepl"\n[backend_options]\nauth_key = "{KEY}"\n', encoding="utf-8")
        record(_run("run", "--src", src, "--out", base / "cfg", "--config", config, expect=2))
        config.unlink()  # the user's own file: not an artifact of ours
        billed = fake.billed_characters
    return base, logs, billed


def test_the_key_was_really_used(artifacts):
    base, logs, billed = artifacts
    assert billed > 0  # the fake only answers requests carrying the key
    manifest = json.loads((base / "out" / "ko_data.manifest.json").read_text())
    assert manifest["backend"]["name"] == "deepl" and manifest["counts"]["records_rejected"] == 1
    assert any("403" in log or "refused" in log for log in logs)
    assert any("456" in log or "quota" in log.lower() for log in logs)


def test_no_file_written_by_any_command_holds_the_key(artifacts):
    base, _, _ = artifacts
    files = [p for p in base.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    # The artifacts are really there: outputs, rejected, manifests, the memory with its WAL, cluster results.
    assert {"ko_data.json", "ko_data.rejected.jsonl", "ko_data.manifest.json", "translation_memory.sqlite"} <= names
    assert any(p.suffix == ".parquet" for p in files) and "plan.json" in names
    assert {"done.json", "part-000000"} <= names | {p.name[:11] for p in files}
    assert (base / "cluster_out" / "ko_data.manifest.json").is_file()
    leaks = {str(p.relative_to(base)): _leaks(p.read_bytes()) for p in files}
    assert {k: v for k, v in leaks.items() if v} == {}


def test_nothing_printed_holds_the_key(artifacts):
    _, logs, _ = artifacts
    assert len(logs) >= 14
    for text in logs:
        assert _leaks(text.encode("utf-8")) == [], text

"""Backend faults, end to end: DeepL and Google through their local servers, and a failing local engine (an
NLLB-like plug-in registered through the real entry-point group, and pseudo's fault option).

Every run either completes with the same bytes as a run that met no fault, or stops with its own exit code (3 quota,
4 refused key, 5 backend) and a one-line message, leaving no ko_* file; the rerun then completes with the same bytes
and pays for nothing twice. An echoed source is never accepted as a translation.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from fakes import FakeDeepL, FakeGoogleTranslate
from remote_support import KEY, TRICKY, fast_deepl_sdk, run_main  # noqa: F401  (fast_deepl_sdk is a fixture)
from robustness_support import (
    ROOT,
    assert_no_traceback,
    child_env,
    ko_files,
    llava_records,
    read_jsonl,
    temporaries,
    translate_cmd,
    write_array,
)
from translate.memory import TranslationMemory

ECHO = "Please repeat this sentence exactly as it is written."


def _source(tmp_path: Path, n: int = 24, echo: bool = False) -> Path:
    records = llava_records(n, seed=9) + TRICKY
    if echo:
        records.append({"id": "echo", "image": "echo.jpg", "conversations": [
            {"from": "human", "value": "<image>\nWhat does the sign say?"}, {"from": "gpt", "value": ECHO}]})
    return write_array(tmp_path / "data.json", records)


def _output(out: Path) -> bytes:
    return (out / "ko_data.json").read_bytes()


def _counts(out: Path) -> dict:
    return json.loads((out / "ko_data.manifest.json").read_text())["counts"]


def _assert_stopped(code: int, err: str, out: Path, expected: int, *words: str) -> None:
    assert code == expected, err
    # stderr also carries the log (retries, waits, glossary syncs); the error itself is one line of its own.
    errors = [line for line in err.strip().splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    message = errors[0]
    for word in words:
        assert word in message.lower(), message
    assert ko_files(out) == [] and temporaries(out) == []


# -- DeepL -------------------------------------------------------------------------------------------------------

class EchoingDeepL(FakeDeepL):
    """A DeepL server that gives some texts back untranslated (as an engine does with text it takes for the target
    language)."""

    def _render(self, text, tag_handling, ignore, terms):
        if ECHO in text:
            return text
        return super()._render(text, tag_handling, ignore, terms)


@pytest.fixture
def deepl_key(monkeypatch, fast_deepl_sdk):  # noqa: F811
    monkeypatch.setenv("DEEPL_AUTH_KEY", KEY)


def _deepl(src: Path, out: Path, fake: FakeDeepL, capsys, *extra: str) -> tuple[int, str, str]:
    return run_main(["run", "--src", src, "--backend", "deepl", "--out", out, "--opt", f"server_url={fake.url}",
                     "--opt", "retry_backoff=0.01", "--opt", "retry_max_backoff=0.05", "-q", *extra], capsys)


@pytest.fixture
def deepl_reference(tmp_path, deepl_key, capsys):
    """(source, output bytes, billed characters) of a run that met no fault."""
    src = _source(tmp_path)
    with FakeDeepL(auth_keys={KEY}) as fake:
        code, _, err = _deepl(src, tmp_path / "ref", fake, capsys)
        assert code == 0, err
        return src, _output(tmp_path / "ref"), fake.billed_characters


FAULTS = {
    "429 storm": dict(too_many_requests=12),
    "500 burst": dict(server_errors=6, server_error_status=500),
    "503 burst": dict(server_errors=6, server_error_status=503),
    "connection resets": dict(resets=4),
    "timeouts": dict(slow=2, slow_seconds=0.8),
    "all at once": dict(too_many_requests=5, server_errors=3, resets=2, slow=1, slow_seconds=0.8),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_deepl_transient_faults_complete_with_the_same_bytes(tmp_path, deepl_reference, capsys, fault):
    src, reference, clean_billed = deepl_reference
    with FakeDeepL(auth_keys={KEY}) as fake:
        for name, value in FAULTS[fault].items():
            setattr(fake, name, value)
        code, _, err = _deepl(src, tmp_path / "out", fake, capsys)
        assert code == 0, err
        assert _output(tmp_path / "out") == reference
        assert sum(fake.answered[s] for s in fake.answered if s != 200) + fake.resets_done + fake.slow_done > 0
        if fault != "timeouts" and "slow" not in FAULTS[fault]:
            assert fake.billed_characters == clean_billed  # refused requests are not billed, nor resent twice


@pytest.mark.parametrize("fault, exit_code, words", [
    ("quota", 3, ("quota", "rerun")),
    ("outage", 5, ("deepl", "rerun")),
])
def test_deepl_stop_halfway_then_resume_never_pays_twice(tmp_path, deepl_reference, capsys, fault, exit_code, words):
    src, reference, clean_billed = deepl_reference
    out = tmp_path / "out"
    with FakeDeepL(auth_keys={KEY}) as fake:
        if fault == "quota":
            fake.quota_characters = clean_billed // 2
        else:
            fake.outage_after = 1  # one batch goes through, then the service is down
        code, _, err = _deepl(src, out, fake, capsys, "--opt", "batch_size=5")
        _assert_stopped(code, err, out, exit_code, *words)
        assert KEY not in err
        billed_before = fake.billed_characters
        assert 0 < billed_before < clean_billed
        with TranslationMemory(out / "translation_memory.sqlite") as memory:
            assert len(memory) > 0  # what was paid for is kept

        fake.quota_characters = fake.outage_after = None
        code, _, err = _deepl(src, out, fake, capsys, "--opt", "batch_size=5")
        assert code == 0, err
        assert _output(out) == reference
        assert fake.billed_characters == clean_billed  # over both runs: each segment billed once
        assert _counts(out)["memory_hits"] > 0


def test_deepl_refused_key_exits_4(tmp_path, deepl_key, capsys):
    src = _source(tmp_path)
    with FakeDeepL(auth_keys={"some-other-key"}) as fake:
        code, _, err = _deepl(src, tmp_path / "out", fake, capsys)
    _assert_stopped(code, err, tmp_path / "out", 4, "403")
    assert KEY not in err


def test_deepl_echo_is_never_accepted(tmp_path, deepl_key, capsys):
    src = _source(tmp_path, echo=True)
    out = tmp_path / "out"
    with EchoingDeepL(auth_keys={KEY}) as fake:
        code, _, err = _deepl(src, out, fake, capsys)
        assert code == 0, err
        kept = json.loads(_output(out))
        rejected = read_jsonl(out / "ko_data.rejected.jsonl")
        assert len(kept) + len(rejected) == len(json.loads(src.read_text()))
        assert ECHO not in _output(out).decode()
        assert [r["id"] for r in rejected] == ["echo"]
        assert {reason["code"] for reason in rejected[0]["reasons"]} & {"untranslated", "wrong_script"}
        billed = fake.billed_characters
        # The echo was paid for; the memory keeps it so a rerun does not pay again, and still rejects the record.
        code, _, err = _deepl(src, out, fake, capsys)
        assert code == 0, err
        assert fake.billed_characters == billed
        assert [r["id"] for r in read_jsonl(out / "ko_data.rejected.jsonl")] == ["echo"]


# -- Google ------------------------------------------------------------------------------------------------------

def _google(src: Path, out: Path, fake: FakeGoogleTranslate, capsys, *extra: str) -> tuple[int, str, str]:
    return run_main(["run", "--src", src, "--backend", "google", "--out", out, "--opt", f"endpoint={fake.url}",
                     "--opt", "backoff=0.005", "--opt", "max_backoff=0.05", "-q", *extra], capsys)


@pytest.fixture
def google_reference(tmp_path, capsys):
    src = _source(tmp_path, echo=True)
    with FakeGoogleTranslate() as fake:
        code, _, err = _google(src, tmp_path / "ref", fake, capsys)
        assert code == 0, err
        return src, _output(tmp_path / "ref")


GOOGLE_FAULTS = {
    "429 storm": dict(too_many_requests=15),
    "503 burst": dict(server_errors=5),
    "connection resets": dict(resets=3),
    "timeouts": dict(slow=2, slow_seconds=1.0),
    "echoes": dict(echo=4),
    "all at once": dict(too_many_requests=6, server_errors=2, resets=2, echo=2),
}


@pytest.mark.parametrize("fault", list(GOOGLE_FAULTS))
def test_google_transient_faults_complete_with_the_same_bytes(tmp_path, google_reference, capsys, fault):
    src, reference = google_reference
    with FakeGoogleTranslate() as fake:
        for name, value in GOOGLE_FAULTS[fault].items():
            setattr(fake, name, value)
        code, _, err = _google(src, tmp_path / "out", fake, capsys, "--opt", "timeout=0.4")
        assert code == 0, err
        assert _output(tmp_path / "out") == reference
        if "echo" in GOOGLE_FAULTS[fault]:
            assert fake.echoed > 0


def test_google_persistent_echo_is_rejected_not_stored_and_retried(tmp_path, google_reference, capsys):
    src, reference = google_reference
    out = tmp_path / "out"
    with FakeGoogleTranslate() as fake:
        fake.echo_texts = {ECHO}
        code, _, err = _google(src, out, fake, capsys, "--opt", "retries=1")
        assert code == 0, err
        assert ECHO not in _output(out).decode()
        rejected = read_jsonl(out / "ko_data.rejected.jsonl")
        assert [(r["id"], r["reasons"][0]["code"]) for r in rejected] == [("echo", "backend_failed")]
        with TranslationMemory(out / "translation_memory.sqlite") as memory:
            assert ECHO not in {source for _, source, _, _ in memory.rows()}

        fake.echo_texts = set()
        code, _, err = _google(src, out, fake, capsys)
        assert code == 0, err
        assert _output(out) == reference
        assert read_jsonl(out / "ko_data.rejected.jsonl") == []


def test_google_blocked_halfway_then_resume(tmp_path, google_reference, capsys):
    src, reference = google_reference
    out = tmp_path / "out"
    with FakeGoogleTranslate() as fake:
        fake.block_after = 12  # after 12 answers every request is refused with 429
        code, _, err = _google(src, out, fake, capsys, "--opt", "retries=1")
        if code == 0:  # the backend gave up on the rest: those records are rejected, nothing is lost
            rejected = read_jsonl(out / "ko_data.rejected.jsonl")
            assert rejected and all(r["reasons"][0]["code"] == "backend_failed" for r in rejected)
        else:
            _assert_stopped(code, err, out, 5, "rerun")
        fake.block_after = None
        code, _, err = _google(src, out, fake, capsys)
        assert code == 0, err
        assert _output(out) == reference
        # What was answered before the stop is asked again only if it was in the batch that failed (the batch in
        # flight is not committed; with Google's 64-text batches that is all of this small file).
        from translate.backends.google import GoogleBackend

        assert len(fake.queries) - len(set(fake.queries)) <= GoogleBackend.max_batch_texts


# -- a failing local engine ---------------------------------------------------------------------------------------

PLUGIN = '''
import os

from translate.backends.base import Backend
from translate.backends.pseudo import pseudo_localise


class FlakyEngine(Backend):
    """Translates like pseudo; from batch `fail_after` on it misbehaves as `mode` says."""

    name = "flaky"
    max_batch_texts = 6

    def __init__(self, source_lang, target_lang, fail_after: int = -1, mode: str = "oom", journal: str = ""):
        super().__init__(source_lang, target_lang)
        self.fail_after, self.mode, self.journal, self.batches = fail_after, mode, journal, 0

    def fingerprint(self):
        return "flaky/v1"

    def translate(self, texts):
        if self.journal:
            with open(self.journal, "a") as fh:
                fh.write(f"{len(texts)}\\n")
        failing = 0 <= self.fail_after <= self.batches
        self.batches += 1
        out = [pseudo_localise(t) for t in texts]
        if not failing:
            return out
        if self.mode == "oom":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if self.mode == "oserror":
            raise OSError(5, "Input/output error")
        if self.mode == "short":
            return out[:-1]
        if self.mode == "not_text":
            return [{"text": t} for t in out]
        if self.mode == "not_a_list":
            return None
        if self.mode == "gives_up":
            return [None] * len(texts)
        if self.mode == "echo":
            return list(texts)
        raise AssertionError(self.mode)
'''


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory) -> Path:
    """A third-party backend package, registered through the `translate.backends` entry-point group exactly as an
    installed distribution is (a .dist-info folder on the path)."""
    base = tmp_path_factory.mktemp("plugin")
    (base / "flaky_engine.py").write_text(textwrap.dedent(PLUGIN))
    info = base / "flaky_engine-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flaky-engine\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[translate.backends]\nflaky = flaky_engine:FlakyEngine\n")
    return base


@pytest.fixture(scope="module")
def plugin_reference(tmp_path_factory, plugin_path) -> tuple[Path, Path]:
    """(source, output folder) of the plug-in engine's fault-free run."""
    base = tmp_path_factory.mktemp("plugin_ref")
    src = write_array(base / "data.json", llava_records(30, seed=4))
    proc = _local(plugin_path, src, base / "ref")
    assert proc.returncode == 0, proc.stderr
    return src, base / "ref"


def _local(plugin: Path, src: Path, out: Path, *opts: str) -> subprocess.CompletedProcess:
    args = ["run", "--src", src, "--backend", "flaky", "--out", out, "-q"]
    for opt in opts:
        args += ["--opt", opt]
    proc = subprocess.run(translate_cmd(*args), capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=child_env(PYTHONPATH=f"{ROOT}:{plugin}"))
    assert_no_traceback(proc)
    return proc


def _journal(path: Path) -> int:
    return sum(int(x) for x in path.read_text().split()) if path.exists() else 0


@pytest.mark.parametrize("mode, words", [
    ("oom", ("runtimeerror", "cuda out of memory", "rerun")),
    ("oserror", ("input/output error", "rerun")),
    ("short", ("5 translations for 6 texts",)),
    ("not_text", ("where a translation (text) was expected",)),
    ("not_a_list", ("returned nonetype",)),
])
def test_failing_local_engine_stops_with_exit_5_and_resumes(tmp_path, plugin_path, plugin_reference, mode, words):
    src, ref = plugin_reference

    out, journal = tmp_path / "out", tmp_path / "journal"
    proc = _local(plugin_path, src, out, "fail_after=3", f"mode={mode}", f"journal={journal}")
    _assert_stopped(proc.returncode, proc.stderr, out, 5, "flaky", *words)
    sent_before = _journal(journal)

    proc = _local(plugin_path, src, out, f"journal={journal}")
    assert proc.returncode == 0, proc.stderr
    assert _output(out) == _output(ref)
    unique = _counts(ref)["segments_sent"]
    assert _journal(journal) - unique <= 6  # the failed batch is all that was sent twice
    assert sent_before > 0 and _counts(out)["memory_hits"] > 0


def test_local_engine_that_gives_up_rejects_and_a_rerun_retries(tmp_path, plugin_path):
    src = write_array(tmp_path / "data.json", llava_records(30, seed=4))
    out = tmp_path / "out"
    proc = _local(plugin_path, src, out, "fail_after=2", "mode=gives_up")
    assert proc.returncode == 0, proc.stderr
    counts = _counts(out)
    assert counts["records_in"] == counts["records_kept"] + counts["records_rejected"] == 30
    assert counts["records_rejected"] > 0 and set(counts["reasons"]) == {"backend_failed"}
    proc = _local(plugin_path, src, out)
    assert proc.returncode == 0, proc.stderr
    assert _counts(out)["records_kept"] == 30


def test_local_engine_echo_is_never_accepted(tmp_path, plugin_path):
    src = write_array(tmp_path / "data.json", llava_records(30, seed=4))
    out = tmp_path / "out"
    proc = _local(plugin_path, src, out, "fail_after=0", "mode=echo")
    assert proc.returncode == 0, proc.stderr
    kept = json.loads(_output(out))
    sources = {t["value"] for r in json.loads(src.read_text()) for t in r["conversations"]}
    for record in kept:
        for turn in record["conversations"]:
            assert turn["value"] not in sources, turn  # an untranslated turn never reaches the output
    counts = _counts(out)
    assert counts["records_in"] == counts["records_kept"] + counts["records_rejected"] == 30
    assert counts["records_rejected"] == 30


def test_pseudo_fail_after_batches_stops_with_exit_5_and_resumes(tmp_path):
    src = write_array(tmp_path / "data.json", llava_records(60, seed=8))
    ref = subprocess.run(translate_cmd("run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "ref", "-q"),
                         capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=120)
    assert ref.returncode == 0, ref.stderr
    out = tmp_path / "out"
    args = ["run", "--src", src, "--backend", "pseudo", "--out", out, "-q", "--opt", "batch_size=8"]
    proc = subprocess.run(translate_cmd(*args, "--opt", "fail_after_batches=3"), capture_output=True, text=True,
                          cwd=ROOT, env=child_env(), timeout=120)
    assert_no_traceback(proc)
    _assert_stopped(proc.returncode, proc.stderr, out, 5, "injected failure")
    proc = subprocess.run(translate_cmd(*args), capture_output=True, text=True, cwd=ROOT, env=child_env(),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _output(out) == _output(tmp_path / "ref")
    assert _counts(out)["memory_hits"] >= 3 * 8

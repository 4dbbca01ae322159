"""The LLM backend against a real OpenAI-compatible server running here offline: `transformers serve` (transformers
5.x with its serving extra, CPU torch) loading a tiny chat model built and trained by a session fixture.

The model answers a short Korean sentence, never the JSON document, so every reply fails its check and every record
ends rejected as ``backend_failed``; what is tested is that the run ends cleanly with every record accounted for, that
nothing is stored, that a rerun does the same, and that the server's real quirks are handled: it ignores
``response_format``, accepts only the exact model name it was started with (anything else is a 400 with
``{"detail": …}``), and ends a stream without ``data: [DONE]``.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import run_main
from llm_support import ANSWER, build_tiny_chat_model, llava_file, run_args
from remote_support import check_invariants, load

pytestmark = pytest.mark.slow


def _serving_problem() -> str | None:
    try:
        import torch  # noqa: F401
        from transformers.utils.import_utils import is_serve_available
    except ImportError as exc:
        return f"transformers or torch is not installed ({exc})"
    if not is_serve_available():
        return "transformers serving is not importable: pip install 'transformers[serving]'"
    if _serve_command() is None:
        return "the `transformers` command is not installed beside this Python"
    return None


def _serve_command() -> list[str] | None:
    found = Path(sys.executable).with_name("transformers")
    if found.exists():
        return [str(found)]
    which = shutil.which("transformers")
    return [which] if which else None


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    problem = _serving_problem()
    if problem:
        pytest.skip(problem)
    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat") / "model")


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([*_serve_command(), "serve", str(tiny_model), "--host", "127.0.0.1", "--port",
                                 str(port), "--device", "cpu"], stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                pytest.fail(f"transformers serve did not answer /v1/models within 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_the_served_model_answers_and_stops_on_its_own(server, tiny_model):
    listed = httpx.get(f"{server}/v1/models").json()["data"]
    assert [m["id"] for m in listed] == [str(tiny_model)]
    reply = httpx.post(f"{server}/v1/chat/completions", timeout=60, json={
        "model": str(tiny_model), "max_tokens": 40, "messages": [{"role": "user", "content": "Translate: a dog."}],
        "response_format": {"type": "json_object"}}).json()
    assert reply["choices"][0]["message"]["content"] == ANSWER  # JSON asked for, plain text given: ignored
    assert reply["choices"][0]["finish_reason"] == "stop"  # it stopped on its own, well before 40 tokens
    streamed = httpx.post(f"{server}/v1/chat/completions", timeout=60, json={
        "model": str(tiny_model), "max_tokens": 40, "stream": True,
        "messages": [{"role": "user", "content": "Translate: a dog."}]}).text
    assert '"finish_reason":"stop"' in streamed.replace(" ", "") and "[DONE]" not in streamed


@pytest.mark.parametrize("stream", [False, True])
def test_a_run_ends_cleanly_with_every_record_rejected_and_reruns_the_same(server, tiny_model, tmp_path, capsys,
                                                                           stream):
    src = llava_file(tmp_path / "mini.json", n_captions=3)
    out = tmp_path / "out"
    args = run_args(src, out, server, model=str(tiny_model), max_tokens=32, concurrency=2, reply_retries=0,
                    stream=str(stream).lower())
    for attempt in range(2):
        code, _, err = run_main(args, capsys)
        assert code == 0, err
        kept, rejected, manifest = check_invariants(src, out)
        assert kept == [] and len(rejected) == 5
        assert all({r["code"] for r in rec["reasons"]} == {"backend_failed"} for rec in rejected)
        usage = manifest["backend"]["usage"]
        assert usage["requests"] > 0 and usage["prompt_tokens"] > 1000 and usage["completion_tokens"] > 0
        assert set(usage["failed_replies"]) == {"parse"} and usage["texts_failed"] > 0
        # The server ignores response_format silently, so the backend keeps sending it.
        assert usage["structured_output"] == "json_schema"
        db = sqlite3.connect(out / "translation_memory.sqlite")
        try:
            assert db.execute("SELECT COUNT(*) FROM segments WHERE origin LIKE 'openai/%'").fetchone()[0] == 0
        finally:
            db.close()
    assert load(out / "ko_mini.manifest.json")["counts"]["records_rejected"] == 5


def test_a_wrong_model_name_is_a_clear_error(server, tiny_model, tmp_path, capsys):
    src = llava_file(tmp_path / "mini.json", n_captions=1)
    code, _, err = run_main(run_args(src, tmp_path / "out", server, model="tiny-chat"), capsys)
    assert code == 6, err
    assert "does not serve the model 'tiny-chat'" in err and str(tiny_model) in err
    assert "Traceback" not in err

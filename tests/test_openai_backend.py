"""backends/openai.py with the official `openai` client against the local OpenAI-compatible server: the wire format,
packing, every reply check, every fault a server or model shows, errors, keys, images, usage, and whole runs
(fault runs, resume, kill -9)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import run_main
from fakes.openai_server import FakeOpenAI
from llm_support import (
    KEY,
    MODEL,
    SAMPLE,
    backend,
    expected,
    llava_file,
    run_args,
    sent_texts,
)
from remote_support import check_invariants, load
from robustness_support import ROOT, child_env, translate_cmd

from translate.backends.base import RecordTexts, create_backend
from translate.backends.llm_reply import Failure, check_reply, extract_json
from translate.backends.pseudo import pseudo_localise
from translate.errors import (
    AuthenticationError,
    BackendError,
    ConfigError,
    ModelNotFoundError,
    QuotaExceededError,
)

LOGGER = "translate.backends.openai"


@pytest.fixture
def fake():
    with FakeOpenAI(models=[MODEL]) as server:
        yield server


@pytest.fixture(autouse=True)
def no_host_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


# -- options and identity --------------------------------------------------------------------------------------------

def test_options_are_checked_and_the_fingerprint_names_what_changes_the_output(tmp_path):
    with pytest.raises(ConfigError, match="--opt model="):
        create_backend("openai", "en", "ko", {})
    with pytest.raises(ConfigError, match="structured_output"):
        create_backend("openai", "en", "ko", {"model": "m", "structured_output": "yaml"})
    with pytest.raises(ConfigError, match="base_url"):
        create_backend("openai", "en", "ko", {"model": "m", "base_url": "localhost:8000"})
    with pytest.raises(ConfigError, match="image_root"):
        create_backend("openai", "en", "ko", {"model": "m", "image_root": str(tmp_path / "nowhere")})
    b = create_backend("openai", "en", "ko", {"model": "m", "concurrency": "3", "temperature": "0.2"})
    assert b.concurrency == 3 and b.temperature == 0.2 and not b.capabilities.billed
    assert b.capabilities.record_context
    fp = b.fingerprint()
    assert fp.startswith("openai/m/prompt=") and "temperature=0.2" in fp and "schema=v1" in fp
    assert "speech=formal" in fp and "images=off" in fp
    prompt = tmp_path / "prompt.md"
    prompt.write_text("Translate into {target_language}, in {speech_level}.<!-- a note for maintainers -->")
    custom = create_backend("openai", "en", "ko", {"model": "m", "prompt_file": str(prompt)})
    assert custom.prompt.system.startswith("Translate into Korean, in 합니다체") and "maintainers" not in \
        custom.prompt.system
    variants = [custom.fingerprint(),
                create_backend("openai", "en", "ko", {"model": "m", "speech_level": "polite"}).fingerprint(),
                create_backend("openai", "en", "ko", {"model": "m", "image_root": str(tmp_path)}).fingerprint(),
                create_backend("openai", "en", "ko", {"model": "m", "few_shot": "3"}).fingerprint(),
                create_backend("openai", "en", "ko", {"model": "other"}).fingerprint()]
    assert len({fp, *variants}) == 6
    prompt.write_text("Translate into {target_language}, carefully.")
    assert create_backend("openai", "en", "ko", {"model": "m", "prompt_file": str(prompt)}).fingerprint() != \
        custom.fingerprint()
    priced = create_backend("openai", "en", "ko", {"model": "m", "price_prompt_per_million": "0.15",
                                                    "price_completion_per_million": "0.6"})
    assert priced.capabilities.billed


def test_the_shipped_korean_prompt_is_used_and_rendered():
    b = create_backend("openai", "en", "ko", {"model": "m"})
    assert b.prompt.source.endswith("glossaries/ko/llm_prompt.md")
    system = b.prompt.system
    assert "합니다체" in system and "⟦0⟧" in system and "{" not in system.replace("{\"", "")
    assert "<!--" not in system


def test_estimate_usage_grows_with_the_text_and_prices_it():
    b = create_backend("openai", "en", "ko", {"model": "m", "price_prompt_per_million": "1",
                                              "price_completion_per_million": "4"})
    small = b.estimate_usage(["A red bus."] * 10)
    large = b.estimate_usage(["A red bus on a rainy street corner, next to a woman with a dog."] * 100)
    assert 0 < small["prompt_tokens"] < large["prompt_tokens"] and small["completion_tokens"] < large[
        "completion_tokens"]
    assert small["requests"] == 1 and large["requests"] >= 2
    assert large["estimated_cost"] == pytest.approx((large["prompt_tokens"] + 4 * large["completion_tokens"]) / 1e6,
                                                    abs=1e-6)
    # Korean output costs more tokens per source character than a Latin-script target.
    vi = create_backend("openai", "en", "vi", {"model": "m"}).estimate_usage(["A red bus on a street."] * 10)
    assert vi["completion_tokens"] < b.estimate_usage(["A red bus on a street."] * 10)["completion_tokens"]


# -- the reply checks on their own -------------------------------------------------------------------------------------

DOC = {"r1": {"q1": "What is at ⟦0⟧?", "a2": "A long answer about the thing at the corner of the street."}}
GOOD = {"r1": {"q1": "⟦0⟧에 무엇이 있습니까?", "a2": "길 모퉁이에 있는 물건에 대한 긴 답변입니다."}}


@pytest.mark.parametrize("content, finish, kind", [
    (json.dumps(GOOD, ensure_ascii=False), "length", "length"),
    ("", "stop", "empty"),
    ("I cannot help with that.", "stop", "parse"),
    ('{"r1": {"q1": "⟦0⟧에 무엇이 있습니까?"}}', "stop", "keys"),
    ('{"r1": {"q1": "무엇이 있습니까?", "a2": "긴 답변입니다."}}', "stop", "placeholders"),
    ('{"r1": {"q1": "⟦0⟧⟦0⟧에 무엇?", "a2": "긴 답변입니다."}}', "stop", "placeholders"),
    (json.dumps(DOC), "stop", "echo"),
])
def test_each_check_names_its_failure(content, finish, kind):
    result = check_reply(DOC, content, finish)
    assert isinstance(result, Failure) and result.kind == kind, result


def test_swapped_answers_are_caught_and_a_good_reply_is_not_taken_for_one():
    doc = {"r1": {"q1": "What is on the table?",
                  "a2": "A long answer about the thing at the corner of the street, with 3 cups in it."}}
    question, answer = "탁자 위에 무엇이 있습니까?", "거리 모퉁이에 있는 물건에 대한 긴 답변이며, 컵 3개가 들어 있습니다."
    good = {"r1": {"q1": question, "a2": answer}}
    assert check_reply(doc, json.dumps(good, ensure_ascii=False), "stop") == good
    swapped = json.dumps({"r1": {"q1": answer, "a2": question}}, ensure_ascii=False)
    result = check_reply(doc, swapped, "stop")
    assert isinstance(result, Failure) and result.kind == "swap" and "r1.q1 and r1.a2" in result.detail


def test_fences_preambles_and_spacing_are_tolerated():
    good = json.dumps(GOOD, ensure_ascii=False)
    for content in (f"```json\n{good}\n```", f"Here you go:\n{good}\nHope it helps!", f"```\n{good}```",
                    good.replace("⟦0⟧", "⟦ 0 ⟧")):
        assert check_reply(DOC, content, "stop") == GOOD
    # A broken document is not mistaken for one of its inner objects.
    assert extract_json(good[:-1], {"r1"}) is None
    # A short text may stay as it is (a name); a sentence may not.
    assert check_reply({"r1": {"a1": "iPhone"}}, '{"r1": {"a1": "iPhone"}}', "stop") == {"r1": {"a1": "iPhone"}}


# -- the backend against the fake -------------------------------------------------------------------------------------

def test_records_travel_together_with_their_context(fake):
    b = backend(fake.url)
    assert b.translate_records(SAMPLE) == expected(SAMPLE)
    assert fake.chat_requests == 1  # three short records packed into one request
    entry = fake.chat_log[0]
    assert entry["texts"] == [t for r in SAMPLE for t in r.texts] and entry["response_format"] == "json_schema"
    assert "[human] Describe the image in detail." in entry["user"]  # record b's context turn
    document = json.loads(entry["user"].split("\nJSON:\n")[1])
    assert list(document) == ["r1", "r2", "r3"] and list(document["r1"]) == ["q1", "a2"]
    usage = b.usage()
    assert usage["requests"] == 1 and usage["records_per_request"] == 3.0
    assert usage["prompt_tokens"] == entry["usage"]["prompt_tokens"] > 0
    assert usage["completion_tokens"] == entry["usage"]["completion_tokens"] > 0
    assert b.translate(["A dog.", "Two dogs."]) == [pseudo_localise("A dog."), pseudo_localise("Two dogs.")]
    b.close()


def test_packing_limits_and_long_records_split_at_turns(fake):
    b = backend(fake.url, records_per_request=4, request_chars=300)
    captions = [RecordTexts([f"A photo of item {i}."], ["gpt"]) for i in range(10)]
    assert b.translate_records(captions) == expected(captions)
    assert sorted(len(e["texts"]) for e in fake.chat_log) == [2, 4, 4]
    turns = [("What is this? " * 3, "human"), ("It is a long answer about a kitchen table. " * 4, "gpt")] * 3
    long = RecordTexts([t for t, _ in turns], [r for _, r in turns], record_id="long")
    start = len(fake.chat_log)
    assert b.translate_records([long]) == expected([long])
    parts = fake.chat_log[start:]
    assert len(parts) >= 2 and sum(len(p["texts"]) for p in parts) == len(turns)
    # Every part after the first sees the record's earlier turns as context. The parts are sent concurrently, so
    # the log holds them in the order they were answered, not sent.
    with_context = [p for p in parts if "[human] What is this?" in p["user"]]
    assert len(with_context) == len(parts) - 1
    b.close()


FAULTS = ["fences", "chatter", "drop_key", "echo", "truncate", "invalid_json", "swap", "drop_placeholder",
          "too_many_requests", "server_errors"]


@pytest.mark.parametrize("fault", FAULTS)
def test_each_fault_is_retried_to_the_well_behaved_answer(fake, fault, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    b = backend(fake.url)
    setattr(fake, fault, 1)
    assert b.translate_records(SAMPLE) == expected(SAMPLE)
    assert fake.faults_done[fault] == 1
    usage = b.usage()
    if fault in ("too_many_requests", "server_errors"):
        assert usage["retries"] == 1 and "retry 1" in caplog.text
    elif fault in ("fences", "chatter"):  # tolerated: read as they are, no retry
        assert usage["requests"] == 1 and not usage["failed_replies"]
    else:
        assert sum(usage["failed_replies"].values()) == 1 and "failed its check" in caplog.text
        # The failed request of three records was split: more requests than the clean one.
        assert usage["requests"] >= 3
    b.close()


def test_every_fault_at_once_under_concurrency_keeps_exact_translations(fake):
    records = [RecordTexts([f"Question {i}?",
                            f"A rather longer answer, number {i}, about a dog and a cat on a sofa near ⟦0⟧."],
                           ["human", "gpt"], record_id=i) for i in range(80)]
    b = backend(fake.url, concurrency=6, records_per_request=2)
    fake.delay = 0.01
    for fault in FAULTS:
        setattr(fake, fault, 2)
    assert b.translate_records(records) == expected(records)
    assert sum(fake.faults_done.values()) == 2 * len(FAULTS)
    assert 1 < fake.max_in_flight <= 6
    assert b.usage()["texts_failed"] == 0
    b.close()


def test_a_persistently_broken_reply_gives_none_after_bounded_tries(fake, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    b = backend(fake.url, reply_retries=1)
    fake.invalid_json = 10_000
    out = b.translate_records(SAMPLE)
    assert out == [[None, None], [None], [None, None]]
    # 1 request for all three, 2 halves, 3 single records... bounded: never more than 4 per record.
    assert fake.chat_requests <= 4 * len(SAMPLE)
    usage = b.usage()
    assert usage["texts_failed"] == 5 and usage["failed_replies"]["parse"] == fake.chat_requests
    assert "giving up on record 'a'" in caplog.text
    b.close()


def test_retry_after_is_honoured(fake, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    b = backend(fake.url, backoff=0.001)
    fake.too_many_requests, fake.retry_after = 1, "0.4"
    started = time.monotonic()
    assert b.translate_records(SAMPLE[:1]) == expected(SAMPLE[:1])
    assert time.monotonic() - started >= 0.4
    assert "429" in caplog.text and "retry 1 in 0.4s" in caplog.text
    b.close()


def test_exhausted_retries_stop_with_the_finished_texts_as_partial(fake):
    b = backend(fake.url, concurrency=1, records_per_request=1, retries=2)
    fake.fail_after = 1  # the first request is answered, then the server breaks down
    with pytest.raises(BackendError, match="kept failing after 2 retries.*rerun") as info:
        b.translate_records(SAMPLE)
    assert info.value.partial == [*expected(SAMPLE[:1])[0], None, None, None]
    assert fake.answered[500] == 3


def test_authentication_quota_and_unknown_model(fake, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("LLM_KEY", KEY)
    with FakeOpenAI(models=[MODEL], auth_keys={"sk-the-right-one-000000"}) as locked:
        with pytest.raises(AuthenticationError, match="LLM_KEY") as info:
            backend(locked.url, api_key_env="LLM_KEY").translate(["Hello there."])
        assert KEY not in str(info.value) and KEY[-4:] not in str(info.value)
        assert locked.answered[401] == 1  # never retried
    b = backend(fake.url, model="fake-llm-typo")
    with pytest.raises(ModelNotFoundError, match="'fake-llm-typo'.*it serves: fake-llm"):
        b.translate(["Hello there."])
    fake.quota_exhausted = True
    with pytest.raises(QuotaExceededError, match="rerun the same command"):
        backend(fake.url).translate(["Hello there."])
    assert KEY not in caplog.text


def test_the_key_is_sent_but_never_shown(fake, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    fake.auth_keys = {KEY}
    b = backend(fake.url)
    assert b.translate(["A boat."]) == [pseudo_localise("A boat.")]
    assert KEY not in b.fingerprint() and KEY not in json.dumps(b.usage()) and KEY not in caplog.text


def test_response_format_rejected_falls_back_once_or_stops_when_insisted_on(fake, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    fake.reject_response_format = True
    b = backend(fake.url, concurrency=1, records_per_request=1)
    assert b.translate_records(SAMPLE) == expected(SAMPLE)
    assert fake.answered[400] == 1 and b.usage()["structured_output"] == "none"
    assert [e["response_format"] for e in fake.chat_log] == ["json_schema", None, None, None]
    assert "does not accept response_format" in caplog.text
    with pytest.raises(BackendError, match="rejected the request \\(400\\).*response_format"):
        backend(fake.url, structured_output="json_schema").translate(["A boat."])
    fake.reject_response_format = False
    backend(fake.url, structured_output="json_object").translate(["A boat."])
    assert fake.chat_log[-1]["response_format"] == "json_object"


@pytest.mark.parametrize("done", [True, False])
def test_streaming_with_and_without_done(fake, done):
    fake.stream_done = done
    b = backend(fake.url, stream="true")
    assert b.translate_records(SAMPLE) == expected(SAMPLE)
    assert fake.chat_log[-1]["stream"] and b.usage()["completion_tokens"] == fake.chat_log[-1]["usage"][
        "completion_tokens"]
    fake.truncate = 1  # the finish reason of a stream is read too
    assert b.translate_records(SAMPLE) == expected(SAMPLE) and b.usage()["failed_replies"] == {"length": 1}


def test_fastapi_style_errors_are_read(fake):
    fake.detail_errors = True
    with pytest.raises(ModelNotFoundError, match="it serves: fake-llm"):
        backend(fake.url, model="other").translate(["A boat."])
    fake.server_errors = 1
    assert backend(fake.url).translate(["A boat."]) == [pseudo_localise("A boat.")]


def test_concurrency_bound_and_overlap():
    with FakeOpenAI(models=[MODEL], delay=0.1) as fake:
        b = backend(fake.url, concurrency=4, records_per_request=1)
        records = [RecordTexts([f"Caption number {i}."], ["gpt"]) for i in range(16)]
        assert b.translate_records(records) == expected(records)
        assert fake.max_in_flight == 4  # overlapped, and never more than asked (speed: bench/llm_throughput.py)
        b.close()


def test_images_travel_downscaled_and_a_missing_one_is_reported(fake, tmp_path, caplog):
    from PIL import Image

    caplog.set_level(logging.WARNING, logger=LOGGER)
    Image.new("RGB", (1600, 900), (200, 30, 30)).save(tmp_path / "red.jpg")
    b = backend(fake.url, image_root=tmp_path, image_max_side=64, concurrency=1)
    records = [RecordTexts(["What colour is the bus?"], ["human"], image="red.jpg", record_id="x1"),
               RecordTexts(["Is it raining?"], ["human"], image="missing.jpg", record_id="x2"),
               RecordTexts(["A text-only record."], ["human"], record_id="x3")]
    assert b.translate_records(records) == expected(records)
    # One record per request when images travel; only the record whose image exists carries one.
    assert {e["texts"][0]: e["images"] for e in fake.chat_log} == {
        "What colour is the bus?": 1, "Is it raining?": 0, "A text-only record.": 0}
    assert "record 'x2': image" in caplog.text and "missing.jpg" in caplog.text
    assert b.usage()["images_sent"] == 1 and b.usage()["images_missing"] == 1
    assert "images=64" in b.fingerprint()


# -- whole runs ------------------------------------------------------------------------------------------------------

def _run(src, out, fake, capsys, *extra, **options):
    return run_main(run_args(src, out, fake.url, *extra, **options), capsys)


def test_clean_run_then_rerun_sends_nothing(tmp_path, fake, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    src = llava_file(tmp_path / "mini.json")
    code, out, err = _run(src, tmp_path / "out", fake, capsys)
    assert code == 0, err
    kept, rejected, manifest = check_invariants(src, tmp_path / "out")
    assert len(kept) == 14 and rejected == []
    usage = manifest["backend"]["usage"]
    assert usage["requests"] == fake.chat_requests > 0
    assert usage["prompt_tokens"] == sum(e["usage"]["prompt_tokens"] for e in fake.chat_log)
    assert manifest["backend"]["fingerprint"].startswith(f"openai/{MODEL}/prompt=")
    kept_c1 = {r["id"]: r for r in kept}["c1"]["conversations"]
    assert kept_c1[0]["value"].startswith("<image>\n") and "[0.12, 0.34, 0.56, 0.78]" in kept_c1[0]["value"]
    for place in [*(tmp_path / "out").rglob("*"), ]:
        if place.is_file():
            assert KEY.encode() not in place.read_bytes()
    assert KEY not in out + err
    first = (tmp_path / "out" / "ko_mini.json").read_bytes()
    requests = fake.chat_requests
    assert _run(src, tmp_path / "out", fake, capsys)[0] == 0
    assert fake.chat_requests == requests  # the memory answered everything
    assert (tmp_path / "out" / "ko_mini.json").read_bytes() == first


def test_fault_run_keeps_exactly_what_a_clean_run_keeps(tmp_path, fake, capsys):
    src = llava_file(tmp_path / "mini.json", n_captions=30)
    assert _run(src, tmp_path / "clean", fake, capsys)[0] == 0
    clean = (tmp_path / "clean" / "ko_mini.json").read_bytes()
    clean_records = {r["id"]: r for r in json.loads(clean)}
    out = tmp_path / "faulty"
    with FakeOpenAI(models=[MODEL]) as faulty:
        for fault in FAULTS:
            setattr(faulty, fault, 3)
        code, _, err = _run(src, out, faulty, capsys, concurrency=4, records_per_request=1)
        assert code == 0, err
        kept, rejected, manifest = check_invariants(src, out)
        assert all(faulty.faults_done[fault] >= 1 for fault in FAULTS), faulty.faults_done
        # Whatever the server did, a kept record is the well-behaved server's record; the others are rejected as
        # backend_failed (a record whose retry met a second fault), and nothing of theirs was stored.
        assert all(r == clean_records[r["id"]] for r in kept)
        assert all({x["code"] for x in r["reasons"]} == {"backend_failed"} for r in rejected)
        usage = manifest["backend"]["usage"]
        assert usage["retries"] == 6  # three 429s and three 500s, each waited out
        bad_replies = sum(faulty.faults_done[f] for f in FAULTS
                          if f not in ("fences", "chatter", "too_many_requests", "server_errors"))
        assert sum(usage["failed_replies"].values()) == bad_replies
        # A rerun against a well-behaved server completes to the clean run's bytes.
        for fault in FAULTS:
            setattr(faulty, fault, 0)
        assert _run(src, out, faulty, capsys)[0] == 0
    assert (out / "ko_mini.json").read_bytes() == clean


def test_a_record_the_model_keeps_breaking_is_rejected_then_a_rerun_completes(tmp_path, fake, capsys):
    src = llava_file(tmp_path / "mini.json")
    assert _run(src, tmp_path / "clean", fake, capsys)[0] == 0
    with FakeOpenAI(models=[MODEL]) as broken:
        broken.drop_placeholder = 10_000  # every text with a placeholder loses it, every time
        out = tmp_path / "out"
        code, _, err = _run(src, out, broken, capsys)
        assert code == 0, err
        _, rejected, _ = check_invariants(src, out)
        assert {r["id"] for r in rejected} == {"c1", "c2"}  # the two records with protected spans
        assert all(reason["code"] == "backend_failed" for r in rejected for reason in r["reasons"])
        broken.drop_placeholder = 0
        stored = _memory_sources(out / "translation_memory.sqlite")
        start = len(broken.chat_log)
        code, _, err = _run(src, out, broken, capsys)
        assert code == 0, err
        resent = sent_texts(broken.chat_log, start)
        # Only the two rejected records' texts go out again, nothing that was stored.
        assert resent and not set(resent) & stored and any("⟦" in t for t in resent)
        assert len(resent) <= 6
    assert (out / "ko_mini.json").read_bytes() == (tmp_path / "clean" / "ko_mini.json").read_bytes()


def test_an_outage_stops_the_run_resumably(tmp_path, fake, capsys):
    src = llava_file(tmp_path / "mini.json", n_captions=40)
    assert _run(src, tmp_path / "clean", fake, capsys)[0] == 0
    with FakeOpenAI(models=[MODEL]) as failing:
        failing.fail_after = 2
        out = tmp_path / "out"
        code, _, err = _run(src, out, failing, capsys, "--window", "8", retries=1, concurrency=1,
                            records_per_request=2)
        assert code == 5, err
        assert "rerun the same command" in err and not (out / "ko_mini.json").exists()
        stored = _memory_sources(out / "translation_memory.sqlite")
        assert stored  # the answered requests are kept
        failing.fail_after = None
        start = len(failing.chat_log)
        assert _run(src, out, failing, capsys)[0] == 0
        assert not set(sent_texts(failing.chat_log, start)) & stored
    assert (out / "ko_mini.json").read_bytes() == (tmp_path / "clean" / "ko_mini.json").read_bytes()


def _memory_sources(path: Path) -> set[str]:
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        return {row[0] for row in db.execute("SELECT source FROM segments WHERE origin LIKE 'openai/%'")}
    except sqlite3.OperationalError:  # created a moment ago, its tables not yet
        return set()
    finally:
        db.close()


def test_kill_during_a_concurrent_run_then_rerun_is_byte_identical(tmp_path):
    import synthetic

    src = synthetic.write(tmp_path / "instruct.json", 160, seed=3)
    with FakeOpenAI(models=[MODEL], delay=0.05) as fake:
        ref = tmp_path / "ref"
        env = child_env()
        args = lambda out: translate_cmd(*run_args(src, out, fake.url, "--window", "40", concurrency=8,
                                                   records_per_request=2))
        proc = subprocess.run(args(ref), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        reference_requests = fake.chat_requests
        out = tmp_path / "out"
        start = len(fake.chat_log)
        child = subprocess.Popen(args(out), env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        # Kill once some requests are stored and others are in flight.
        while time.time() < deadline and child.poll() is None:
            if len(_memory_sources(out / "translation_memory.sqlite")) > 0 and fake.in_flight > 0:
                break
            time.sleep(0.01)
        assert child.poll() is None, "the run ended before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        _, stderr = child.communicate()
        assert child.returncode == -signal.SIGKILL and b"Traceback" not in stderr
        time.sleep(0.2)  # requests in flight are answered to nobody
        stored = _memory_sources(out / "translation_memory.sqlite")
        sent_before = sent_texts(fake.chat_log, start)
        assert stored and len(stored) < len(set(sent_texts(fake.chat_log, 0)))
        restart = len(fake.chat_log)
        proc = subprocess.run(args(out), env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        resent = sent_texts(fake.chat_log, restart)
        assert not set(resent) & stored  # nothing answered and stored is sent again
        lost = set(sent_before) - stored  # answered to the killed run but never stored
        print(f"kill/resume: {reference_requests} requests clean; killed run stored {len(stored)} texts, lost "
              f"{len(lost)} answered texts; the rerun sent {len(resent)} texts")
    assert (out / "ko_instruct.json").read_bytes() == (ref / "ko_instruct.json").read_bytes()


def test_a_run_sends_the_turns_of_one_record_together(tmp_path, fake, capsys):
    src = llava_file(tmp_path / "mini.json", n_captions=0)
    assert _run(src, tmp_path / "out", fake, capsys, records_per_request=1)[0] == 0
    requests = {tuple(e["texts"]) for e in fake.chat_log if e["status"] == 200}
    c1 = [t["value"] for t in load(src)[0]["conversations"]]
    # The second question and both answers of c1 travel in one request (the first question too, once protected).
    assert any(len(texts) >= 3 and any("waiting there" in t for t in texts) for texts in requests), requests
    assert c1

"""backends/google.py with the real googletrans client against the local translate_a/single endpoint: clean runs,
429 storms, echoed sources (retried, then rejected, never accepted), the size limit and the concurrency bound."""

from __future__ import annotations

import pytest

from fakes import FakeGoogleTranslate
from remote_support import TRICKY, captions, check_invariants, load, run_main
from translate.backends.base import create_backend
from translate.backends.pseudo import pseudo_localise
from translate.errors import ConfigError
from translate.memory import TranslationMemory


@pytest.fixture
def fake():
    with FakeGoogleTranslate() as server:
        yield server


def google_run(src, out, fake, capsys, *extra):
    return run_main(["run", "--src", src, "--backend", "google", "--out", out, "--opt", f"endpoint={fake.url}",
                     "--opt", "backoff=0.005", "--opt", "max_backoff=0.05", "-q", *extra], capsys)


def test_options_are_checked():
    with pytest.raises(ConfigError, match="endpoint"):
        create_backend("google", "en", "ko", {"endpoint": "ftp://x"})
    with pytest.raises(ConfigError, match="concurrency"):
        create_backend("google", "en", "ko", {"concurrency": "0"})
    b = create_backend("google", "en", "ko", {"service_urls": "translate.google.com, translate.google.co.kr"})
    assert b.service_urls == ["translate.google.com", "translate.google.co.kr"]
    assert b.fingerprint() == "google/translate_a/ko"


def test_echo_is_retried_then_given_up_never_accepted(fake):
    b = create_backend("google", "en", "ko", {"endpoint": fake.url, "backoff": "0.001", "retries": "2"})
    try:
        fake.echo = 1
        assert b.translate(["A dog runs."]) == [pseudo_localise("A dog runs.")]
        fake.echo_texts = {"A cat sleeps."}
        assert b.translate(["A cat sleeps.", "⟦0⟧ 42", "A bird."]) == [None, "⟦0⟧ 42", pseudo_localise("A bird.")]
        assert fake.queries.count("A cat sleeps.") == 3  # the first try and two retries
        # No letters: identical output is a correct translation, not an echo.
        assert b.usage()["failed_texts"] == 1 and b.usage()["echoed"] == 4
    finally:
        b.close()


def test_clean_run_with_bounded_concurrency(tmp_path, fake, capsys):
    src = captions(tmp_path / "caps.json", 30, TRICKY)
    fake.delay = 0.01  # long enough for requests to overlap
    code, _, err = google_run(src, tmp_path / "out", fake, capsys, "--opt", "concurrency=3")
    assert code == 0, err
    kept, rejected, manifest = check_invariants(src, tmp_path / "out")
    assert len(kept) == 32 and rejected == []
    usage = manifest["backend"]["usage"]
    assert usage["requests"] == fake.translate_requests and usage["characters_sent"] == fake.characters
    assert 1 < fake.max_in_flight <= 3
    assert len(fake.queries) == len(set(fake.queries))  # each unique segment asked once
    t1 = {r["id"]: r for r in kept}["t1"]["conversations"]
    assert t1[0]["value"].startswith("<image>\n") and "[0.12, 0.34, 0.56, 0.78]" in t1[0]["value"]


def test_429_storm_5xx_and_resets_still_complete(tmp_path, fake, capsys):
    src = captions(tmp_path / "caps.json", 20)
    assert google_run(src, tmp_path / "clean", fake, capsys)[0] == 0
    fake.too_many_requests, fake.server_errors, fake.resets = 15, 3, 2
    code, _, err = google_run(src, tmp_path / "storm", fake, capsys, "--opt", "rate_limit_retries=30",
                              "--opt", "backoff=0.002")
    assert code == 0, err
    assert fake.answered[429] == 15 and fake.answered[503] == 3 and fake.resets_done == 2
    check_invariants(src, tmp_path / "storm")
    assert (tmp_path / "storm" / "ko_caps.json").read_bytes() == (tmp_path / "clean" / "ko_caps.json").read_bytes()
    usage = load(tmp_path / "storm" / "ko_caps.manifest.json")["backend"]["usage"]
    assert usage["rate_limited"] == 15 and usage["failed_texts"] == 0
    # The backoff is shared: while throttled, one request at a time probes the service.
    assert fake.answered[429] + fake.answered[503] + fake.resets_done < 30


def test_persistent_echo_rejects_the_record_and_a_rerun_retries_it(tmp_path, fake, capsys):
    records = [{"id": "e1", "image": "e1.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat is shown?"}, {"from": "gpt", "value": "A stubborn caption."}]}]
    src = captions(tmp_path / "caps.json", 10, records)
    fake.echo_texts = {"A stubborn caption."}
    out = tmp_path / "out"
    code, _, err = google_run(src, out, fake, capsys, "--opt", "retries=2")
    assert code == 0, err
    kept, rejected, manifest = check_invariants(src, out)
    assert [r["id"] for r in rejected] == ["e1"] and len(kept) == 10
    assert [x["code"] for x in rejected[0]["reasons"]] == ["backend_failed"]
    assert manifest["counts"]["reasons"] == {"backend_failed": 1}
    with TranslationMemory(out / "translation_memory.sqlite") as memory:
        assert "A stubborn caption." not in {row[1] for row in memory.rows()}
    # The service recovers: the rerun asks only for what failed, and the record is kept.
    fake.echo_texts = set()
    before = len(fake.queries)
    code, _, err = google_run(src, out, fake, capsys)
    assert code == 0, err
    assert fake.queries[before:] == ["A stubborn caption."]
    kept, rejected, _ = check_invariants(src, out)
    assert len(kept) == 11 and rejected == []


def test_text_over_the_size_limit_is_not_sent_and_is_rejected(tmp_path, fake, capsys):
    long_answer = "A very long answer. " * 20
    records = [{"id": "long", "image": "l.jpg", "conversations": [
        {"from": "human", "value": "<image>\nDescribe."}, {"from": "gpt", "value": long_answer.strip()}]}]
    src = captions(tmp_path / "caps.json", 5, records)
    code, _, err = google_run(src, tmp_path / "out", fake, capsys, "--opt", "max_chars=200")
    assert code == 0, err
    kept, rejected, _ = check_invariants(src, tmp_path / "out")
    assert [r["id"] for r in rejected] == ["long"] and rejected[0]["reasons"][0]["code"] == "backend_failed"
    assert all(len(q) <= 200 for q in fake.queries)


def test_blocked_halfway_stops_cleanly_then_resume_asks_only_for_the_rest(tmp_path, fake, capsys):
    src = captions(tmp_path / "caps.json", 20)
    out = tmp_path / "out"
    fake.block_after = 10  # after 10 answers every request is refused with 429
    code, _, err = google_run(src, out, fake, capsys, "--opt", "rate_limit_retries=3", "--opt", "concurrency=1",
                              "--window", "4")
    assert code == 5 and "kept refusing requests (HTTP 429, 4 in a row)" in err and "rerun" in err
    assert fake.answered[429] == 4  # one probe at a time, not a hammering
    assert not (out / "ko_caps.json").exists()
    with TranslationMemory(out / "translation_memory.sqlite") as memory:
        stored = {row[1] for row in memory.rows() if row[3] != "template"}
    assert len(stored) == 10  # every answer before the block, the finished part of the failed batch included
    fake.block_after = None
    before = len(fake.queries)
    code, _, err = google_run(src, out, fake, capsys)
    assert code == 0, err
    kept, rejected, _ = check_invariants(src, out)
    assert len(kept) == 20 and rejected == []
    resumed = fake.queries[before:]
    assert resumed and not set(resumed) & stored and len(resumed) == len(set(resumed))

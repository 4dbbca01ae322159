"""backends/deepl.py with the real `deepl` package against the local DeepL server: packing, placeholders, every
error path (429, 5xx, resets, slow answers, 456, 403), the never-pay-twice resume, and the glossary sync."""

from __future__ import annotations

import json

import pytest

from fakes import FakeDeepL
from remote_support import (  # noqa: F401  (fast_deepl_sdk is a fixture)
    KEY,
    TRICKY,
    assert_no_key,
    captions,
    check_invariants,
    fast_deepl_sdk,
    load,
    run_main,
)
from translate.backends.base import create_backend
from translate.backends.pseudo import pseudo_localise
from translate.backends.deepl import DEEPL_XML, DeepLBackend, from_xml, to_xml
from translate.errors import AuthenticationError, BackendError, ConfigError, QuotaExceededError
from translate.memory import TranslationMemory
from translate.protect import Protector


@pytest.fixture
def fake(monkeypatch, fast_deepl_sdk):  # noqa: F811
    monkeypatch.setenv("DEEPL_AUTH_KEY", KEY)
    with FakeDeepL(auth_keys={KEY}) as server:
        yield server


def backend(fake, **options) -> DeepLBackend:
    options.setdefault("retry_backoff", 0.01)
    return create_backend("deepl", "en", "ko", dict(server_url=fake.url, **options))


def deepl_run(src, out, fake, capsys, *extra):
    return run_main(["run", "--src", src, "--backend", "deepl", "--out", out, "--deepl-server-url", fake.url,
                     "--opt", "retry_backoff=0.01", "-q", *extra], capsys)


# -- the backend on its own ------------------------------------------------------------------------------------------

def test_no_key_needed_until_the_first_request(monkeypatch):
    monkeypatch.delenv("DEEPL_AUTH_KEY", raising=False)
    b = create_backend("deepl", "en", "ko", {"formality": "less", "model_type": "quality_optimized"})
    assert b.fingerprint() == "deepl/KO/formality=prefer_less/model=quality_optimized"
    with pytest.raises(ConfigError, match="DEEPL_AUTH_KEY"):
        b.translate(["hello"])
    with pytest.raises(ConfigError, match="formality"):
        create_backend("deepl", "en", "ko", {"formality": "polite"})
    with pytest.raises(ConfigError, match="does not take option.*auth_key"):
        create_backend("deepl", "en", "ko", {"auth_key": "x"})


def test_options_reach_the_request_and_the_fingerprint(fake):
    b = backend(fake, formality="more", context="Captions of photos.", model_type="prefer_quality_optimized")
    assert b.translate(["A red bus"]) == [pseudo_localise("A red bus")]
    sent = fake.translate_log[-1]
    assert sent["formality"] == "prefer_more"  # Korean has no formality: "more" becomes a preference
    assert sent["context"] == "Captions of photos." and sent["model_type"] == "prefer_quality_optimized"
    assert sent["tag_handling"] == "xml" and sent["ignore_tags"] == ["x"]
    assert sent["source_lang"] == "EN" and sent["target_lang"] == "KO"
    other = backend(fake, formality="more", context="Something else.", model_type="prefer_quality_optimized")
    assert other.fingerprint() != b.fingerprint()
    assert create_backend("deepl", "en", "en").target_code == "EN-US"
    assert create_backend("deepl", "en", "de", {"formality": "more"}).formality == "more"


def test_packing_within_50_texts_and_128_kib(fake):
    b = backend(fake)
    texts = [f"Text number {i}." for i in range(120)]
    assert len(b.translate(texts)) == 120
    assert [len(r["text"]) for r in fake.translate_log] == [50, 50, 20]
    # Non-ASCII text grows under JSON escaping: 30 texts of 1,000 Hangul characters are ~180 KiB on the wire.
    fake.translate_log.clear()
    hangul = ["가" * 1000 + f" {i}" for i in range(30)]
    out = b.translate(hangul)
    assert all(o is not None for o in out) and len(fake.translate_log) >= 2 and fake.answered[413] == 0
    # A text that cannot fit any request is not sent; its slot is None (its record will be rejected).
    requests_before = fake.translate_requests
    out = b.translate(["short", "가" * 30_000])
    assert out[1] is None and out[0] is not None and b.usage()["texts_too_large"] == 1
    assert fake.translate_requests == requests_before + 1


def test_xml_round_trip_of_spans_and_special_characters(fake):
    b = backend(fake)
    protector = Protector(style=b.placeholder)
    for rec in TRICKY:
        for turn in rec["conversations"]:
            p = protector.protect(turn["value"])
            out = b.translate([p.body])[0]
            restored = protector.restore(p, out)
            for span in p.spans:
                assert span.source in restored
    assert to_xml(DEEPL_XML, 'Q&A <x i="0">a&lt;b</x> 1<2') == 'Q&amp;A <x i="0">a&lt;b</x> 1&lt;2'
    assert from_xml(DEEPL_XML, "Q&amp;A <x i='0'>a&lt;b</x> &#54620;") == "Q&A <x i='0'>a&lt;b</x> 한"


def test_error_mapping(fake):
    b = backend(fake, retries=1)
    fake.server_errors, fake.server_error_status = 100, 500
    with pytest.raises(BackendError, match="still failing after 1 retries.*rerun") as info:
        b.translate(["x"])
    assert not isinstance(info.value, (QuotaExceededError, AuthenticationError))
    assert fake.answered[500] == 6  # (1 + 2 SDK retries) × (1 + 1 outer retry)
    fake.server_errors = 0
    fake.too_many_requests = 100
    with pytest.raises(BackendError, match="still failing after 2 retries.*Too many requests"):
        backend(fake, rate_limit_retries=2).translate(["x"])
    assert fake.answered[429] == 9  # (1 + 2 SDK retries) × (1 + 2 outer retries)
    fake.too_many_requests = 0
    fake.quota_characters = fake.billed_characters
    with pytest.raises(QuotaExceededError, match="rerun the same command"):
        b.translate(["x"])
    fake.auth_keys = {"another"}
    with pytest.raises(AuthenticationError, match="DEEPL_AUTH_KEY") as info:
        backend(fake).translate(["x"])
    assert KEY not in str(info.value)


def test_outer_retry_outlasts_a_429_storm_and_resets(fake):
    b = backend(fake)
    fake.too_many_requests = 10  # the SDK gives up after 3 tries; the outer retry goes on
    fake.resets = 2
    assert b.translate(["Hello"]) == [pseudo_localise("Hello")]
    assert fake.answered[429] == 10 and fake.resets_done == 2 and b.usage()["retries"] >= 3


# -- whole runs ------------------------------------------------------------------------------------------------------

def test_clean_run(tmp_path, fake, capsys):
    src = captions(tmp_path / "caps.json", 60, TRICKY)
    code, out, err = deepl_run(src, tmp_path / "out", fake, capsys)
    assert code == 0, err
    kept, rejected, manifest = check_invariants(src, tmp_path / "out")
    assert len(kept) == 62 and rejected == []
    usage = manifest["backend"]["usage"]
    assert usage["billed_characters"] == fake.billed_characters > 0
    assert usage["requests"] == fake.translate_requests
    # The shipped glossary was synced to the account and is named in the fingerprint by its content.
    assert manifest["backend"]["fingerprint"].startswith("deepl/KO/glossary=") and len(fake.glossaries) == 1
    assert usage["glossary_id"] in fake.glossaries
    tricky = {r["id"]: r for r in kept}["t1"]["conversations"]
    assert "[0.12, 0.34, 0.56, 0.78]" in tricky[0]["value"] and "`a<b>&c`" in tricky[1]["value"]
    assert "&amp;" not in tricky[1]["value"]
    assert_no_key(tmp_path, out, err)
    # A second run pays nothing.
    billed = fake.billed_characters
    assert deepl_run(src, tmp_path / "out", fake, capsys)[0] == 0
    assert fake.billed_characters == billed


def test_429_storm_run_completes_with_the_same_output(tmp_path, fake, capsys):
    src = captions(tmp_path / "caps.json", 60)
    assert deepl_run(src, tmp_path / "clean", fake, capsys)[0] == 0
    fake.too_many_requests = 12
    code, _, err = deepl_run(src, tmp_path / "storm", fake, capsys)
    assert code == 0, err
    assert fake.answered[429] == 12
    check_invariants(src, tmp_path / "storm")
    assert (tmp_path / "storm" / "ko_caps.json").read_bytes() == (tmp_path / "clean" / "ko_caps.json").read_bytes()
    assert load(tmp_path / "storm" / "ko_caps.manifest.json")["backend"]["usage"]["retries"] >= 2


def test_quota_halfway_then_resume_never_bills_twice(tmp_path, fake, capsys):
    src = captions(tmp_path / "caps.json", 120, TRICKY)
    out = tmp_path / "out"

    def estimated() -> int:
        code, est, err = run_main(["estimate", "--src", src, "--backend", "deepl", "--out", out, "--json"], capsys)
        assert code == 0, err
        return json.loads(est)["billed_characters"]

    total = estimated()  # every unique segment, each once, as it will be sent
    assert fake.requests == 0  # the estimate sent nothing, not even the glossary
    fake.quota_characters = total // 2
    code, _, err = deepl_run(src, out, fake, capsys, "--window", "16")
    assert code == 3, err
    assert "quota" in err and "rerun the same command" in err
    assert not (out / "ko_caps.json").exists()  # no partial output
    first = fake.billed_characters
    assert 0 < first <= total // 2
    with TranslationMemory(out / "translation_memory.sqlite") as memory:
        assert len(memory) > 0
    remaining = estimated()  # what the resume will bill
    assert remaining == total - first
    fake.quota_characters = None
    code, _, err = deepl_run(src, out, fake, capsys, "--window", "16")
    assert code == 0, err
    second = load(out / "ko_caps.manifest.json")["backend"]["usage"]["billed_characters"]
    assert second == remaining == fake.billed_characters - first
    assert first + second == fake.billed_characters == total
    sent = [t for r in fake.translate_log for t in r["text"]]
    assert len(sent) == len(set(sent))  # no segment was sent twice
    kept, rejected, _ = check_invariants(src, out)
    assert len(kept) == 122 and rejected == []


def test_bad_key_exits_4_without_printing_it(tmp_path, fake, capsys):
    fake.auth_keys = {"the-right-one"}
    src = captions(tmp_path / "caps.json", 5)
    code, out, err = deepl_run(src, tmp_path / "out", fake, capsys)
    assert code == 4 and "403" in err
    assert_no_key(tmp_path, out, err)


def test_persistent_5xx_exits_5_and_keeps_what_was_done(tmp_path, fake, capsys):
    src = captions(tmp_path / "caps.json", 40)
    out = tmp_path / "out"
    fake.outage_after = 1  # the first batch goes through, then the service is down
    code, _, err = deepl_run(src, out, fake, capsys, "--opt", "batch_size=10", "--opt", "retries=1")
    assert code == 5 and "rerun" in err
    assert fake.translate_requests == 1 and fake.answered[503] == 6  # (1 + 2 SDK retries) × (1 + 1 outer retry)
    assert not (out / "ko_caps.json").exists()
    with TranslationMemory(out / "translation_memory.sqlite") as memory:
        stored = len(memory)
    assert stored >= 10  # the batch that went through (plus any free curated templates)
    billed = fake.billed_characters
    fake.outage_after = None
    code, _, err = deepl_run(src, out, fake, capsys, "--opt", "batch_size=10")
    assert code == 0, err
    manifest = load(out / "ko_caps.manifest.json")
    assert manifest["backend"]["usage"]["billed_characters"] == fake.billed_characters - billed
    assert manifest["counts"]["memory_hits"] >= 10
    check_invariants(src, out)


def test_slow_answers_time_out_and_are_retried(tmp_path, fake, capsys):
    fake.slow, fake.slow_seconds = 1, 1.0
    src = captions(tmp_path / "caps.json", 10)
    code, _, err = deepl_run(src, tmp_path / "out", fake, capsys)
    assert code == 0, err
    assert fake.slow_done == 1
    check_invariants(src, tmp_path / "out")


def test_a_span_the_engine_changed_rejects_the_record(tmp_path, fake, capsys):
    fake.mangle_ignored = 1
    src = captions(tmp_path / "caps.json", 5, TRICKY)
    code, _, err = deepl_run(src, tmp_path / "out", fake, capsys)
    assert code == 0, err
    kept, rejected, manifest = check_invariants(src, tmp_path / "out")
    assert len(rejected) == 1 and rejected[0]["reasons"][0]["code"] == "span_lost"
    assert manifest["counts"]["reasons"] == {"span_lost": 1}


# -- glossary ---------------------------------------------------------------------------------------------------------

def test_sync_glossary_creates_reuses_and_replaces(fake):
    b = backend(fake)
    assert DeepLBackend.capabilities.native_glossary is True
    before = b.fingerprint()
    gid = b.sync_glossary({"dog": "개", "kite": "연"}, "llava-ko")
    assert b.glossary_id == gid and b.fingerprint() != before
    fp = b.fingerprint()
    # Same terms: the glossary on the account is reused, the fingerprint (and so the memory keys) stays.
    b2 = backend(fake)
    assert b2.sync_glossary({"kite": "연", "dog": "개"}, "llava-ko") == gid and b2.fingerprint() == fp
    assert len(fake.glossaries) == 1
    # Changed terms: a new glossary replaces the old one.
    gid2 = b2.sync_glossary({"dog": "강아지"}, "llava-ko")
    assert gid2 != gid and list(fake.glossaries) == [gid2] and b2.fingerprint() != fp
    assert b2.translate(["A dog and a kite"]) == [pseudo_localise("A ") + "강아지" + pseudo_localise(" and a kite")]
    assert fake.translate_log[-1]["glossary_id"] == gid2
    assert b2.usage()["glossary_id"] == gid2


def test_a_glossary_deferred_offline_is_used_by_the_first_request(fake):
    """Built offline (as for an estimate) and then switched online: the first batch must already carry the glossary
    the fingerprint names, not be sent without it."""
    b = backend(fake)
    b.offline = True
    assert b.sync_glossary({"dog": "개"}, "llava-ko") == ""
    fingerprint = b.fingerprint()
    b.offline = False
    assert b.translate(["A dog"]) == [pseudo_localise("A ") + "개"]
    assert fake.translate_log[0]["glossary_id"] == b.glossary_id != ""
    assert b.fingerprint() == fingerprint

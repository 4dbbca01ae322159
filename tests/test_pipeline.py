"""pipeline.py: the invariants of DESIGN.md, pinned on real and synthetic data with the pseudo backend."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import load_json, read_jsonl

from translate.backends.base import Backend
from translate.backends.pseudo import PseudoBackend, pseudo_localise
from translate.memory import TranslationMemory
from translate.pipeline import Pipeline, RunOptions, plan
from translate.protect import IMAGE_TOKEN, Protector, image_layout

LATIN = re.compile(r"[A-Za-z]")


def _run(src, out, memory_path, backend=None, **options):
    backend = backend or PseudoBackend("en", "ko")
    with TranslationMemory(memory_path) as memory:
        stats = Pipeline(backend, memory, RunOptions(**options)).run_file(src, out)
    return stats, backend


def _assert_invariants(src_records, out_records, rejected):
    """in = kept + rejected; order, ids and untranslated keys kept; <image> layout exact; values translated."""
    rejected_idx = {r["index"] for r in rejected}
    assert len(src_records) == len(out_records) + len(rejected_idx)
    kept_src = [r for i, r in enumerate(src_records) if i not in rejected_idx]
    assert len(kept_src) == len(out_records)
    for s, o in zip(kept_src, out_records):
        assert list(s) == list(o)  # same keys, same order
        assert s.get("id") == o.get("id") and s.get("image") == o.get("image")
        for st, ot in zip(s["conversations"], o["conversations"]):
            assert list(st) == list(ot) and st["from"] == ot["from"]
            assert image_layout(st["value"]) == image_layout(ot["value"])
            body = st["value"].replace(IMAGE_TOKEN, "").strip()
            if body:
                assert ot["value"] != st["value"]
                assert not LATIN.search(ot["value"].replace(IMAGE_TOKEN, ""))


def test_blip_excerpt_end_to_end(tmp_path, blip_excerpt):
    stats, backend = _run(blip_excerpt, tmp_path, tmp_path / "m.sqlite")
    out = load_json(tmp_path / "ko_blip_excerpt.json")
    src = load_json(blip_excerpt)
    rejected = read_jsonl(tmp_path / "ko_blip_excerpt.rejected.jsonl")
    _assert_invariants(src, out, rejected)
    assert rejected == []
    # 120 records, 240 segments: 11 prompt templates + 120 captions are unique; each is sent exactly once.
    assert stats.segments_total == 240 and stats.segments_unique == 131
    assert stats.segments_sent == 131 and backend.usage()["characters"] == stats.characters_sent
    manifest = load_json(tmp_path / "ko_blip_excerpt.manifest.json")
    assert manifest["counts"]["records_in"] == manifest["counts"]["records_kept"] + manifest["counts"]["records_rejected"]
    assert manifest["backend"]["fingerprint"] == "pseudo/v1"


def test_rerun_sends_nothing_and_is_byte_identical(tmp_path, blip_excerpt):
    _run(blip_excerpt, tmp_path / "a", tmp_path / "m.sqlite")
    stats, backend = _run(blip_excerpt, tmp_path / "b", tmp_path / "m.sqlite")
    assert stats.segments_sent == 0 and backend.usage()["batches"] == 0
    assert stats.memory_hits == stats.segments_unique
    for name in ("ko_blip_excerpt.json", "ko_blip_excerpt.rejected.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # A fresh memory gives the same bytes too: the output depends on the input, backend and options only.
    _run(blip_excerpt, tmp_path / "c", tmp_path / "other.sqlite", window=7)
    assert (tmp_path / "a" / "ko_blip_excerpt.json").read_bytes() == (tmp_path / "c" / "ko_blip_excerpt.json").read_bytes()


def test_memory_is_shared_across_files(tmp_path, make_instruct):
    a = make_instruct(300, "conversation.json", seed=1)
    b = make_instruct(300, "detail.json", seed=2)
    union = tmp_path / "union.json"
    union.write_text(json.dumps(load_json(a) + load_json(b)))
    s1, _ = _run(a, tmp_path / "o", tmp_path / "m.sqlite")
    s2, _ = _run(b, tmp_path / "o", tmp_path / "m.sqlite")
    s3, _ = _run(union, tmp_path / "o", tmp_path / "m.sqlite")
    assert s1.segments_sent > 0 and s2.segments_sent > 0
    assert s2.memory_hits > 0  # questions repeat across files
    assert s3.segments_sent == 0  # after the subsets, the union costs nothing


def test_invalid_records_are_rejected_with_reasons_and_counted(tmp_path):
    src = tmp_path / "mixed.json"
    recs = [
        {"id": "ok1", "image": "1.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat?"},
                                                           {"from": "gpt", "value": "A cat."}]},
        {"id": "bad1", "conversations": [{"from": "human", "value": 5}]},
        "not a record",
        {"id": "txt", "conversations": [{"from": "human", "value": "Text only, no image."},
                                        {"from": "gpt", "value": "   "}], "extra": {"kept": [1, 2]}},
    ]
    src.write_text(json.dumps(recs))
    stats, _ = _run(src, tmp_path, tmp_path / "m.sqlite")
    out = load_json(tmp_path / "ko_mixed.json")
    rejected = read_jsonl(tmp_path / "ko_mixed.rejected.jsonl")
    assert [r["id"] for r in out] == ["ok1", "txt"]
    assert out[1]["extra"] == {"kept": [1, 2]} and "image" not in out[1]
    assert out[1]["conversations"][1]["value"] == "   "  # whitespace passes through untranslated
    assert [(r["index"], r["id"], r["reasons"][0]["code"], r["reasons"][0]["field"]) for r in rejected] == [
        (1, "bad1", "bad_value", "conversations[0].value"), (2, None, "not_an_object", "")]
    assert str(src) in rejected[0]["reasons"][0]["detail"] and "record 1" in rejected[0]["reasons"][0]["detail"]
    assert rejected[0]["source"] == recs[1]
    assert stats.records_in == 4 == stats.records_kept + stats.records_rejected


class _DroppingBackend(Backend):
    """Loses every placeholder, as a careless engine might."""

    name = "dropping"

    def translate(self, texts):
        return [pseudo_localise(re.sub(r"⟦\d+⟧", "", t)) for t in texts]


def test_lost_span_rejects_the_record_never_patches(tmp_path):
    src = tmp_path / "boxes.json"
    recs = [{"id": "b", "image": "1.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhere is the dog?"},
        {"from": "gpt", "value": "The dog is at [0.12, 0.34, 0.56, 0.78]."}]},
        {"id": "c", "image": "2.jpg", "conversations": [{"from": "human", "value": "<image>\nHi"},
                                                        {"from": "gpt", "value": "No box here."}]}]
    src.write_text(json.dumps(recs))
    _run(src, tmp_path, tmp_path / "m.sqlite", backend=_DroppingBackend("en", "ko"))
    rejected = read_jsonl(tmp_path / "ko_boxes.rejected.jsonl")
    assert [(r["id"], [x["code"] for x in r["reasons"]]) for r in rejected] == [("b", ["span_lost"])]
    assert "[0.12, 0.34, 0.56, 0.78]" in rejected[0]["reasons"][0]["detail"]
    assert [r["id"] for r in load_json(tmp_path / "ko_boxes.json")] == ["c"]


class _ImageEatingBackend(Backend):
    name = "eater"

    def translate(self, texts):
        return ["" if "empty" in t else t.upper() for t in texts]


def test_empty_translation_is_rejected(tmp_path):
    src = tmp_path / "e.json"
    src.write_text(json.dumps([{"id": "1", "conversations": [{"from": "human", "value": "make it empty"}]}]))
    _run(src, tmp_path, tmp_path / "m.sqlite", backend=_ImageEatingBackend("en", "ko"))
    assert [x["code"] for x in read_jsonl(tmp_path / "ko_e.rejected.jsonl")[0]["reasons"]] == ["empty_output"]


@pytest.mark.parametrize("policy, kept_value", [("keep-source", "make it empty"), ("keep", "")])
def test_on_reject_policies_keep_and_still_list(tmp_path, policy, kept_value):
    src = tmp_path / "e.json"
    src.write_text(json.dumps([{"id": "1", "conversations": [{"from": "human", "value": "make it empty"}]}]))
    _run(src, tmp_path, tmp_path / "m.sqlite", backend=_ImageEatingBackend("en", "ko"), on_reject=policy)
    assert load_json(tmp_path / "ko_e.json")[0]["conversations"][0]["value"] == kept_value
    assert read_jsonl(tmp_path / "ko_e.rejected.jsonl")[0]["policy"] == policy


def test_jsonl_in_jsonl_out(tmp_path):
    src = tmp_path / "questions.jsonl"
    lines = [{"question_id": i, "image": f"{i:03d}.jpg", "text": f"What is item {i}?", "category": "conv"}
             for i in range(5)]
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    _run(src, tmp_path, tmp_path / "m.sqlite")
    out = read_jsonl(tmp_path / "ko_questions.jsonl")
    assert [o["question_id"] for o in out] == list(range(5))
    assert all(o["category"] == "conv" and not LATIN.search(o["text"]) for o in out)


def test_plan_counts_match_a_run(tmp_path, blip_excerpt):
    from translate.pipeline import Segmenter

    backend = PseudoBackend("en", "ko")
    with TranslationMemory(tmp_path / "m.sqlite") as memory:
        seg = Segmenter(Protector(), "en", "ko", backend.fingerprint())
        missing: list = []
        before = plan([blip_excerpt, blip_excerpt], seg, memory, on_missing=missing.extend)
        assert before.segments_unique == before.segments_missing == len(missing) == 131
        assert before.segments_total == 480 and before.records == 240
        Pipeline(backend, memory, RunOptions()).run_file(blip_excerpt, tmp_path)
        after = plan([blip_excerpt], seg, memory)
        assert after.segments_missing == 0 and after.segments_in_memory == 131

"""Engines that declare `record_context` get whole records: the missing segments of one record together, in turn
order, with roles, the record's other turns as context and its image. The output is the same as segment by segment."""

from __future__ import annotations

import json

from translate.backends.base import Capabilities, RecordTexts
from translate.backends.pseudo import PseudoBackend, pseudo_localise
from translate.errors import BackendError
from translate.memory import TranslationMemory
from translate.pipeline import Pipeline, RunOptions


class RecordPseudo(PseudoBackend):
    """Pseudo translation, asked for record by record; keeps every request it gets."""

    capabilities = Capabilities(record_context=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests: list[list[RecordTexts]] = []

    def translate_records(self, records):
        self.requests.append(records)
        return [[pseudo_localise(t) for t in r.texts] for r in records]


def conversation(rid, question, answers, image="coco/1.jpg"):
    turns = []
    for i, answer in enumerate(answers):
        turns.append({"from": "human", "value": ("<image>\n" if i == 0 else "") + question[i]})
        turns.append({"from": "gpt", "value": answer})
    record = {"id": rid, "conversations": turns}
    if image:
        record["image"] = image
    return record


RECORDS = [
    conversation("a", ["What is the man holding?", "Why is he smiling?"],
                 ["He holds a red kite.", "He looks happy because the kite flies high."]),
    conversation("b", ["What is the man holding?"], ["A blue umbrella in the rain."], image=None),
    conversation("c", ["Describe the scene."], ["Two dogs run across a sunny park."], image="vg/7.jpg"),
]


def run(tmp_path, backend, name):
    src = tmp_path / "src.json"
    src.write_text(json.dumps(RECORDS))
    out = tmp_path / name
    with TranslationMemory(tmp_path / f"{name}.sqlite") as memory:
        stats = Pipeline(backend, memory, RunOptions(window=2)).run_file(src, out)
    return stats, (out / "ko_src.json").read_bytes()


def test_records_travel_together_with_roles_context_and_image(tmp_path):
    backend = RecordPseudo("en", "ko")
    stats, _ = run(tmp_path, backend, "records")
    sent = [r for batch in backend.requests for r in batch]
    assert [r.record_id for r in sent] == ["a", "b", "c"]
    a, b, c = sent
    assert a.texts == ["What is the man holding?", "He holds a red kite.", "Why is he smiling?",
                       "He looks happy because the kite flies high."]
    assert a.roles == ["human", "gpt", "human", "gpt"] and a.image == "coco/1.jpg" and a.context == []
    # b's question was translated with a (same window): it travels once, and b sees it as context.
    assert b.texts == ["A blue umbrella in the rain."] and b.roles == ["gpt"] and b.image is None
    assert b.context == [("What is the man holding?", "human")]
    assert c.image == "vg/7.jpg"
    assert stats.segments_sent == 7 and stats.records_kept == 3


def test_the_output_is_the_same_as_segment_by_segment(tmp_path):
    _, grouped = run(tmp_path, RecordPseudo("en", "ko"), "records")
    _, plain = run(tmp_path, PseudoBackend("en", "ko"), "plain")
    assert grouped == plain


def test_a_record_batch_with_the_wrong_shape_stops_the_run(tmp_path):
    class Short(RecordPseudo):
        def translate_records(self, records):
            return [[pseudo_localise(t) for t in r.texts][:-1] for r in records]

    try:
        run(tmp_path, Short("en", "ko"), "short")
    except BackendError as exc:
        assert "returned 3 translations for 4 texts" in str(exc)
    else:
        raise AssertionError("a short reply must stop the run")


def test_segments_a_record_engine_gave_up_on_are_rejected_and_not_stored(tmp_path):
    class GivesUp(RecordPseudo):
        def translate_records(self, records):
            return [[None if r.record_id == "c" else pseudo_localise(t) for t in r.texts] for r in records]

    stats, output = run(tmp_path, GivesUp("en", "ko"), "gaveup")
    assert stats.records_kept == 2 and stats.reasons == {"backend_failed": 2}
    assert [r["id"] for r in json.loads(output)] == ["a", "b"]


def test_a_record_engine_that_swaps_two_answers_is_caught_by_the_record_checks(tmp_path):
    """An engine that sees the whole conversation can hand the answers back in the wrong order; each still reads as
    fine Korean on its own, so only the record-level check sees it. The finding is on its turn's QC log row."""
    answers = {"There are 3 dogs and 2 cats in the garden.": "정원에 개 3마리와 고양이 2마리가 있습니다.",
               "The Canon EOS camera was made in 1998 by Canon.": "Canon EOS 카메라는 1998년에 Canon이 만들었습니다.",
               "How many animals are there?": "동물이 몇 마리 있습니까?",
               "Who made the camera?": "누가 카메라를 만들었습니까?"}

    class Swapper(RecordPseudo):
        def translate_records(self, records):
            out = []
            for r in records:
                texts = [answers[t] for t in r.texts]
                gpt = [i for i, role in enumerate(r.roles) if role == "gpt"]
                texts[gpt[0]], texts[gpt[1]] = texts[gpt[1]], texts[gpt[0]]
                out.append(texts)
            return out

    record = {"id": "s", "image": "a.jpg", "conversations": [
        {"from": "human", "value": "<image>\nHow many animals are there?"},
        {"from": "gpt", "value": "There are 3 dogs and 2 cats in the garden."},
        {"from": "human", "value": "Who made the camera?"},
        {"from": "gpt", "value": "The Canon EOS camera was made in 1998 by Canon."}]}
    src = tmp_path / "swap.json"
    src.write_text(json.dumps([record]))
    with TranslationMemory(tmp_path / "tm.sqlite") as memory:
        stats = Pipeline(Swapper("en", "ko"), memory, RunOptions()).run_file(src, tmp_path / "out")
    assert stats.records_rejected == 1 and "swapped_turns" in stats.reasons
    rows = [json.loads(line) for line in (tmp_path / "out" / "ko_swap.qc.jsonl").read_text().splitlines()]
    flagged = {row["field"] for row in rows if "swapped_turns" in row["reasons"]}
    assert flagged and flagged <= {"conversations[1].value", "conversations[3].value"}


def test_run_rows_keep_languages_and_spans_and_a_rerun_counts_hits_by_origin(tmp_path):
    """What a memory export needs to put placeholders back (spans, languages), and where each hit came from."""
    record = {"id": "k", "image": "a.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat does `print(x)` do at https://example.com/a?"},
        {"from": "gpt", "value": "It prints the value of x."}]}
    src = tmp_path / "code.json"
    src.write_text(json.dumps([record]))
    with TranslationMemory(tmp_path / "tm.sqlite") as memory:
        first = Pipeline(PseudoBackend("en", "ko"), memory, RunOptions()).run_file(src, tmp_path / "a")
        rows = {e.source: e for e in memory.entries()}
        second = Pipeline(PseudoBackend("en", "ko"), memory, RunOptions()).run_file(src, tmp_path / "b")
    assert first.segments_sent == 2 and first.hits_by_origin == {}
    with_code = next(e for s, e in rows.items() if "⟦" in s)
    assert [span.source for span in with_code.spans] == ["`print(x)`", "https://example.com/a"]
    assert {(e.src_lang, e.tgt_lang) for e in rows.values()} == {("en", "ko")}
    assert next(e for s, e in rows.items() if "⟦" not in s).spans is None
    assert second.segments_sent == 0 and second.hits_by_origin == {"pseudo/v1": 2}
    manifest = json.loads((tmp_path / "b" / "ko_code.manifest.json").read_text())
    assert manifest["counts"]["hits_by_origin"] == {"pseudo/v1": 2}


def test_quality_estimation_scores_every_turn_and_rejects_below_the_threshold(tmp_path, capsys):
    """`--qe roundtrip-chrf` with the pseudo backend translating back: pseudo leaves Hangul alone, so the round
    trip of a translated turn is far from its English source and scores low."""
    from conftest import run_main

    src = tmp_path / "src.json"
    src.write_text(json.dumps(RECORDS))
    config = tmp_path / "qe.toml"
    config.write_text('[qc.qe.options]\nbackend = "pseudo"\n')
    base = ["run", "--src", src, "--backend", "pseudo", "--config", config, "-q", "--qe", "roundtrip-chrf"]
    code, _, err = run_main([*base, "--out", tmp_path / "scored"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "scored" / "ko_src.qc.jsonl").read_text().splitlines()]
    scores = [row["qe"] for row in rows if row.get("qe") is not None]
    assert len(scores) == len(rows) and all(0 <= s < 0.5 for s in scores)
    assert json.loads((tmp_path / "scored" / "ko_src.manifest.json").read_text())["counts"]["records_kept"] == 3
    code, _, err = run_main([*base, "--qe-threshold", "0.5", "--out", tmp_path / "strict"], capsys)
    assert code == 0, err
    manifest = json.loads((tmp_path / "strict" / "ko_src.manifest.json").read_text())
    assert manifest["counts"]["records_rejected"] == 3 and manifest["counts"]["reasons"]["qe_low"] == len(scores)

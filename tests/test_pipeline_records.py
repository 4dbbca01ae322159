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

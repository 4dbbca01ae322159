"""formats/records.py: validation reasons name the field; translatable fields and rebuilding keep every key."""

from __future__ import annotations

import pytest

from translate.formats.records import translatable_fields, validate, with_values


def _codes(record):
    return [(p.code, p.field) for p in validate(record)]


def test_valid_records():
    assert validate({"id": "1", "image": "a.jpg", "conversations": [{"from": "human", "value": "<image>\nhi"},
                                                                    {"from": "gpt", "value": "x"}]}) == []
    assert validate({"id": "t", "conversations": [{"from": "human", "value": "text only"}]}) == []
    assert validate({"question_id": 3, "image": "a.jpg", "text": "What?", "category": "conv"}) == []


@pytest.mark.parametrize(
    "record, expected",
    [
        ([], [("not_an_object", "")]),
        ({"id": "1"}, [("missing_field", "conversations")]),
        ({"id": "1", "conversations": "hi"}, [("bad_conversations", "conversations")]),
        ({"id": "1", "conversations": []}, [("bad_conversations", "conversations")]),
        ({"id": "1", "conversations": ["hi"]}, [("bad_turn", "conversations[0]")]),
        ({"id": "1", "conversations": [{"value": "x"}]}, [("missing_field", "conversations[0].from")]),
        ({"id": "1", "conversations": [{"from": "human"}]}, [("missing_field", "conversations[0].value")]),
        ({"id": "1", "conversations": [{"from": "human", "value": 3}]}, [("bad_value", "conversations[0].value")]),
        ({"id": "1", "conversations": [{"from": "user", "value": "x"}]}, [("bad_role", "conversations[0].from")]),
        ({"id": "1", "conversations": [{"from": "human", "value": "a\x00b"}]}, [("nul_character", "conversations[0].value")]),
        ({"id": "1", "conversations": [{"from": "human", "value": "a\ud800"}]}, [("lone_surrogate", "conversations[0].value")]),
        ({"id": "1", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "<image>\na"}]},
         [("image_in_gpt_turn", "conversations[1].value")]),
        ({"id": "1", "conversations": [{"from": "human", "value": "<image>\n<image>\nq"}]},
         [("multiple_image_tokens", "conversations")]),
        ({"id": ["x"], "conversations": [{"from": "human", "value": "q"}]}, [("bad_id", "id")]),
    ],
)
def test_problems_name_the_field(record, expected):
    assert _codes(record) == expected


def test_rebuilding_keeps_unknown_keys_and_order():
    rec = {"zeta": 1, "id": "9", "conversations": [{"from": "human", "value": "a", "extra": True},
                                                   {"from": "gpt", "value": "b"}], "alpha": {"k": [1]}}
    fields = translatable_fields(rec)
    assert [(f[1], f[2]) for f in fields] == [("human", "a"), ("gpt", "b")]
    out = with_values(rec, ["A", "B"])
    assert list(out) == list(rec)
    assert out["conversations"][0] == {"from": "human", "value": "A", "extra": True}
    assert rec["conversations"][0]["value"] == "a"  # the source is not mutated
    bench = {"question_id": 1, "text": "t", "category": "c"}
    assert with_values(bench, ["T"]) == {"question_id": 1, "text": "T", "category": "c"}


def test_bench_answers_translate_text_and_prompt():
    answer = {"question_id": 0, "prompt": "What is this?", "answer_id": "x", "model_id": "gpt-4-0314",
              "metadata": {}, "text": "Diamond Head."}
    assert [(f[0], f[1], f[2]) for f in translatable_fields(answer)] == [
        (("text",), "bench", "Diamond Head."), (("prompt",), "human", "What is this?")]
    out = with_values(answer, ["T", "P"])
    assert out == dict(answer, text="T", prompt="P") and list(out) == list(answer)
    assert [(p.code, p.field) for p in validate(dict(answer, prompt=3))] == [("bad_value", "prompt")]


def _turns(*roles):
    return {"id": "1", "conversations": [{"from": r, "value": f"turn {i}"} for i, r in enumerate(roles)]}


@pytest.mark.parametrize("roles, field", [
    (("human", "human", "gpt"), "conversations[1].from"),
    (("gpt", "human", "gpt"), "conversations[0].from"),  # LLaVA would drop this first answer without a word
    (("human", "gpt", "gpt"), "conversations[2].from"),
    (("gpt",), "conversations[0].from"),
    (("human", "gpt", "human", "gpt", "human", "human"), "conversations[5].from"),
])
def test_turns_must_alternate_starting_with_human(roles, field):
    """LLaVA's preprocess asserts `role == conv.roles[j % 2]`; such a record would crash training (issue 17)."""
    problems = validate(_turns(*roles))
    assert [(p.code, p.field) for p in problems] == [("bad_turn_order", field)]
    assert "alternate human, gpt" in problems[0].detail


@pytest.mark.parametrize("roles", [("human",), ("human", "gpt"), ("human", "gpt", "human"), ("human", "gpt") * 5])
def test_alternating_turns_are_valid(roles):
    assert validate(_turns(*roles)) == []


def test_an_unknown_role_is_reported_once_not_also_as_out_of_order():
    assert [(p.code, p.field) for p in validate(_turns("system", "human", "gpt"))] == [
        ("bad_role", "conversations[0].from")]


def test_every_sample_file_still_validates():
    """The rule is new: the bundled samples (every LLaVA shape, LLaVA-Bench included) must be unaffected."""
    from pathlib import Path

    from translate.formats.readers import RecordReader

    samples = sorted((Path(__file__).resolve().parent.parent / "data" / "samples").glob("*.json*"))
    assert len(samples) >= 9
    for path in samples:
        for item in RecordReader(path):
            assert validate(item.record) == [], (path.name, item.index)


def test_flagged_records_survive_pickling():
    import pickle

    from translate.formats.records import FlaggedRecord
    from translate.reasons import Reason

    flagged = FlaggedRecord({"id": "x", "text": "t"}, [Reason("duplicate_key", "id", "twice")])
    back = pickle.loads(pickle.dumps(flagged))
    assert back == {"id": "x", "text": "t"} and [(p.code, p.field) for p in validate(back)] == [("duplicate_key", "id")]

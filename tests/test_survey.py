"""formats/survey.py: a file in which no record validates is explained in one sentence (issue 17)."""

from __future__ import annotations

import json

from translate.formats.readers import RecordReader
from translate.formats.records import validate
from translate.formats.survey import SchemaSurvey
from translate.reasons import Reason


def _survey(path) -> SchemaSurvey:
    """As the pipeline feeds it: a line that did not parse is an `invalid_json` reason, the rest is `validate`."""
    survey = SchemaSurvey()
    for item in RecordReader(path):
        problems = [Reason("invalid_json", "", item.error)] if item.error else validate(item.record)
        survey.add(item.record, problems)
    return survey


def test_openai_messages_shape_is_named(tmp_path):
    """1,000 records in the OpenAI/ShareGPT `messages` shape ended as "✓ 0 kept, 1,000 rejected" before."""
    path = tmp_path / "chat.json"
    path.write_text(json.dumps([{"id": str(i), "images": [f"{i}.jpg"], "messages": [
        {"role": "user", "content": "<image>What is this?"}, {"role": "assistant", "content": "A cat."}]}
        for i in range(1000)]))
    hint = _survey(path).hint()
    assert hint.startswith("0 of 1,000 records have `conversations` (LLaVA) or `text` (LLaVA-Bench); they have ")
    assert "`messages` (1,000)" in hint and "`images` (1,000)" in hint
    assert "OpenAI/ShareGPT chat shape" in hint


def test_records_with_conversations_that_never_validate_name_the_commonest_problem(tmp_path):
    path = tmp_path / "roles.jsonl"
    path.write_text("".join(json.dumps({"id": i, "conversations": [{"from": "user", "value": "q"},
                                                                   {"from": "assistant", "value": "a"}]}) + "\n"
                            for i in range(3)))
    hint = _survey(path).hint()
    assert hint.startswith("none of the 3 records can be translated: bad_role in 6 (e.g. conversations[0].from: "
                           "'from' is 'user'; LLaVA expects human or gpt)")


def test_records_that_are_not_objects(tmp_path):
    path = tmp_path / "strings.json"
    path.write_text(json.dumps(["a caption", "another", None]))
    assert _survey(path).hint() == ("none of the 3 records is a JSON object: they are strings (2), null (1); a LLaVA "
                                    "file is a list of objects with `conversations` (or LLaVA-Bench's `text`)")


def test_one_valid_record_or_none_at_all_means_no_hint(tmp_path):
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps([{"id": "x", "messages": []}, {"id": "y", "text": "What is this?"}]))
    assert _survey(path).hint() is None
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    assert _survey(empty).hint() is None


def test_the_sample_files_give_no_hint():
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parent.parent / "data" / "samples").glob("*.json*")):
        assert _survey(path).hint() is None, path.name


def test_a_jsonl_file_of_broken_lines_names_the_parse_error(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"id": 1,\n{"id": 2,\n')
    hint = _survey(path).hint()
    assert hint.startswith("none of the 2 records can be translated: invalid_json in 2 (e.g. the record: line 1")


def test_a_file_of_empty_objects_says_so():
    from translate.formats.survey import SchemaSurvey
    from translate.formats.records import validate

    survey = SchemaSurvey()
    for _ in range(3):
        survey.add({}, validate({}))
    assert survey.hint().endswith("they have no keys at all (empty objects)")

"""formats/readers.py: streamed JSON documents and JSONL, the format from the name, errors with file and byte offset."""

from __future__ import annotations

import json
import re

import pytest

from translate.errors import InputFileError
from translate.formats import jsonstream
from translate.formats import readers
from translate.formats.readers import RecordReader
from translate.formats.records import validate


def _records(n):
    return [{"id": str(i), "image": f"{i}.jpg", "conversations": [{"from": "human", "value": "<image>\nq" * (i % 7 + 1)},
                                                                {"from": "gpt", "value": "é" * i}]} for i in range(n)]


@pytest.mark.parametrize("indent", [None, 4])
def test_json_array_streams_across_tiny_chunks(tmp_path, monkeypatch, indent):
    monkeypatch.setattr(jsonstream, "_CHUNK", 7)  # every record straddles many buffer refills
    recs = _records(50)
    path = tmp_path / "a.json"
    path.write_text(json.dumps(recs, indent=indent, ensure_ascii=False), encoding="utf-8")
    reader = RecordReader(path)
    assert reader.format == "json"
    items = list(reader)
    assert [it.record for it in items] == recs
    assert [it.index for it in items] == list(range(50))
    assert reader.bytes_read == path.stat().st_size


def test_jsonl_is_detected_and_blank_lines_skipped(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"question_id": 1, "text": "a"}\n\n   \n{"question_id": 2, "text": "b"}\n', encoding="utf-8")
    reader = RecordReader(path)
    assert reader.format == "jsonl"
    items = list(reader)
    assert [(it.index, it.line, it.record["text"]) for it in items] == [(0, 1, "a"), (1, 4, "b")]


def test_jsonl_broken_line_is_quarantined_not_fatal(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"text": "a"}\n{"text": \n{"text": "c"}\n', encoding="utf-8")
    items = list(RecordReader(path))
    assert len(items) == 3
    assert items[1].record is None and "line 2" in items[1].error and "byte 14" in items[1].error
    assert items[2].record == {"text": "c"}


def test_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_records(2)).encode())
    assert len(list(RecordReader(path))) == 2


@pytest.mark.parametrize(
    "content, message, offset",
    [
        (b'[{"id": "1"}, {"id": ', "invalid JSON in record 1", 21),
        (b'[{"id": "1"} {"id": "2"}]', "expected ',' or ']' after record 0", 13),
        (b'[{"id": "1"},', "truncated", 13),
        (b'[{"id": "1"}] x', "after the end", 14),
        (b'[{"id": "\xff"}]', "invalid UTF-8", 9),
    ],
)
def test_json_errors_name_file_and_byte_offset(tmp_path, content, message, offset):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as err:
        list(RecordReader(path))
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert err.value.offset == offset


def test_byte_offset_counts_multibyte_text_before_the_error(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "_CHUNK", 16)
    good = json.dumps([{"id": "한국어" * 20}], ensure_ascii=False)[:-1]  # drop the closing bracket
    data = (good + ", {oops}]").encode("utf-8")
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    with pytest.raises(InputFileError) as err:
        list(RecordReader(path))
    assert err.value.offset == data.index(b"{oops}") + 1  # the bad property name, in bytes


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"  \n ", "empty"), (b'"just a string"', "expected")])
def test_unusable_files_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=message):
        list(RecordReader(path))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputFileError, match="cannot read"):
        RecordReader(tmp_path / "nope.json")
    with pytest.raises(InputFileError, match="folder"):
        RecordReader(tmp_path)


def test_empty_array_has_no_records(tmp_path):
    path = tmp_path / "e.json"
    path.write_text("[ ]\n")
    assert list(RecordReader(path)) == []


# -- format from the file name; sniffing only when it says nothing ----------------------------------------------------
def _record(i):
    return {"id": f"r{i}", "conversations": [{"from": "human", "value": "<image>\nq"}, {"from": "gpt", "value": "a"}]}


def test_a_one_line_object_in_a_json_file_is_a_document_not_a_jsonl_record(tmp_path):
    """Issue 17: `{"data": [...]}` on one line was read as one JSONL record, giving an empty output and a tick."""
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"data": [_record(0), _record(1)], "meta": {"n": 2}}))
    reader = RecordReader(path)
    assert reader.format == "json"
    with pytest.raises(InputFileError) as err:
        list(reader)
    message = str(err.value)
    assert str(path) in message and "top level is a JSON object" in message
    assert "'data' (2 items)" in message and "--records-key data" in message
    assert err.value.offset == 0


def test_records_key_streams_the_list_under_that_key(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonstream, "_CHUNK", 5)  # the wrapper and every record straddle buffer refills
    recs = [_record(i) for i in range(30)]
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"info": {"v": [1, 2]}, "skipped": [[1], {"a": "]"}], "data": recs, "after": 1},
                               indent=2))
    reader = RecordReader(path, records_key="data")
    items = list(reader)
    assert [it.record for it in items] == recs and [it.index for it in items] == list(range(30))
    assert reader.bytes_read == path.stat().st_size


@pytest.mark.parametrize("doc, message", [
    ({"other": [1]}, "has no key 'data' (--records-key); its list-valued keys: 'other' (1 items)"),
    ({"data": {"a": 1}}, "the value of 'data' is not a list of records"),
    ({"n": 1}, "has no key 'data' (--records-key), and none of its values is a list"),
])
def test_records_key_errors_name_what_is_there(tmp_path, doc, message):
    path = tmp_path / "w.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputFileError, match=re.escape(message)):
        list(RecordReader(path, records_key="data"))


def test_records_key_given_twice_in_the_object_is_an_error(tmp_path):
    path = tmp_path / "w.json"
    path.write_text('{"data": [], "data": []}')
    with pytest.raises(InputFileError, match="'data' appears twice"):
        list(RecordReader(path, records_key="data"))


def test_records_key_is_ignored_for_an_array(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps([_record(0)]))
    assert [it.record for it in RecordReader(path, records_key="data")] == [_record(0)]


def test_jsonl_named_json_is_refused_with_a_hint(tmp_path):
    path = tmp_path / "lines.json"
    path.write_text(json.dumps(_record(0)) + "\n" + json.dumps(_record(1)) + "\n")
    with pytest.raises(InputFileError, match="looks like JSON Lines.*name the file .jsonl"):
        list(RecordReader(path))


def test_a_jsonl_file_is_lines_whatever_its_first_character(tmp_path):
    path = tmp_path / "odd.jsonl"
    path.write_text('[1, 2]\n{"text": "a"}\n')  # a first line that is an array does not make it a document
    reader = RecordReader(path)
    assert reader.format == "jsonl"
    assert [it.record for it in reader] == [[1, 2], {"text": "a"}]


@pytest.mark.parametrize("content, fmt", [
    (b'[{"text": "a"}]', "json"),
    (b'{\n  "data": []\n}', "json"),  # a pretty-printed object
    (b'{"data": [{"text": "a"}]}', "json"),  # one object that is not a record
    (b'{"text": "a"}\n', "jsonl"),  # one record alone
    (b'{"a": 1}\n{"a": 2}\n', "jsonl"),
    (b'\xef\xbb\xbf  {"a": 1}\n{"a": 2}', "jsonl"),
])
def test_a_name_that_says_nothing_is_sniffed(tmp_path, content, fmt):
    path = tmp_path / "data.txt"
    path.write_bytes(content)
    assert RecordReader(path).format == fmt
    assert readers.detect_format(content) == fmt


def test_an_empty_jsonl_file_is_an_error_not_zero_records(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text("\n  \n")
    with pytest.raises(InputFileError, match="file is empty"):
        list(RecordReader(path))


# -- what Python's parser lets through ----------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_duplicate_keys_and_non_finite_numbers_are_flagged_with_their_field(tmp_path, suffix):
    lines = ['{"id": "a", "id": "b", "conversations": [{"from": "human", "value": "x", "value": "y"}]}',
             '{"id": "c", "text": "t", "score": NaN, "m": {"v": [1e400, -Infinity]}}',
             '{"id": "d", "text": "fine", "f": 1.5, "big": 1e300}']
    path = tmp_path / f"odd{suffix}"
    path.write_text("[" + ",\n".join(lines) + "]" if suffix == ".json" else "\n".join(lines))
    items = list(RecordReader(path))
    problems = [[(p.code, p.field) for p in validate(it.record)] for it in items]
    assert problems == [
        [("duplicate_key", "id"), ("duplicate_key", "conversations[0].value")],
        [("non_finite_number", "score"), ("non_finite_number", "m.v[0]"), ("non_finite_number", "m.v[1]")],
        [],
    ]
    assert type(items[2].record) is dict  # a clean record stays a plain dict
    assert items[0].record["id"] == "b"  # the copy keeps the last value, as every JSON reader would
    # The flagged record is JSON again: the literals became strings, so the rejected file can hold it.
    assert json.loads(json.dumps(items[1].record, allow_nan=False))["m"] == {"v": ["1e400", "-Infinity"]}
    detail = validate(items[0].record)[1].detail
    assert "appears 2 times" in detail and '"x", "y"' in detail


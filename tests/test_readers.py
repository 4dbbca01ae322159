"""formats/readers.py: streamed JSON arrays and JSONL, with errors that name the file and byte offset."""

from __future__ import annotations

import json

import pytest

from translate.errors import InputFileError
from translate.formats import jsonstream
from translate.formats.readers import RecordReader


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

"""formats/writers.py: atomic, deterministic outputs that json.load reads back."""

from __future__ import annotations

import json
import re
import os

import pytest

from translate.errors import OutputError
from translate.formats.writers import (
    AtomicFile,
    JsonArrayWriter,
    JsonLinesWriter,
    dumps,
    remove_stale_temporaries,
    write_json,
)


def test_json_array_round_trip_and_determinism(tmp_path):
    recs = [{"id": "1", "v": "한국어 <image>"}, {"id": "2", "nested": {"a": [1, 2.5, None]}}]
    for name in ("a.json", "b.json"):
        with JsonArrayWriter(tmp_path / name) as w:
            for r in recs:
                w.write(r)
    assert json.loads((tmp_path / "a.json").read_text(encoding="utf-8")) == recs
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert "한국어".encode() in (tmp_path / "a.json").read_bytes()  # ensure_ascii=False


def test_empty_array(tmp_path):
    with JsonArrayWriter(tmp_path / "e.json"):
        pass
    assert json.loads((tmp_path / "e.json").read_text()) == []


def test_nothing_appears_until_the_writer_closes(tmp_path):
    target = tmp_path / "out.json"
    with JsonArrayWriter(target) as w:
        w.write({"id": 1})
        assert not target.exists()
        assert len(list(tmp_path.glob(".out.json.*.tmp"))) == 1
    assert target.exists() and not list(tmp_path.glob("*.tmp"))


def test_an_exception_leaves_no_output_and_no_temporary(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with JsonLinesWriter(target) as w:
            w.write({"id": 1})
            raise RuntimeError("boom")
    assert target.read_text() == "old\n"  # the previous file is untouched
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        with AtomicFile(blocker / "sub" / "out.json"):
            pass


def test_stale_temporaries_are_removed(tmp_path):
    (tmp_path / ".ko_a.json.abc.tmp").write_text("partial")
    (tmp_path / ".ko_b.json.abc.tmp").write_text("other output")
    remove_stale_temporaries(tmp_path, "ko_a.json")
    assert sorted(os.listdir(tmp_path)) == [".ko_b.json.abc.tmp"]


@pytest.mark.parametrize("value, where", [
    (float("nan"), "conversations[1].score"), (float("inf"), "conversations[1].score"), (-float("inf"), "")])
def test_non_finite_numbers_are_refused_naming_the_field(tmp_path, value, where):
    """Python would write NaN / Infinity, which is not JSON (issue 17): the writer refuses and names the field."""
    from translate.formats.writers import NonFiniteNumberError

    record = {"id": "1", "conversations": [{"value": "a"}, {"value": "b", "score": value}]}
    data = value if where == "" else record
    with pytest.raises(NonFiniteNumberError, match=re.escape(f"cannot write {where or 'a value'} = {value!r}")):
        with JsonLinesWriter(tmp_path / "out.jsonl") as w:
            w.write(data)
    assert os.listdir(tmp_path) == []  # nothing half-written
    with pytest.raises(OutputError, match="JSON has no NaN or Infinity"):
        write_json(tmp_path / "manifest.json", {"timing": {"seconds": value}})


def test_finite_floats_and_big_integers_are_written_as_before(tmp_path):
    record = {"id": 1, "f": [0.1, -0.0, 1e300, 5e-324], "big": 10 ** 400, "s": "NaN"}
    with JsonArrayWriter(tmp_path / "a.json") as w:
        w.write(record)
    expected = "[\n" + json.dumps(record, ensure_ascii=False, separators=(", ", ": ")) + "\n]\n"
    assert (tmp_path / "a.json").read_text() == expected


@pytest.mark.parametrize("writer_cls", [JsonArrayWriter, JsonLinesWriter])
def test_encoded_records_give_the_same_bytes_as_records_written_one_by_one(tmp_path, writer_cls):
    """A worker process sends records already encoded; mixed with `write` in any grouping, the file is the same."""
    records = [{"id": str(i), "v": "값 \ud800" if i == 3 else i} for i in range(7)]
    with writer_cls(tmp_path / "one") as out:
        for record in records:
            out.write(record)
    with writer_cls(tmp_path / "grouped") as out:
        out.write_encoded([])
        out.write_encoded([dumps(r) for r in records[:3]])
        out.write(records[3])
        out.write_encoded([dumps(r) for r in records[4:]])
        out.write_encoded([])
    assert (tmp_path / "grouped").read_bytes() == (tmp_path / "one").read_bytes()
    with writer_cls(tmp_path / "empty") as out:
        out.write_encoded([])
    with writer_cls(tmp_path / "none"):
        pass
    assert (tmp_path / "empty").read_bytes() == (tmp_path / "none").read_bytes()

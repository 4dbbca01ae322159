"""The malformed-input corpus (tests/robustness/cases/, expectations in cases.toml), run through the real command line.

Every case ends in one of two ways: a one-line error naming the file and the byte offset (exit 2, no ko_* file), or a
completed run where each bad record is quarantined with reasons naming the file, the record and the field. In both,
in = kept + rejected, and no traceback reaches the terminal.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from robustness_support import (
    CORPUS,
    ROOT,
    assert_no_traceback,
    child_env,
    translate_cmd,
    ko_files,
    load_cases,
    read_jsonl,
    run_translate,
    temporaries,
    write_array,
    llava_records,
)
from translate.formats.readers import RecordReader
from translate.formats.records import record_id
from translate.pipeline import REJECTED_RECORD_CAP

CASES = load_cases()
REQUIRED = {  # what the corpus must cover; each maps to at least one case file
    "truncated JSON": ["truncated_mid_record.json", "truncated_after_comma.json"],
    "top level not an array": ["top_level_object.json", "top_level_string.json", "top_level_number.json"],
    "records that are not objects": ["records_not_objects.json", "jsonl_non_object_line.jsonl"],
    "missing or non-list conversations": ["missing_conversations.json", "conversations_not_list.json"],
    "a turn without from or value": ["turn_missing_from.json", "turn_missing_value.json"],
    "a non-string value": ["value_not_string.json"],
    "bad UTF-8": ["bad_utf8_array.json", "bad_utf8_jsonl.jsonl"],
    "a BOM": ["bom_array.json", "bom_jsonl.jsonl"],
    "a 5 MB value": ["huge_value.json.gz"],
    "an empty file": ["empty.json"],
    "duplicate ids": ["duplicate_ids.json"],
    "two <image> tokens": ["two_image_tokens.json"],
    "<image> in a gpt turn": ["image_in_gpt_turn.json"],
    "NUL bytes": ["nul_escape.json", "nul_raw_array.json", "nul_raw_jsonl.jsonl"],
    "lone surrogates": ["lone_surrogate.json"],
    "JSONL with blank lines and a broken line": ["jsonl_blank_and_broken.jsonl"],
    "a mixed from vocabulary": ["mixed_from.json"],
    "a one-line top-level object in a .json file": ["top_level_object_one_line.json"],
    "JSON Lines named .json": ["jsonl_named_json.json"],
    "NaN, Infinity and numbers that overflow": ["nan_and_infinity.json", "number_overflow.json"],
    "duplicate keys": ["duplicate_keys.json", "duplicate_keys_jsonl.jsonl"],
    "turns out of order": ["bad_turn_order.json"],
}


def test_corpus_is_complete_and_every_file_has_an_expectation():
    files = sorted(p.name for p in (CORPUS / "cases").iterdir())
    listed = [c["file"] for c in CASES]
    assert len(files) >= 25
    assert sorted(listed) == files, "every corpus file needs exactly one entry in cases.toml"
    assert len(set(listed)) == len(listed)
    for topic, names in REQUIRED.items():
        for name in names:
            assert name in listed, f"{topic}: {name} missing"
    huge = gzip.decompress((CORPUS / "cases" / "huge_value.json.gz").read_bytes())
    longest = max(len(t["value"]) for r in json.loads(huge) for t in r["conversations"])
    assert longest >= 5_000_000


def _materialise(case: dict, tmp_path: Path) -> Path:
    src_dir = tmp_path / "src"
    src_dir.mkdir(exist_ok=True)
    name = case["file"]
    data = (CORPUS / "cases" / name).read_bytes()
    if name.endswith(".gz"):
        data, name = gzip.decompress(data), name[:-3]
    path = src_dir / name
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def corpus_runs(tmp_path_factory):
    """Every case run once through the real command line, a few at a time (each run is its own process)."""
    from concurrent.futures import ThreadPoolExecutor

    # Folders are made here, in one thread (pytest's temporary-folder factory is not thread-safe).
    jobs = []
    for case in CASES:
        tmp = tmp_path_factory.mktemp(case["file"].replace(".", "_"))
        jobs.append((case["file"], _materialise(case, tmp), tmp / "out"))

    def one(job):
        name, src, out = job
        proc = subprocess.run(translate_cmd("run", "--src", src, "--backend", "pseudo", "--out", out, "--quiet"),
                              capture_output=True, text=True, env=child_env(), timeout=300, cwd=ROOT)
        return name, (src, out, proc)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, jobs))


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_case(case, corpus_runs):
    src, out, proc = corpus_runs[case["file"]]
    assert_no_traceback(proc)
    expected_exit = case.get("exit", 0)
    assert proc.returncode == expected_exit, proc.stderr
    if expected_exit:
        _check_error(case, src, out, proc)
    else:
        _check_completed(case, src, out, proc)


def _check_error(case: dict, src: Path, out: Path, proc) -> None:
    message = proc.stderr.strip()
    assert message.startswith("error: "), message
    assert "\n" not in message, f"the error must be one line: {message!r}"
    assert str(src) in message
    for part in case["message"]:
        assert part in message, f"{part!r} not in {message!r}"
    assert ko_files(out) == [], "a failed run left output behind"
    assert temporaries(out) == []


def _check_completed(case: dict, src: Path, out: Path, proc) -> None:
    stem = src.name.rsplit(".", 1)[0]
    ext = ".jsonl" if src.suffix == ".jsonl" else ".json"
    output = out / f"ko_{stem}{ext}"
    rejected_path = out / f"ko_{stem}.rejected.jsonl"
    manifest = json.loads((out / f"ko_{stem}.manifest.json").read_text(encoding="utf-8"))
    assert temporaries(out) == []
    with open(output, "rb") as fh:
        raw = fh.read()
    raw.decode("utf-8")  # strict: the output is valid UTF-8 whatever the input held
    kept = json.loads(raw) if ext == ".json" else read_jsonl(output)
    rejected = read_jsonl(rejected_path)
    for path in (output, rejected_path, out / f"ko_{stem}.qc.jsonl", out / f"ko_{stem}.manifest.json"):
        _assert_strict_json(path)

    # in = kept + rejected, from the files themselves and from the manifest.
    items = list(RecordReader(src))
    assert len(items) == case["records"]
    assert len(kept) == case["kept"]
    assert len(kept) + len(rejected) == len(items)
    counts = manifest["counts"]
    assert (counts["records_in"], counts["records_kept"], counts["records_rejected"]) == (
        len(items), len(kept), len(rejected))
    assert counts["duplicate_ids"] == case.get("duplicate_ids", 0)

    # Each record in exactly one place; kept ones in input order with their ids; rejected ones name everything.
    rejected_idx = [r["index"] for r in rejected]
    assert len(set(rejected_idx)) == len(rejected_idx)
    kept_items = [it for it in items if it.index not in set(rejected_idx)]
    assert [record_id(r) for r in kept] == [record_id(it.record) for it in kept_items]
    for record, item in zip(kept, kept_items):
        assert set(record) == set(item.record) and list(record) == list(item.record)  # unknown keys, same order
    got = sorted((r["index"], reason["code"], reason["field"]) for r in rejected for reason in r["reasons"])
    assert got == sorted(tuple(x) for x in case["rejects"])
    by_index = {it.index: it for it in items}
    for entry in rejected:
        item = by_index[entry["index"]]
        assert entry["file"] == str(src)
        assert entry["id"] == record_id(item.record)
        if item.line is not None:
            assert entry["line"] == item.line
        if item.error is None:
            if isinstance(entry["source"], dict) and entry["source"].get("truncated") is True:
                # Over the size cap: a marker that identifies the record (translate.pipeline.capped_record).
                data = json.dumps(item.record, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
                assert len(data) > REJECTED_RECORD_CAP and entry["source"]["bytes"] == len(data)
                assert entry["source"]["sha256"] == hashlib.sha256(data).hexdigest()
            else:
                assert entry["source"] == item.record  # quarantined whole: nothing lost
        for reason in entry["reasons"]:
            detail = reason["detail"]
            assert str(src) in detail and f"record {entry['index']}" in detail, detail
            assert (reason["field"] or "<record>") in detail, detail
    assert sum(manifest["counts"]["reasons"].values()) == len(got)


def _assert_strict_json(path: Path) -> None:
    """Every file written is JSON as the standard defines it: no NaN, Infinity or -Infinity (Python's reader accepts
    them, LLaVA's loader and most others do not)."""
    def refuse(literal):
        raise AssertionError(f"{path.name} holds the non-JSON literal {literal}")

    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        for line in text.splitlines():
            json.loads(line, parse_constant=refuse)
    else:
        json.loads(text, parse_constant=refuse)


def test_error_after_translated_windows_leaves_no_output(tmp_path):
    """A syntax error deep in the file, found after earlier windows were translated and written: exit 2, no ko_*
    file; what was translated stays in the memory, so a fixed file resumes without paying again."""
    records = llava_records(40)
    good = json.dumps(records, ensure_ascii=False)
    src = tmp_path / "late_error.json"
    src.write_text(good[:-1] + ', {"id": "bad", "conversations": [}]', encoding="utf-8")
    out = tmp_path / "out"
    memory = tmp_path / "tm.sqlite"
    proc = run_translate("run", "--src", src, "--backend", "pseudo", "--out", out, "--memory", memory,
                         "--window", "5", "--quiet")
    assert proc.returncode == 2
    assert "late_error.json at byte" in proc.stderr and "record 40" in proc.stderr
    assert ko_files(out) == [] and temporaries(out) == []

    write_array(src, records)
    proc = run_translate("run", "--src", src, "--backend", "pseudo", "--out", out, "--memory", memory, "--quiet")
    assert proc.returncode == 0, proc.stderr
    counts = json.loads((out / "ko_late_error.manifest.json").read_text())["counts"]
    assert counts["records_kept"] == 40
    assert counts["segments_sent"] == 0 and counts["memory_hits"] == counts["segments_unique"]


def test_undecodable_file_name(tmp_path):
    """A file name that is not valid UTF-8 (possible on Linux) still gives outputs and a readable manifest."""
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    raw_name = b"caf\xe9.json"
    path = os.path.join(os.fsencode(src_dir), raw_name)
    with open(path, "wb") as fh:
        fh.write(json.dumps(llava_records(3)).encode())
    out = tmp_path / "out"
    proc = run_translate("run", "--src", os.fsdecode(path), "--backend", "pseudo", "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    names = sorted(os.listdir(os.fsencode(out)))
    assert b"ko_caf\xe9.json" in names and b"ko_caf\xe9.manifest.json" in names
    manifest = json.loads(open(os.path.join(os.fsencode(out), b"ko_caf\xe9.manifest.json"), "rb").read())
    assert manifest["counts"]["records_kept"] == 3


def test_missing_source_and_folder_as_source(tmp_path):
    proc = run_translate("run", "--src", tmp_path / "nope.json", "--backend", "pseudo", "--out", tmp_path)
    assert proc.returncode == 2 and "nope.json" in proc.stderr and "no such file" in proc.stderr
    proc = run_translate("run", "--src", tmp_path, "--backend", "pseudo", "--out", tmp_path / "o")
    assert proc.returncode == 2 and str(tmp_path) in proc.stderr and "folder" in proc.stderr
    assert ko_files(tmp_path / "o") == []


def test_duplicate_ids_are_counted_across_windows_with_flat_memory(tmp_path):
    """Ids are remembered in a disk-backed set, not in Python objects: counting duplicates over 10,000 distinct ids
    allocates no more Python memory than over 1,000 (a Python set of the ids would add well over a megabyte)."""
    import tracemalloc

    from translate.backends.pseudo import PseudoBackend
    from translate.memory import TranslationMemory
    from translate.pipeline import Pipeline, RunOptions

    def peak(n: int) -> tuple[int, dict]:
        src = tmp_path / f"ids{n}.jsonl"
        with open(src, "w") as fh:
            for i in range(n):
                fh.write('{"id": "record-%08d", "text": ""}\n' % (i // 2))  # every id twice, across windows
        with TranslationMemory(tmp_path / f"tm{n}.sqlite") as memory:
            pipeline = Pipeline(PseudoBackend("en", "ko"), memory, RunOptions(window=257))
            tracemalloc.start()
            try:
                stats = pipeline.run_file(src, tmp_path / f"o{n}")
                return tracemalloc.get_traced_memory()[1], stats.as_dict()
            finally:
                tracemalloc.stop()

    small_peak, small = peak(2_000)
    large_peak, large = peak(20_000)
    assert small["duplicate_ids"] == 1_000 and large["duplicate_ids"] == 10_000
    assert large["records_kept"] == 20_000
    assert large_peak - small_peak < 300_000, (small_peak, large_peak)

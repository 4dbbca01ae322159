"""`check`: matching by id and position, missing records on either side, the same checks as a run, and its outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import qc_support
from translate.audit import check_files, match_records
from translate.formats.readers import RecordReader


def _write(path: Path, records: list, jsonl: bool = False) -> Path:
    if jsonl:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    else:
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_hand_translation_passes(tmp_path):
    stats, paths = check_files(qc_support.FIXTURE / "en.json", qc_support.FIXTURE / "ko.json", tmp_path)
    assert stats.passed == 22 and stats.rejected == 0 and stats.matched_by_id == 22
    assert stats.turns_checked == 56
    assert _lines(paths["rejected"]) == []
    log = _lines(paths["qc_log"])
    assert len(log) == 56 and {row["verdict"] for row in log} == {"kept"}


def test_corrupted_file_flags_exactly_the_corrupted_and_missing_records(tmp_path):
    stats, paths = check_files(qc_support.FIXTURE / "en.json", qc_support.FIXTURE / "ko_corrupted.json", tmp_path)
    truth = json.loads((qc_support.FIXTURE / "ko_corrupted.labels.json").read_text(encoding="utf-8"))
    rejected = {r["id"]: r for r in _lines(paths["rejected"])}
    assert set(rejected) == {rid for rid, kind in truth.items() if kind != "clean"}
    for rid, kind in truth.items():
        if kind == "missing":
            assert [x["code"] for x in rejected[rid]["reasons"]] == ["missing_translation"]
            assert rejected[rid]["candidate"] is None and rejected[rid]["source"]["id"] == rid
        elif kind != "clean":
            codes = {x["code"] for x in rejected[rid]["reasons"]}
            assert codes & set(qc_support.KINDS[kind]), (rid, kind, codes)
            assert rejected[rid]["candidate"]["id"] == rid
    summary = json.loads(paths["summary"].read_text())
    assert summary["counts"]["missing_translation"] == 1 and summary["counts"]["rejected"] == len(rejected)


def test_matching_by_id_survives_reordering_and_extra_records(tmp_path):
    en, ko = qc_support.load_records()
    shuffled = list(reversed(ko[:10])) + ko[12:] + [dict(ko[0], id="not-in-source")]
    src = _write(tmp_path / "en.json", en)
    tr = _write(tmp_path / "ko.jsonl", shuffled, jsonl=True)  # JSONL against a JSON array
    stats, paths = check_files(src, tr, tmp_path / "out")
    assert stats.matched_by_id == 20 and stats.passed == 20
    assert stats.missing_translation == 2 and stats.unmatched_translation == 1
    rejected = _lines(paths["rejected"])
    assert sorted(r["id"] for r in rejected) == sorted([en[10]["id"], en[11]["id"], "not-in-source"])
    assert next(r for r in rejected if r["id"] == "not-in-source")["source"] is None


def test_records_without_ids_match_by_position(tmp_path):
    en, ko = qc_support.load_records()
    strip = lambda recs: [{k: v for k, v in r.items() if k != "id"} for r in recs]  # noqa: E731
    src = _write(tmp_path / "en.json", strip(en[:6]))
    tr = _write(tmp_path / "ko.json", strip(ko[:6]))
    stats, _ = check_files(src, tr, tmp_path / "out")
    assert stats.matched_by_position == 6 and stats.passed == 6
    # A translation without ids against a source with ids still pairs by position.
    src = _write(tmp_path / "en2.json", en[:4])
    tr = _write(tmp_path / "ko2.json", strip(ko[:4]))
    stats, _ = check_files(src, tr, tmp_path / "out2")
    assert stats.matched_by_position == 4 and stats.missing_translation == 0 and stats.unmatched_translation == 0


def test_structure_keys_spans_and_invalid_records(tmp_path):
    en, ko = qc_support.load_records()
    src_records = en[:4] + [{"id": "box", "image": "b.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhere is the dog? Answer with [x1, y1, x2, y2]."},
        {"from": "gpt", "value": "The dog is at [0.12, 0.34, 0.56, 0.78] near the door."}]}]
    tr_records = [
        dict(ko[0], conversations=ko[0]["conversations"][:1]),  # a turn dropped
        dict(ko[1], image="other.jpg"),  # an untranslated key changed
        {"id": ko[2]["id"], "conversations": "oops"},  # not a valid record
        ko[3],
        {"id": "box", "image": "b.jpg", "conversations": [
            {"from": "human", "value": "<image>\n개는 어디에 있나요? [x1, y1, x2, y2] 형식으로 답하세요."},
            {"from": "gpt", "value": "개는 문 근처 [0.12, 0.34, 0.56, 0.79]에 있습니다."}]},  # box changed
    ]
    stats, paths = check_files(_write(tmp_path / "en.json", src_records), _write(tmp_path / "ko.json", tr_records),
                               tmp_path / "out")
    by_id = {r["id"]: [x["code"] for x in r["reasons"]] for r in _lines(paths["rejected"])}
    assert by_id[ko[0]["id"]] == ["structure_mismatch"]
    assert by_id[ko[1]["id"]] == ["field_changed"]
    assert by_id[ko[2]["id"]] == ["translated_invalid"]
    assert "span_lost" in by_id["box"]
    assert ko[3]["id"] not in by_id and stats.passed == 1


def test_check_command_writes_outputs_and_prints_a_summary(tmp_path):
    out = tmp_path / "audit"
    res = subprocess.run([sys.executable, "-m", "translate", "check", "--src", str(qc_support.FIXTURE / "en.json"),
                          "--translated", str(qc_support.FIXTURE / "ko_corrupted.json"), "--out", str(out), "-q",
                          "--strict"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr  # --strict: rejected records make it fail
    assert "5 passed, 17 rejected (1 missing, 0 unmatched)" in " ".join(res.stdout.split())
    names = sorted(p.name for p in out.iterdir())
    assert names == ["ko_corrupted.check.json", "ko_corrupted.qc.jsonl", "ko_corrupted.rejected.jsonl",
                     "report.html"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "missing_translation" in html and "http" not in html.replace("http-equiv", "")
    missing = subprocess.run([sys.executable, "-m", "translate", "check", "--src", str(tmp_path / "nope.json"),
                              "--translated", str(qc_support.FIXTURE / "ko.json")], capture_output=True, text=True,
                             timeout=120)
    assert missing.returncode == 2 and "nope.json: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_match_records_yields_every_record_once(tmp_path):
    en, ko = qc_support.load_records()
    src = _write(tmp_path / "a.json", en)
    tr = _write(tmp_path / "b.json", ko[5:] + ko[:3])
    pairs = list(match_records(RecordReader(src), RecordReader(tr)))
    assert sorted(s.index for s, _, _ in pairs if s is not None) == list(range(len(en)))
    assert sorted(t.index for _, t, _ in pairs if t is not None) == list(range(len(ko) - 2))
    assert [how for _, _, how in pairs].count("missing") == 2


def test_check_catches_two_answers_swapped_within_a_record(tmp_path):
    """Each answer reads as fine Korean on its own; only the record-level check sees they answer the wrong turns."""
    turns = [("<image>\nHow many animals are there?", "<image>\n동물이 몇 마리 있습니까?"),
             ("There are 3 dogs and 2 cats in the garden.", "Canon EOS 카메라는 1998년에 Canon이 만들었습니다."),
             ("Who made the camera?", "누가 카메라를 만들었습니까?"),
             ("The Canon EOS camera was made in 1998 by Canon.", "정원에 개 3마리와 고양이 2마리가 있습니다.")]
    roles = ["human", "gpt", "human", "gpt"]
    src = _write(tmp_path / "en.json", [{"id": "s", "image": "a.jpg", "conversations": [
        {"from": r, "value": s} for r, (s, _) in zip(roles, turns)]}])
    swapped = _write(tmp_path / "ko.json", [{"id": "s", "image": "a.jpg", "conversations": [
        {"from": r, "value": t} for r, (_, t) in zip(roles, turns)]}])
    stats, paths = check_files(src, swapped, tmp_path / "check")
    assert stats.rejected == 1
    (rejected,) = _lines(paths["rejected"])
    assert "swapped_turns" in {r["code"] for r in rejected["reasons"]}
    fixed = _write(tmp_path / "ko_fixed.json", [{"id": "s", "image": "a.jpg", "conversations": [
        {"from": r, "value": t} for r, t in zip(roles, [turns[0][1], turns[3][1], turns[2][1], turns[1][1]])]}])
    stats, _ = check_files(src, fixed, tmp_path / "check_fixed")
    assert stats.rejected == 0

"""Meaning-level checks on the hand-written fixture (tests/fixtures/qc_meaning): recall per kind of subtle error,
no false rejection of good translations (captions with Latin names and `person` included), and the pieces."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from translate.qc import QualityChecker, qc_row, write_qc_rows
from translate.qc.speech_level import classify
from translate.qc.units import units
from translate.sentences import sentences, split

FIXTURE = Path(__file__).parent / "fixtures" / "qc_meaning"
KO = QualityChecker("ko")


def _turns():
    return json.loads((FIXTURE / "turns.json").read_text(encoding="utf-8"))


def _records():
    return json.loads((FIXTURE / "records.json").read_text(encoding="utf-8"))


def evaluate(checker: QualityChecker) -> dict:
    """Per kind: n, flagged (a reason or a warning), rejected (a reason). Good turns/records: false rejections."""
    n, flagged, rejected = Counter(), Counter(), Counter()
    false_rejections = []
    for t in _turns():
        check = checker.inspect(t["source"], t["output"], t["role"], "f")
        kind = t["kind"] or "good"
        n[kind] += 1
        rejected[kind] += bool(check.reasons)
        flagged[kind] += bool(check.reasons or check.warnings)
        if t["kind"] is None and check.reasons:
            false_rejections.append((t["id"], check.codes))
    for r in _records():
        fields = [f"conversations[{i}].value" for i in range(len(r["roles"]))]
        reasons = checker.inspect_record(r["sources"], r["outputs"], r["roles"], fields)
        reasons += [x for s, o, role, f in zip(r["sources"], r["outputs"], r["roles"], fields)
                    for x in checker.check_turn(s, o, role, f)]
        kind = r["kind"] or "good"
        n[kind] += 1
        rejected[kind] += bool(reasons)
        flagged[kind] += bool(reasons)
        if r["kind"] is None and reasons:
            false_rejections.append((r["id"], [x.code for x in reasons]))
    errors = sum(v for k, v in n.items() if k != "good")
    return {"n": dict(n), "flagged": dict(flagged), "rejected": dict(rejected),
            "recall": sum(v for k, v in flagged.items() if k != "good") / errors,
            "false_rejections": false_rejections}


def test_recall_per_kind_and_no_false_rejections():
    result = evaluate(KO)
    print("\n" + json.dumps(result, ensure_ascii=False, indent=1))
    errors = sum(v for k, v in result["n"].items() if k != "good")
    assert errors >= 30 and result["n"]["good"] >= 30
    assert result["recall"] >= 0.8
    assert len(result["false_rejections"]) <= 0.02 * result["n"]["good"]
    for kind, count in result["n"].items():
        if kind != "good":
            assert result["flagged"].get(kind, 0) / count >= 0.5, kind


@pytest.mark.parametrize("output", ["만화 장난감 10개 세트, person person 액션 피규어", "OpenCV ArUco 마커 증강 현실"])
def test_latin_names_from_the_source_are_not_the_wrong_language(output):
    source = {"만": "cartoon toys set of 10, person person action figures"}.get(output[0],
                                                                            "OpenCV ArUco marker augmented reality")
    assert KO.check_turn(source, output, "gpt", "f") == []


def test_each_meaning_check_names_what_it_found():
    src = "The bus number is 42. It is parked near the stop. A man is waiting."
    dropped = KO.check_turn(src, "버스 번호는 42번입니다. 한 남자가 기다리고 있습니다.", "gpt", "f")
    assert [r.code for r in dropped] == ["sentence_alignment"]
    mixed = KO.check_turn(src, "버스 번호는 42번입니다. 정류장 근처에 서 있어. 한 남자가 기다리고 있습니다.", "gpt", "f")
    assert [r.code for r in mixed] == ["speech_level"] and "반말" in mixed[0].detail
    unit = KO.check_turn("The TV is 55 inches wide.", "TV는 폭이 55센티미터입니다.", "gpt", "f")
    assert [r.code for r in unit] == ["anchor_mismatch"] and "inch" in unit[0].detail


def test_negation_is_a_warning_logged_but_not_a_rejection():
    check = KO.inspect("The man is not wearing a helmet.", "남자는 헬멧을 쓰고 있습니다.", "gpt", "f")
    assert check.reasons == [] and [w.code for w in check.warnings] == ["negation"]
    strict = QualityChecker("ko", {"negation": {"severity": "reject"}})
    assert strict.check_turn("The man is not wearing a helmet.", "남자는 헬멧을 쓰고 있습니다.", "gpt", "f")[0].code \
        == "negation"

    class Log:
        text = ""

        def write_text(self, text):
            self.text += text

    log = Log()
    write_qc_rows(log, "f.json", 0, "a", [("gpt", "f", check)], "kept")
    row = json.loads(log.text)
    assert row == qc_row("f.json", 0, "a", "gpt", "f", check, "kept")
    assert row["warnings"] == ["negation"] and row["levels"] == {"hapsyo": 1} and row["reasons"] == []


def test_speech_levels_and_the_expected_register():
    assert [classify(s) for s in ["보입니다.", "있나요?", "있다.", "있어.", "거야!", "2층 침대가 있는 방"]] == [
        "hapsyo", "haeyo", "haera", "banmal", "banmal", None]
    formal = QualityChecker("ko", {"speech_level": {"expected_register": {"gpt": "합쇼체"}}})
    assert formal.check_turn("It is sunny.", "화창해요.", "gpt", "f")[0].code == "speech_level"
    assert formal.check_turn("Is it sunny?", "화창한가요?", "human", "f") == []


def test_record_checks_find_swapped_answers_and_a_turn_in_another_level():
    records = {r["id"]: r for r in _records()}
    fields = [f"conversations[{i}].value" for i in range(4)]
    r = records["s04"]
    found = KO.inspect_record(r["sources"], r["outputs"], r["roles"], fields)
    assert {(x.code, x.field) for x in found} == {("swapped_turns", fields[1]), ("swapped_turns", fields[3])}
    r = records["m01"]
    assert [(x.code, x.field) for x in KO.inspect_record(r["sources"], r["outputs"], r["roles"], fields)] == [
        ("record_speech_level", fields[3])]
    assert QualityChecker("ko", {"swapped_turns": False, "record_speech_level": False}).inspect_record(
        r["sources"], r["outputs"], r["roles"], fields) == []


def test_korean_rules_stay_off_for_other_targets_and_on_pseudo_output():
    ja = QualityChecker("ja")
    assert ja.check_turn("The man is not wearing a helmet.", "男性はヘルメットをかぶっています。", "gpt", "f") == []
    pseudo = "터가 마가나 하서 나버다 가 가아바가마 나. 하다 터가 가아바가 마카."  # Hangul-looking, no grammar
    assert KO.check_turn("The man is not here. He is at the park.", pseudo, "gpt", "f") == []


def test_sentence_splitter_splits_after_a_number_but_not_inside_an_inline_list():
    assert sentences(split("The bus number is 42. It is parked near the stop.", None)) == [
        "The bus number is 42.", "It is parked near the stop."]
    assert sentences(split("Steps: 1. Fill the glass 2. Drink it.", None)) == ["Steps: 1. Fill the glass 2. Drink it."]
    assert units("버스는 42번입니다. 정류장에 서 있어요 나무가 있다.\n1. 빵\n2. 햄") == [
        "버스는 42번입니다.", "정류장에 서 있어요", "나무가 있다.", "빵", "햄"]


def test_unknown_settings_of_new_checks_are_clear_errors():
    from translate.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown threshold 'tolerence'"):
        QualityChecker("ko", {"speech_level": {"tolerence": 0.1}})
    with pytest.raises(ConfigError, match="expected_register"):
        QualityChecker("ko", {"speech_level": {"expected_register": "polite-ish"}})
    with pytest.raises(ConfigError, match="severity"):
        QualityChecker("ko", {"negation": {"severity": "loud"}})

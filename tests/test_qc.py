"""Quality checks: each check on real Korean, switches and thresholds, precision/recall on the parallel fixture, and
the pipeline's verdicts, rejected file and QC log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import qc_support
from translate.qc import scripts as qc_scripts
from translate.backends.base import Backend
from translate.errors import ConfigError
from translate.memory import TranslationMemory
from translate.pipeline import Pipeline, RunOptions
from translate.protect import Protector
from translate.qc import CHECKS, QualityChecker

KO = QualityChecker("ko")

# Real pairs from the fixture (LLaVA conversation sample 000, hand-translated).
SRC = "The fire hydrant is partially visible, with a significant portion of it covered by the deep snow."
OUT = "소화전은 일부만 보이며, 상당 부분이 깊은 눈에 덮여 있습니다."
SRC_NUM = "person attends the red carpet during the 14th rome film festival on october 17 2018 in rome italy"
OUT_NUM = "2018년 10월 17일 이탈리아 로마에서 열린 제14회 로마 영화제 레드카펫 행사에 참석한 인물"


def codes(checker, source, output, role="gpt"):
    return [r.code for r in checker.check_turn(source, output, role, "conversations[1].value")]


def test_clean_korean_passes_every_check():
    assert codes(KO, SRC, OUT) == []
    assert codes(KO, SRC_NUM, OUT_NUM) == []
    assert codes(KO, "<image>\nWhat is this?", "<image>\n이것은 무엇인가요?", "human") == []


@pytest.mark.parametrize("output, code", [
    (SRC, "untranslated"),
    ("", "empty_output"),
    ("   ", "empty_output"),
    ("手入れされた生け垣があり、その前に大きな石の噴水がある庭です。", "wrong_script"),
    ("소화전은 일부만 보이며, 상당 부분이", "truncated"),
    ("소화전은 일부만 " * 12 + "보입니다.", "repetition"),
    (" ".join([OUT] * 5), "length_ratio"),
])
def test_each_corruption_gets_its_code(output, code):
    assert code in codes(KO, SRC, output)


def test_numbers_changed_and_english_sentence_left_in():
    assert codes(KO, SRC_NUM, OUT_NUM.replace("17일", "18일")) == ["number_mismatch"]
    reasons = KO.check_turn(SRC_NUM, OUT_NUM.replace("2018년", "2019년"), "gpt", "f")
    assert "2018" in reasons[0].detail and "2019" in reasons[0].detail
    mixed = "소화전은 일부만 보입니다. A significant portion of it is covered by the deep snow."
    assert "untranslated" in codes(KO, SRC, mixed)


def test_thousands_separators_and_short_brand_names_are_fine():
    assert codes(KO, "pantene prov 2in1 cream conditioner, 1,250 ml, 4 units pack",
                 "팬틴 Pro-V 2in1 크림 컨디셔너, 1250 ml, 4개입 팩") == []
    assert codes(KO, "The image shows two men playing a video game on a Nintendo Wii console.",
                 "이미지에는 닌텐도 Wii 콘솔로 비디오 게임을 하는 두 남자가 있습니다.") == []


def test_image_token_check_cannot_be_switched_off():
    everything_off = QualityChecker("ko", {name: False for name in CHECKS})
    assert codes(everything_off, "<image>\nWhat is this?", "이것은 무엇인가요?", "human") == ["image_token"]
    assert codes(everything_off, SRC, "") == []
    with pytest.raises(ConfigError, match="image_token cannot be switched off"):
        QualityChecker("ko", {"image_token": False})


@pytest.mark.parametrize("check, output", [
    ("untranslated", SRC),
    ("empty_output", ""),
    ("truncated", "소화전은 일부만 보이며, 상당 부분이"),
    ("length_ratio", " ".join([OUT] * 5)),
])
def test_every_check_can_be_switched_off(check, output):
    assert check in codes(KO, SRC, output)
    assert check not in codes(QualityChecker("ko", {check: False}), SRC, output)
    assert check not in codes(QualityChecker("ko", {check: {"enabled": False}}), SRC, output)


def test_thresholds_come_from_the_settings_table():
    assert codes(KO, SRC, OUT) == []  # ratio 0.35
    strict = QualityChecker("ko", {"length_ratio": {"gpt": [0.5, 1.0]}})
    assert codes(strict, SRC, OUT) == ["length_ratio"]
    assert codes(strict, SRC, OUT, role="human") == []  # only gpt bounds changed
    own_role = QualityChecker("ko", {"length_ratio": {"caption": [0.9, 1.1]}})
    assert codes(own_role, SRC, OUT, role="caption") == ["length_ratio"]
    mostly = "소화전은 partially visible, significant portion covered deep snow 입니다."
    assert "untranslated" in codes(KO, SRC, mostly)
    lenient = QualityChecker("ko", {"untranslated": {"max_copied": 0.95, "max_latin_run": 12}})
    assert "untranslated" not in codes(lenient, SRC, mostly)


@pytest.mark.parametrize("settings, message", [
    ({"lenght_ratio": False}, "unknown check 'lenght_ratio'"),
    ({"length_ratio": {"gpt": [1.0, 0.5]}}, "low < high"),
    ({"repetition": {"min_repeat": 3}}, "unknown threshold 'min_repeat'"),
    ({"truncated": "yes"}, "true, false or a table"),
])
def test_bad_settings_are_clear_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        QualityChecker("ko", settings)


def test_langdetect_runs_only_where_the_share_is_ambiguous(monkeypatch):
    calls = []
    real = qc_scripts.langdetect()

    def counting(text):
        calls.append(text)
        return real(text)

    monkeypatch.setattr(qc_scripts, "_LANGDETECT", counting)
    for turn in qc_support.load_turns():
        KO.check_turn(turn.source, turn.output, turn.role, "f")
    assert calls == []  # clean Korean: the script share decides alone
    half = "소화전은 일부만 보이며 깊은 눈에 덮여 있습니다. Hydrant partially visible."
    KO.check_turn(SRC, half, "gpt", "f")
    # langdetect reads the output without the Latin words it shares verbatim with the source ("partially").
    assert len(calls) == 1 and "Hydrant" in calls[0] and "partially" not in calls[0]
    # Seeded: the same answer every time.
    detail = KO.check_turn(SRC, "소화전 The hydrant is partially visible in snow.", "gpt", "f")
    again = KO.check_turn(SRC, "소화전 The hydrant is partially visible in snow.", "gpt", "f")
    assert detail == again


@pytest.mark.parametrize("target, output, wrong", [
    ("ja", "手入れされた生け垣があり、その前に大きな石の噴水がある庭です。", False),
    ("ja", "一朵粉色的亚洲百合，中间有几处红色尖端，还有白色的雄蕊。", True),  # Chinese, no kana
    ("zh", "一朵粉色的亚洲百合，中间有几处红色尖端，还有白色的雄蕊。", False),
    ("zh", "手入れされた生け垣があり、その前に大きな石の噴水がある庭です。", True),
    ("ru", "солдат стоит на причале возле корабля, на заднем плане госпитальное судно", False),
    ("ru", "a soldier stands at the dock near a ship with the hospital ship behind", True),
    ("fr", "un soldat se tient sur le quai près d'un navire, avec le navire-hôpital en arrière-plan", False),
    ("fr", "a soldier is standing on the quay close to some boat, hospital vessel seen behind", True),
    ("vi", "Một người lính đứng ở bến tàu gần một con tàu, phía sau là tàu bệnh viện.", False),
])
def test_other_targets_use_their_own_script(target, output, wrong):
    source = "a soldier stands at the dock near a ship with the hospital ship in the background"
    found = codes(QualityChecker(target), source, output)
    assert ("wrong_script" in found) is wrong, found


def test_precision_and_recall_on_the_parallel_fixture():
    result = qc_support.evaluate(QualityChecker("ko"))
    print("\n" + qc_support.format_evaluation(result))
    assert result["clean"] >= 50 and result["corrupted"] >= 100
    assert result["precision"] >= 0.95
    assert result["recall"] >= 0.95
    for kind, m in result["per_kind"].items():
        assert m["n"] >= 5, kind
        assert m["recall"] >= 0.9, (kind, m)
        assert m["own_code_recall"] >= 0.85, (kind, m)
    for code, m in result["per_code"].items():
        assert m["precision"] >= 0.9, (code, m)
    assert len(result["false_alarms"]) <= 2


def test_every_kind_of_corruption_is_in_the_fixture():
    kinds = {s.kind for s in qc_support.corrupted()}
    assert kinds == set(qc_support.KINDS)


# -- through the pipeline ------------------------------------------------------------------------------------------

class DictionaryBackend(Backend):
    """Translates from a fixed table of protected bodies (the hand translations); fails loudly on anything else."""

    name = "dictionary"

    def __init__(self, table: dict[str, str]):
        super().__init__("en", "ko")
        self.table = table

    def translate(self, texts):
        return [self.table[t] for t in texts]


def _table(corrupt: dict[tuple[str, int], str] | None = None) -> dict[str, str]:
    p = Protector()
    table = {}
    for t in qc_support.load_turns():
        out = (corrupt or {}).get((t.id, t.turn), t.output)
        body = p.protect(out).body if "<image>" in t.source else out
        table[p.protect(t.source).body] = body
    return table


def _run(tmp_path: Path, table, on_reject="drop"):
    memory = TranslationMemory(tmp_path / "tm.sqlite")
    try:
        pipe = Pipeline(DictionaryBackend(table), memory, RunOptions(on_reject=on_reject))
        stats = pipe.run_file(qc_support.FIXTURE / "en.json", tmp_path / "out")
    finally:
        memory.close()
    out = tmp_path / "out"
    log = [json.loads(line) for line in (out / "ko_en.qc.jsonl").read_text(encoding="utf-8").splitlines()]
    rejected = [json.loads(line) for line in (out / "ko_en.rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    return stats, json.loads((out / "ko_en.json").read_text(encoding="utf-8")), rejected, log


def test_pipeline_keeps_the_clean_translation_and_logs_every_turn(tmp_path):
    stats, written, rejected, log = _run(tmp_path, _table())
    en, ko = qc_support.load_records()
    assert stats.records_kept == len(en) and rejected == []
    assert written == ko  # the hand translation, byte for byte, every <image> where it was
    assert len(log) == sum(len(r["conversations"]) for r in en)
    first = log[0]
    assert set(first) - {"levels", "warnings"} == {"file", "index", "id", "role", "field", "src_chars", "out_chars",
                                                   "ratio", "script", "reasons", "verdict"}
    assert first["levels"] == {"haeyo": 1}  # "주어진 이미지를 간략하게 설명해 주세요."
    assert first["id"] == en[0]["id"] and first["role"] == "human" and first["verdict"] == "kept"
    assert all(row["script"] >= 0.6 for row in log if row["out_chars"] > 5)
    manifest = json.loads((tmp_path / "out" / "ko_en.manifest.json").read_text())
    assert manifest["outputs"]["qc_log"].endswith("ko_en.qc.jsonl")


def test_pipeline_rejects_corrupted_turns_with_reasons(tmp_path):
    corrupt = {("prompts-conversation-000", 1): "",
               ("000019981", 1): "2018년 10월 18일 이탈리아 로마에서 열린 제14회 로마 영화제 레드카펫 행사에 참석한 인물"}
    stats, written, rejected, log = _run(tmp_path, _table(corrupt))
    assert stats.records_rejected == 2 and stats.records_kept + 2 == stats.records_in
    by_id = {r["id"]: r for r in rejected}
    assert [x["code"] for x in by_id["000019981"]["reasons"]] == ["number_mismatch"]
    assert by_id["000019981"]["candidate"]["conversations"][1]["value"].startswith("2018년 10월 18일")
    assert by_id["000019981"]["source"]["id"] == "000019981"
    assert [x["code"] for x in by_id["prompts-conversation-000"]["reasons"]] == ["empty_output"]
    flagged = [row for row in log if row["reasons"]]
    assert {(row["id"], tuple(row["reasons"]), row["verdict"]) for row in flagged} == {
        ("000019981", ("number_mismatch",), "rejected"), ("prompts-conversation-000", ("empty_output",), "rejected")}
    # The other turns of a rejected record are logged too, with the record's verdict.
    assert sum(1 for row in log if row["id"] == "prompts-conversation-000") == 8


def test_on_reject_keep_never_writes_a_broken_image_layout(tmp_path):
    turns = qc_support.load_turns()
    p = Protector()
    table = _table()
    # turns[0] is "<image>\nProvide a brief description…": the <image> shell never reaches the backend, so an engine
    # can only break the layout by inventing a token; turns[3] gets a soft reason (Spanish).
    table[p.protect(turns[0].source).body] = "<image> 주어진 이미지를 간략하게 설명해 주세요."
    table[p.protect(turns[3].source).body] = "un jardín con un seto recortado y una gran fuente de piedra"
    stats, written, rejected, log = _run(tmp_path, table, on_reject="keep")
    by_id = {r["id"]: r for r in rejected}
    assert by_id[turns[0].id]["reasons"][0]["code"] == "image_token" and "policy" not in by_id[turns[0].id]
    assert by_id[turns[3].id]["policy"] == "keep"  # a soft reason: kept as translated, and listed
    assert turns[0].id not in {r["id"] for r in written}
    assert "un jardín con un seto recortado y una gran fuente de piedra" in [r["conversations"][-1]["value"] for r in written]
    verdicts = {row["id"]: row["verdict"] for row in log}
    assert verdicts[turns[0].id] == "rejected" and verdicts[turns[3].id] == "kept-flagged"
    # The same prompt body serves every record with that prompt, so each of them is rejected, never kept.
    broken = {r["id"] for r in rejected if r["reasons"][0]["code"] == "image_token"}
    assert broken and broken.isdisjoint(r["id"] for r in written)
    assert stats.records_rejected == len(broken) and stats.records_kept == stats.records_in - len(broken)


def test_on_reject_keep_source_writes_the_english_record(tmp_path):
    table = _table({("000017430", 1): "una mujer con un abrigo naranja y perlas"})
    stats, written, rejected, log = _run(tmp_path, table, on_reject="keep-source")
    en, _ = qc_support.load_records()
    kept = next(r for r in written if r["id"] == "000017430")
    assert kept == next(r for r in en if r["id"] == "000017430")
    assert rejected[0]["policy"] == "keep-source" and rejected[0]["reasons"][0]["code"] == "wrong_script"
    assert stats.records_kept == len(en)


def test_committed_corrupted_file_matches_its_generator():
    records, labels = qc_support.corrupted_file()
    committed = json.loads((qc_support.FIXTURE / "ko_corrupted.json").read_text(encoding="utf-8"))
    truth = json.loads((qc_support.FIXTURE / "ko_corrupted.labels.json").read_text(encoding="utf-8"))
    assert committed == records and truth == labels


def test_qc_log_lines_are_exactly_the_rows_qc_row_describes():
    """write_qc_rows formats lines by hand for speed; each must parse to qc_row's dict, escapes included."""
    import json as _json

    from translate.qc import Reason, TurnCheck, qc_row, write_qc_rows

    class Log:
        def __init__(self):
            self.text = ""

        def write_text(self, text):
            self.text += text

    turns = [("human", "conversations[0].value", TurnCheck([], 10, 5, 0.5, 0.987)),
             ("gpt", "conversations[1].value", TurnCheck([Reason("length_ratio", "x", "d")], 10, 50, 5.0, None)),
             (None, "", TurnCheck([Reason("bad_role", "", ""), Reason("nul_character", "", "")]))]
    for rid in ("id\u00e9 \"quoted\"", 7, None):
        log = Log()
        write_qc_rows(log, '/tmp/a "b".json', 3, rid, turns, "rejected")
        lines = log.text.splitlines()
        assert log.text.endswith("\n") and len(lines) == len(turns)
        for line, (role, field, check) in zip(lines, turns):
            assert _json.loads(line) == qc_row('/tmp/a "b".json', 3, rid, role, field, check, "rejected")


@pytest.mark.parametrize("name", ["H. Jackson Brown", "Mary Higgins Clark", "Nikon D3200 Digital Camera",
                                  "The Art of War", '"Harry Potter and the Goblet of Fire"'])
def test_a_name_or_title_kept_as_is_is_not_untranslated(name):
    """OCR-VQA answers authors and titles; an engine rightly returns them unchanged."""
    from translate.qc import QualityChecker

    assert QualityChecker("ko").check_turn(name, name, "gpt", "f") == []
    strict = QualityChecker("ko", {"untranslated": {"max_name_words": 0}})
    assert "untranslated" in [r.code for r in strict.check_turn(name, name, "gpt", "f")]


@pytest.mark.parametrize("sentence", ["a man riding a horse", "The man is riding a horse on the beach.",
                                      "A Man Riding A Horse On The Beach At Sunset Today Now"])
def test_sentences_left_in_english_are_still_untranslated(sentence):
    from translate.qc import QualityChecker

    assert "untranslated" in [r.code for r in QualityChecker("ko").check_turn(sentence, sentence, "gpt", "f")]

"""`memory import` of a published translation: what goes in, what stays out and why, and what the next run sends."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import FIXTURES, load_json, read_jsonl, run_main

from translate.config import RunConfig
from translate.errors import OutputError
from translate.memory import TranslationMemory
from translate.tm import importer
from translate.tm.importer import import_published
from translate.tm.pairs import open_pair_maker

PAIR = FIXTURES / "kollava_pair"
EN, KO = "llava_instruct_excerpt.json", "ko_llava_instruct_excerpt.json"
# labels.json label → the reason code an import gives it
EXPECTED_REASON = {"number_changed": "number_mismatch", "wrong_language": "wrong_script", "image_lost": "image_token",
                   "english_left": "untranslated", "code_broken": "span_lost",
                   "glossary_term_missing": "glossary_term_missing", "missing": "missing_translation",
                   "extra": "unmatched_translation", "structure": "structure_mismatch"}


@pytest.fixture
def pair(tmp_path):
    for name in (EN, KO):
        shutil.copy(PAIR / name, tmp_path / name)
    return tmp_path / EN, tmp_path / KO


def _import(args, capsys, *more):
    en, ko = args
    memory = en.parent / "tm.sqlite"
    code, out, err = run_main(["memory", "import", "--src", en, "--translated", ko, "--backend", "pseudo",
                               "--memory", memory, "--origin", "kollava", "--json", *more], capsys)
    assert code == 0, err
    return json.loads(out)["counts"], memory


def test_good_turns_are_imported_and_broken_ones_skipped_with_their_reasons(pair, capsys):
    counts, memory = _import(pair, capsys)
    labels = load_json(PAIR / "labels.json")
    skipped = read_jsonl(pair[1].parent / "ko_llava_instruct_excerpt.skipped.jsonl")
    # Every deliberately broken turn (or record) is in the skipped list with the reason its label predicts.
    got = {(row["id"], row["field"]): {r["code"] for r in row["reasons"]} for row in skipped}
    for rid, turn_labels in labels.items():
        for n, label in enumerate(turn_labels):
            if label in ("missing", "extra", "structure"):
                assert EXPECTED_REASON[label] in got[(rid, "conversations" if label == "structure" else "")]
            elif label in EXPECTED_REASON:
                assert EXPECTED_REASON[label] in got[(rid, f"conversations[{n}].value")], (rid, n, label)
            else:
                assert (rid, f"conversations[{n}].value") not in got, (rid, n, label)
    bad_turns = sum(1 for t in labels.values() for label in t if label in EXPECTED_REASON
                    and label not in ("missing", "extra", "structure"))
    assert counts["turns_skipped"] == bad_turns == 6
    assert counts["records_skipped"] == 3  # missing, extra, one turn short
    ok_turns = sum(1 for t in labels.values() for label in t if label == "ok")
    assert counts["imported"] + counts["repeated"] == ok_turns  # one question is asked twice
    assert counts["templates"] == 1 and counts["no_segment"] == 1
    assert sum(counts["reasons"].values()) == len(skipped)
    with TranslationMemory(memory) as mem:
        assert mem.stats().by_origin == {"import:kollava": counts["imported"]}
        assert mem.stats().by_pair == {"en>ko": counts["imported"]}


def test_the_next_run_sends_nothing_for_imported_turns_and_writes_the_imported_korean(pair, capsys, tmp_path):
    en, ko = pair
    counts, memory = _import(pair, capsys)
    journal = tmp_path / "journal"
    code, _, err = run_main(["run", "--src", en, "--out", tmp_path / "out", "--backend", "pseudo", "--memory",
                             memory, "--opt", f"journal={journal}"], capsys)
    assert code == 0, err
    manifest = load_json(tmp_path / "out" / "ko_llava_instruct_excerpt.manifest.json")
    sent = sum(int(line.split()[0]) for line in journal.read_text().splitlines())
    labels = load_json(PAIR / "labels.json")
    # Sent: only the distinct turns that were not imported (the broken ones and the records that were skipped whole).
    skipped_sources = set()
    english = {r["id"]: r for r in load_json(en)}
    for rid, turn_labels in labels.items():
        for n, label in enumerate(turn_labels):
            if label not in ("ok", "template", "no_segment", "extra"):
                skipped_sources.add(english[rid]["conversations"][n]["value"])
    assert sent == manifest["counts"]["segments_sent"] == len(skipped_sources)
    assert manifest["counts"]["memory_hits"] == counts["imported"]
    # Every imported turn is in the output exactly as published.
    output = {r["id"]: r for r in load_json(tmp_path / "out" / "ko_llava_instruct_excerpt.json")}
    korean = {r["id"]: r for r in load_json(ko)}
    checked = 0
    for rid, turn_labels in labels.items():
        for n, label in enumerate(turn_labels):
            if label == "ok" and rid in output:
                assert output[rid]["conversations"][n]["value"] == korean[rid]["conversations"][n]["value"]
                checked += 1
    assert checked == sum(1 for t in labels.values() for label in t if label == "ok")


def test_estimate_counts_fewer_characters_after_the_import(pair, capsys):
    en, ko = pair
    memory = en.parent / "tm.sqlite"
    code, before, err = run_main(["estimate", "--src", en, "--backend", "pseudo", "--memory", memory, "--json"],
                                 capsys)
    assert code == 0, err
    _import(pair, capsys)
    code, after, err = run_main(["estimate", "--src", en, "--backend", "pseudo", "--memory", memory, "--json"],
                                capsys)
    before, after = json.loads(before)["counts"], json.loads(after)["counts"]
    assert before["segments_in_memory"] == 0 and after["segments_in_memory"] > 0
    assert after["segments_missing"] == before["segments_missing"] - after["segments_in_memory"]
    assert after["characters_missing"] < before["characters_missing"] / 2


def test_conflicts_keep_the_existing_translation_unless_import_is_preferred(pair, capsys, tmp_path):
    en, _ = pair
    _, memory = _import(pair, capsys)
    # The same file with one answer worded differently.
    records = load_json(pair[1])
    bus = next(r for r in records if r["id"] == "000000033471")
    bus["conversations"][1]["value"] = "이미지 속 버스는 흰색과 빨간색이고, 옆면에 파란 줄무늬가 있습니다."
    ko2 = tmp_path / "ko_v2.json"
    ko2.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    kept, _ = _import((en, ko2), capsys)
    assert kept["imported"] == 0 and kept["kept_existing"] == 1 and kept["replaced"] == 0
    assert kept["same"] == kept["turns"] - kept["turns_skipped"] - kept["templates"] - kept["no_segment"] \
        - kept["repeated"] - 1
    replaced, _ = _import((en, ko2), capsys, "--prefer", "import")
    assert replaced["replaced"] == 1 and replaced["kept_existing"] == 0
    code, _, err = run_main(["run", "--src", en, "--out", tmp_path / "out", "--backend", "pseudo", "--memory",
                             memory], capsys)
    assert code == 0, err
    output = {r["id"]: r for r in load_json(tmp_path / "out" / "ko_llava_instruct_excerpt.json")}
    assert output["000000033471"]["conversations"][1]["value"] == bus["conversations"][1]["value"]


def test_a_crash_leaves_whole_batches_and_the_rerun_completes(pair, monkeypatch, tmp_path):
    """Each batch is one transaction: a crash in the third batch leaves exactly two batches, and running the same
    import again ends with the memory a clean import gives."""
    en, ko = pair
    cfg = RunConfig(src=[str(en)], backend="pseudo", memory=str(tmp_path / "crash.sqlite"))
    maker, _ = open_pair_maker(cfg)
    real_merge = TranslationMemory.merge
    calls = []

    def failing_merge(self, rows, *args, **kwargs):
        calls.append(len(rows))
        if len(calls) == 3:
            real_merge(self, rows[:2], *args, **kwargs)  # pretend the process dies inside the transaction
            raise OutputError("disk gone")
        return real_merge(self, rows, *args, **kwargs)

    monkeypatch.setattr(TranslationMemory, "merge", failing_merge)
    with TranslationMemory(cfg.memory) as mem, pytest.raises(OutputError):
        import_published(en, ko, mem, maker, origin="import:k", batch_turns=5, out_dir=tmp_path)
    monkeypatch.setattr(TranslationMemory, "merge", real_merge)
    with TranslationMemory(cfg.memory) as mem:
        # Two whole batches; the third's first rows went in only because our fake committed them on its own.
        assert len(mem) == 5 + 5 + 2
        stats, _ = import_published(en, ko, mem, maker, origin="import:k", batch_turns=5, out_dir=tmp_path)
        assert stats.same == 12 and stats.imported == 27 - 12
        resumed = sorted((e.key, e.target) for e in mem.entries())
    with TranslationMemory(tmp_path / "clean.sqlite") as clean:
        import_published(en, ko, clean, maker, origin="import:k", out_dir=tmp_path)
        assert sorted((e.key, e.target) for e in clean.entries()) == resumed


def test_records_without_ids_align_by_position(tmp_path, capsys):
    english = load_json(PAIR / EN)[:4]
    korean = {r["id"]: r for r in load_json(PAIR / KO)}
    en_records = [{k: v for k, v in r.items() if k != "id"} for r in english]
    ko_records = [{k: v for k, v in korean[r["id"]].items() if k != "id"} for r in english]
    (tmp_path / "en.json").write_text(json.dumps(en_records), encoding="utf-8")
    (tmp_path / "ko.json").write_text(json.dumps(ko_records, ensure_ascii=False), encoding="utf-8")
    counts, _ = _import((tmp_path / "en.json", tmp_path / "ko.json"), capsys)
    assert counts["matched_by_position"] == 4 and counts["matched_by_id"] == 0
    assert counts["turns_skipped"] == 1 and counts["turns"] == 10 and counts["imported"] == 10 - 1


def test_bad_inputs_get_a_clear_error(pair, capsys, tmp_path):
    en, ko = pair
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "1", "conversations": [}', encoding="utf-8")
    code, _, err = run_main(["memory", "import", "--src", en, "--translated", broken, "--backend", "pseudo",
                             "--memory", tmp_path / "m.sqlite"], capsys)
    assert code == 2 and "broken.json" in err and "Traceback" not in err
    code, _, err = run_main(["memory", "import", "--src", en, "--backend", "pseudo", "--memory",
                             tmp_path / "m.sqlite"], capsys)
    assert code == 2 and "--translated" in err
    code, _, err = run_main(["memory", "import", "--src", en, "--translated", ko, "--prefer", "newest",
                             "--backend", "pseudo", "--memory", tmp_path / "m.sqlite"], capsys)
    assert code == 2 and "--prefer" in err


def test_imports_stream_in_batches(monkeypatch, pair, tmp_path):
    """Bounded memory: rows wait in at most one batch, and repeats across batches are found on disk."""
    en, ko = pair
    cfg = RunConfig(src=[str(en)], backend="pseudo", memory=str(tmp_path / "b.sqlite"))
    maker, _ = open_pair_maker(cfg)
    sizes = []
    real_flush = importer.Batcher.flush

    def flush(self):
        sizes.append(len(self.pending))
        real_flush(self)

    monkeypatch.setattr(importer.Batcher, "flush", flush)
    with TranslationMemory(cfg.memory) as mem:
        stats, _ = import_published(en, ko, mem, maker, origin="import:k", batch_turns=4, out_dir=tmp_path)
    assert max(sizes) <= 4 and sum(sizes) == stats.imported == 27
    assert stats.repeated == 1  # the repeated question sits in another batch than its first occurrence

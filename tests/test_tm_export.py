"""`memory export --format jsonl|parquet` and `memory stats`."""

from __future__ import annotations

import json

from conftest import read_jsonl, run_main

from translate.memory import TranslationMemory, segment_key
from translate.protect import Span


def _memory(tmp_path):
    path = tmp_path / "m.sqlite"
    with TranslationMemory(path) as mem:
        mem.put([(segment_key("code ⟦0⟧", "en", "ko", "f"), "code ⟦0⟧", "코드 ⟦0⟧", (Span("code", "`a`", "`a`"),)),
                 (segment_key("plain", "en", "ko", "f"), "plain", "평범")],
                origin="import:k", source_lang="en", target_lang="ko")
        mem.put([(segment_key("old ⟦0⟧", "en", "ko", "f"), "old ⟦0⟧", "옛 ⟦0⟧")], origin="nllb/x")  # no spans, no langs
        mem.put([(segment_key("plain", "en", "ja", "f"), "plain", "普通")], origin="deepl/ja", source_lang="en",
                target_lang="ja")
    return path


def test_jsonl_keeps_every_row_of_the_pair_with_restored_text_where_known(tmp_path, capsys):
    path = _memory(tmp_path)
    code, _, err = run_main(["memory", "export", "--memory", path, "--format", "jsonl", "--out",
                             tmp_path / "m.jsonl"], capsys)
    assert code == 0, err
    rows = read_jsonl(tmp_path / "m.jsonl")
    assert [(r["source"], r["target"], r["origin"]) for r in rows] == [
        ("code `a`", "코드 `a`", "import:k"), ("plain", "평범", "import:k"), (None, None, "nllb/x")]
    assert rows[2]["source_protected"] == "old ⟦0⟧" and rows[2]["target_lang"] == "ko"
    assert "1 rows keep their placeholders" in err


def test_parquet_reads_back(tmp_path, capsys):
    import pyarrow.parquet as pq

    path = _memory(tmp_path)
    code, _, err = run_main(["memory", "export", "--memory", path, "--format", "parquet", "--target", "ja",
                             "--out", tmp_path / "m.parquet"], capsys)
    assert code == 0, err
    table = pq.read_table(tmp_path / "m.parquet").to_pylist()
    # ja rows, plus the row whose languages are unknown (counted as the pair asked for)
    assert [(r["target"], r["target_lang"]) for r in table] == [(None, "ja"), ("普通", "ja")]
    assert not list(tmp_path.glob(".m.parquet.*"))  # no temporary left


def test_stats_by_origin_and_language_pair(tmp_path, capsys):
    path = _memory(tmp_path)
    code, out, err = run_main(["memory", "stats", "--memory", path, "--json"], capsys)
    assert code == 0, err
    stats = json.loads(out)
    assert stats["segments"] == 4 and stats["bytes"] > 0
    assert stats["by_origin"] == {"deepl/ja": 1, "import:k": 2, "nllb/x": 1}
    assert stats["by_pair"] == {"en>ja": 1, "en>ko": 2, "unknown": 1}
    code, out, err = run_main(["memory", "stats", "--memory", path], capsys)
    assert code == 0 and "import:k" in out and "en>ko" in out


def test_export_and_stats_refuse_a_memory_that_does_not_exist(tmp_path, capsys):
    for args in (["memory", "stats", "--memory", tmp_path / "none.sqlite"],
                 ["memory", "export", "--memory", tmp_path / "none.sqlite", "--out", tmp_path / "x.tmx"],
                 ["memory", "stats"]):
        code, _, err = run_main(args, capsys)
        assert code == 2 and "--memory" in err
    assert not (tmp_path / "none.sqlite").exists()
    code, _, err = run_main(["memory", "export", "--memory", _memory(tmp_path), "--format", "xlsx", "--out",
                             tmp_path / "x"], capsys)
    assert code == 2 and "--format" in err

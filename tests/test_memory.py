"""memory.py: keys, bulk look-ups, first-writer-wins commits, sharing one file, KeySet."""

from __future__ import annotations

import multiprocessing
import sqlite3

from translate.memory import KeySet, TranslationMemory, segment_key


def test_key_depends_on_text_languages_and_fingerprint():
    k = segment_key("A dog.", "en", "ko", "pseudo/v1")
    assert len(k) == 16
    assert k == segment_key("  A dog. ", "en", "ko", "pseudo/v1")  # normalised: outer whitespace
    assert k == segment_key("A dog.", "en", "ko", "pseudo/v1")
    assert len({k, segment_key("A cat.", "en", "ko", "pseudo/v1"), segment_key("A dog.", "en", "ja", "pseudo/v1"),
                segment_key("A dog.", "de", "ko", "pseudo/v1"), segment_key("A dog.", "en", "ko", "nllb/x")}) == 5
    assert segment_key("caf\u00e9", "en", "ko", "f") == segment_key("cafe\u0301", "en", "ko", "f")  # NFC


def test_put_and_bulk_lookup(tmp_path):
    with TranslationMemory(tmp_path / "m.sqlite") as mem:
        rows = [(segment_key(f"s{i}", "en", "ko", "f"), f"s{i}", f"t{i}") for i in range(2500)]
        assert mem.put(rows, origin="f") == 2500
        keys = [r[0] for r in rows] + [segment_key("absent", "en", "ko", "f")]
        found = mem.lookup(keys)
        assert len(found) == 2500 and found[rows[1234][0]] == "t1234"
        # First writer wins: a second translation of the same segment never replaces the first.
        assert mem.put([(rows[0][0], "s0", "other")], origin="g") == 0
        assert mem.lookup([rows[0][0]])[rows[0][0]] == "t0"
        assert len(mem) == 2500


def test_wal_mode_and_reopen(tmp_path):
    path = tmp_path / "m.sqlite"
    with TranslationMemory(path) as mem:
        mem.put([(b"k" * 16, "s", "t")], origin="f")
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    with TranslationMemory(path) as mem:
        assert mem.lookup([b"k" * 16]) == {b"k" * 16: "t"}


def _writer(path, start, n):
    with TranslationMemory(path) as mem:
        for i in range(start, start + n, 10):
            mem.put([(segment_key(str(j), "en", "ko", "f"), str(j), f"t{j}") for j in range(i, i + 10)], origin="f")


def test_two_processes_share_one_file(tmp_path):
    path = tmp_path / "m.sqlite"
    TranslationMemory(path).close()
    procs = [multiprocessing.Process(target=_writer, args=(path, s, 500)) for s in (0, 250)]  # overlapping ranges
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == 750
    con.close()


def test_keyset_counts_distinct_keys():
    ks = KeySet()
    assert ks.add_many([b"a", b"b", b"a"]) == 2
    assert ks.add_many([b"b", b"c"]) == 1
    assert ks.count == 3
    assert ks.contains([b"a", b"z", b"c"]) == {b"a", b"c"}
    ks.close()

"""memory.py: keys, bulk look-ups, first-writer-wins commits, sharing one file, KeySet."""

from __future__ import annotations

import multiprocessing
import sqlite3

from translate.memory import KeySet, TranslationMemory, segment_key
from translate.protect import Span


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


# -- schema 1: languages, spans, origins, migration, merge ---------------------------------------------------------

_OLD_SCHEMA = """
CREATE TABLE segments (
    id       INTEGER PRIMARY KEY,
    key      BLOB NOT NULL UNIQUE,
    source   TEXT NOT NULL,
    target   TEXT NOT NULL,
    origin   TEXT NOT NULL,
    created  REAL NOT NULL
);
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def make_old_memory(path, n: int) -> list[bytes]:
    """A memory file exactly as the first release wrote it (schema 0, WAL, no user_version); returns its keys."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.executescript(_OLD_SCHEMA)
    keys = [segment_key(f"old {i}", "en", "ko", "pseudo/v1") for i in range(n)]
    con.executemany("INSERT INTO segments(key, source, target, origin, created) VALUES (?, ?, ?, ?, ?)",
                    [(k, f"old {i}", f"옛 {i}", "pseudo/v1", 1700000000.0) for i, k in enumerate(keys)])
    con.close()
    return keys


def test_an_old_memory_is_migrated_in_place_and_keeps_every_row(tmp_path):
    path = tmp_path / "old.sqlite"
    keys = make_old_memory(path, 50)
    inode = path.stat().st_ino
    with TranslationMemory(path) as mem:
        assert len(mem) == 50
        assert mem.lookup(keys[:3]) == {keys[0]: "옛 0", keys[1]: "옛 1", keys[2]: "옛 2"}
        # Old rows have no languages: stats say so instead of guessing.
        stats = mem.stats()
        assert stats.by_pair == {"unknown": 50} and stats.by_origin == {"pseudo/v1": 50} and stats.schema == 1
        # New rows carry them, and spans.
        spans = (Span("code", "`x`", "`x`"),)
        mem.put([(b"n" * 16, "run ⟦0⟧", "실행 ⟦0⟧", spans)], origin="deepl/ko", source_lang="en", target_lang="ko")
        entry = [e for e in mem.entries() if e.key == b"n" * 16][0]
        assert (entry.src_lang, entry.tgt_lang, entry.spans, entry.origin) == ("en", "ko", spans, "deepl/ko")
        assert [e.spans for e in mem.entries() if e.key == keys[0]] == [None]
    assert path.stat().st_ino == inode  # in place, not a copy
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with TranslationMemory(path) as mem:  # a second open finds nothing to do
        assert len(mem) == 51


def test_lookup_counts_hits_by_origin(tmp_path):
    from collections import Counter

    with TranslationMemory(tmp_path / "m.sqlite") as mem:
        a = [segment_key(f"a{i}", "en", "ko", "f") for i in range(5)]
        b = [segment_key(f"b{i}", "en", "ko", "f") for i in range(3)]
        mem.put([(k, "s", "t") for k in a], origin="import:kollava")
        mem.put([(k, "s", "u") for k in b], origin="nllb/x")
        origins: Counter = Counter()
        found = mem.lookup(a[:4] + b + [b"z" * 16], origins=origins)
        assert found == mem.lookup(a[:4] + b + [b"z" * 16])  # same answer as the plain look-up
        assert origins == {"import:kollava": 4, "nllb/x": 3}
        mem.lookup(a, origins=origins)
        assert origins["import:kollava"] == 9


def test_merge_counts_conflicts_and_follows_the_policy(tmp_path):
    with TranslationMemory(tmp_path / "m.sqlite") as mem:
        k1, k2, k3 = (segment_key(t, "en", "ko", "f") for t in ("one", "two", "three"))
        mem.put([(k1, "one", "하나"), (k2, "two", "둘")], origin="nllb/x")
        kept = mem.merge([(k1, "one", "하나", None), (k2, "two", "두울", None), (k3, "three", "셋", None)],
                         origin="import:a", prefer="existing", source_lang="en", target_lang="ko")
        assert (kept.added, kept.same, kept.kept, kept.replaced) == (1, 1, 1, 0)
        assert mem.lookup([k2]) == {k2: "둘"}
        replaced = mem.merge([(k2, "two", "두울", None)], origin="import:b", prefer="import", source_lang="en",
                             target_lang="ko")
        assert (replaced.added, replaced.kept, replaced.replaced) == (0, 0, 1)
        assert mem.lookup_rows([k2]) == {k2: ("두울", "import:b")}
        changed = [e.changed for e in mem.entries() if e.key == k2][0]
        assert changed is not None


def test_a_failed_merge_leaves_nothing_behind(tmp_path):
    """A batch is one transaction: a row that cannot be stored undoes the whole batch."""
    import pytest

    from translate.errors import OutputError

    with TranslationMemory(tmp_path / "m.sqlite") as mem:
        good = (segment_key("ok", "en", "ko", "f"), "ok", "좋아", None)
        with pytest.raises(OutputError):
            mem.merge([good, (b"k" * 16, "s", None, None)], origin="import:x", prefer="existing",  # NULL target
                      source_lang="en", target_lang="ko")
        assert len(mem) == 0


def test_an_in_memory_database_leaves_no_lock_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with TranslationMemory(":memory:") as mem:
        mem.put([(b"k" * 16, "s", "t")], origin="f")
        assert len(mem) == 1
    assert list(tmp_path.iterdir()) == []

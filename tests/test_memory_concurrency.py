"""Many processes opening one new memory file at the same instant all succeed (no "database is locked")."""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
import time

from translate.memory import TranslationMemory, segment_key

PROCESSES = 12
ROUNDS = 20


def _open_and_write(path: str, start_at: float, n: int, errors) -> None:
    # Everyone waits for the same instant, so the opens really collide on a file that does not exist yet.
    time.sleep(max(0.0, start_at - time.time()))
    try:
        with TranslationMemory(path) as mem:
            mem.put([(segment_key(f"s{n}", "en", "ko", "f"), f"s{n}", f"t{n}")], origin="f")
            assert mem.lookup([segment_key("s0", "en", "ko", "f")]) is not None
    except Exception as exc:  # reported to the parent; an exit code alone would hide the message
        errors.put(f"process {n}: {type(exc).__name__}: {exc}")
        raise SystemExit(1)


def test_many_processes_open_a_new_memory_at_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    failures = []
    for round_no in range(ROUNDS):
        path = str(tmp_path / f"round{round_no}" / "m.sqlite")
        start_at = time.time() + 0.3
        # A few milliseconds of jitter: exactly simultaneous opens serialise on the folder; staggered ones hit the
        # window where one process turns on WAL while another creates the tables (the old code failed here).
        procs = [ctx.Process(target=_open_and_write, args=(path, start_at + random.uniform(0, 0.005), n, errors))
                 for n in range(PROCESSES)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        failures += [f"round {round_no}: exit {p.exitcode}" for p in procs if p.exitcode != 0]
        con = sqlite3.connect(path)
        assert con.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == PROCESSES, f"round {round_no}"
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        con.close()
        # The set-up lock file is gone: only SQLite's own files stay beside the memory.
        assert not any(p.name.endswith(".lock") for p in (tmp_path / f"round{round_no}").iterdir())
    messages = []
    while not errors.empty():
        messages.append(errors.get())
    assert not failures, failures + messages


def _open_old(path: str, start_at: float, errors) -> None:
    time.sleep(max(0.0, start_at - time.time()))
    try:
        with TranslationMemory(path) as mem:
            assert len(mem) == 100
    except Exception as exc:
        errors.put(f"{type(exc).__name__}: {exc}")
        raise SystemExit(1)


def test_many_processes_migrate_an_old_memory_at_once(tmp_path):
    """An old-schema file opened by many processes at once is migrated exactly once, and none of them fails."""
    from tests.test_memory import make_old_memory

    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    for round_no in range(5):
        path = tmp_path / f"old{round_no}.sqlite"
        make_old_memory(path, 100)
        start_at = time.time() + 0.3
        procs = [ctx.Process(target=_open_old, args=(str(path), start_at, errors)) for _ in range(PROCESSES)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        codes = [p.exitcode for p in procs]
        messages = []
        while not errors.empty():
            messages.append(errors.get())
        assert codes == [0] * PROCESSES, messages
        con = sqlite3.connect(path)
        columns = [row[1] for row in con.execute("PRAGMA table_info(segments)")]
        assert columns.count("spans") == 1 and con.execute("PRAGMA user_version").fetchone()[0] >= 1
        con.close()

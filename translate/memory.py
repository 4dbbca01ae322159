"""The translation memory: a SQLite file that maps a segment key to its translation.

It is also the checkpoint. Each backend batch is committed as it returns, so a crash, a quota stop or a killed job
loses at most the batch in flight, and a rerun sends only what is missing. WAL mode lets several processes (shards,
a second run) share one file.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import unicodedata
from pathlib import Path
from typing import Iterable, Iterator

from translate.errors import OutputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    id       INTEGER PRIMARY KEY,
    key      BLOB NOT NULL UNIQUE,
    source   TEXT NOT NULL,
    target   TEXT NOT NULL,
    origin   TEXT NOT NULL,   -- the backend fingerprint, or 'template' / 'import'
    created  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Rows append to a rowid table and only the 16-byte keys go into the random-order unique index: 3.5x faster
# inserts than keying the whole row by its hash (measured on 256-row batches).

# SQLite's default limit on bound parameters is 999 on old builds; stay under it.
_LOOKUP_CHUNK = 900


def segment_key(text: str, source_lang: str, target_lang: str, fingerprint: str) -> bytes:
    """The memory key: the normalised segment, both languages and the backend fingerprint. 16 bytes of BLAKE2b."""
    normalised = unicodedata.normalize("NFC", text.strip())
    material = "\x1f".join((source_lang, target_lang, fingerprint, normalised))
    return hashlib.blake2b(material.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class TranslationMemory:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process (only power loss can drop the last commits).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=60000")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:  # OSError: its folder cannot be made (a path under a file, ...)
            raise OutputError(f"cannot open the translation memory {self.path}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "TranslationMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, keys: Iterable[bytes]) -> dict[bytes, str]:
        """Translations for those keys that are present, in bulk."""
        found: dict[bytes, str] = {}
        keys = list(keys)
        for i in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[i: i + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, target in self._db.execute(f"SELECT key, target FROM segments WHERE key IN ({marks})", chunk):
                found[key] = target
        return found

    def put(self, rows: Iterable[tuple[bytes, str, str]], origin: str) -> int:
        """Store (key, source, target) rows in one transaction; existing keys are kept (first writer wins, so two
        processes translating the same segment cannot flip the output). Returns the number of new rows."""
        now = time.time()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO segments(key, source, target, origin, created) VALUES (?, ?, ?, ?, ?)",
                ((k, s, t, origin, now) for k, s, t in rows),
            )
            added = self._db.total_changes - before
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutputError(f"cannot write to the translation memory {self.path}: {exc}") from None
        return added

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM segments").fetchone()[0]

    def rows(self) -> Iterator[tuple[bytes, str, str, str]]:
        yield from self._db.execute("SELECT key, source, target, origin FROM segments ORDER BY key")


class KeySet:
    """Distinct keys seen during a run, kept in a temporary SQLite table so memory use stays flat on large files."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None)  # "" = a private temporary database on disk
        self._db.execute("PRAGMA cache_size=-1024")  # 1 MiB: flat memory matters more than speed here
        self._db.execute("CREATE TABLE k (key BLOB PRIMARY KEY) WITHOUT ROWID")
        self.count = 0

    def add_many(self, keys: Iterable[bytes]) -> int:
        """Add keys; returns how many were new."""
        self._db.execute("BEGIN")
        before = self._db.total_changes
        self._db.executemany("INSERT OR IGNORE INTO k VALUES (?)", ((k,) for k in keys))
        new = self._db.total_changes - before
        self._db.execute("COMMIT")
        self.count += new
        return new

    def contains(self, keys: Iterable[bytes]) -> set[bytes]:
        """Those of `keys` already in the set."""
        keys = list(keys)
        present: set[bytes] = set()
        for i in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[i: i + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            present.update(k for (k,) in self._db.execute(f"SELECT key FROM k WHERE key IN ({marks})", chunk))
        return present

    def close(self) -> None:
        self._db.close()

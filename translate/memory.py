"""The translation memory: a SQLite file that maps a segment key to its translation.

It is also the checkpoint. Each backend batch is committed as it returns, so a crash, a quota stop or a killed job
loses at most the batch in flight, and a rerun sends only what is missing. WAL mode lets several processes (shards,
a second run) share one file.

Every row keeps where it came from (`origin`: a backend fingerprint, ``template``, ``import:<name>``, ``tmx:<name>``),
its languages and, when its body holds placeholders, the spans behind them, so `translate memory export` can write the
real text. Older files (schema 0: no languages, no spans) are migrated in place when opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import time
import unicodedata
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from translate.errors import OutputError
from translate.protect import Span

try:  # POSIX; elsewhere set-up relies on the retries alone
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    id       INTEGER PRIMARY KEY,
    key      BLOB NOT NULL UNIQUE,
    source   TEXT NOT NULL,   -- the protected body that was sent (placeholders in the backend's style)
    target   TEXT NOT NULL,   -- its translation, placeholders included
    origin   TEXT NOT NULL,   -- the backend fingerprint, 'template', 'import:<name>' or 'tmx:<name>'
    created  REAL NOT NULL,
    src_lang TEXT,            -- NULL on rows written before schema 1 (or by a caller that did not say)
    tgt_lang TEXT,
    spans    TEXT,            -- JSON [[kind, source, restore], ...] when the body holds placeholders, else NULL
    changed  REAL             -- when an import replaced the target (--prefer import), else NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Columns added by schema 1, with their types: ALTER TABLE ADD COLUMN of a nullable column rewrites nothing, so even a
# multi-GB memory migrates instantly.
_ADDED_IN_1 = (("src_lang", "TEXT"), ("tgt_lang", "TEXT"), ("spans", "TEXT"), ("changed", "REAL"))
# Rows append to a rowid table and only the 16-byte keys go into the random-order unique index: 3.5x faster
# inserts than keying the whole row by its hash (measured on 256-row batches).

# SQLite's default limit on bound parameters is 999 on old builds; stay under it.
_LOOKUP_CHUNK = 900
# Set-up (WAL, tables, migration) retried this long when SQLite still answers "locked" (another program, not going
# through our lock file, holds the database).
_SETUP_SECONDS = 60.0


def segment_key(text: str, source_lang: str, target_lang: str, fingerprint: str) -> bytes:
    """The memory key: the normalised segment, both languages and the backend fingerprint. 16 bytes of BLAKE2b."""
    normalised = unicodedata.normalize("NFC", text.strip())
    material = "\x1f".join((source_lang, target_lang, fingerprint, normalised))
    return hashlib.blake2b(material.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def spans_json(spans: Sequence[Span] | None) -> str | None:
    """What the `spans` column holds: None when there is nothing to restore."""
    if not spans:
        return None
    return json.dumps([[s.kind, s.source, s.restore] for s in spans], ensure_ascii=False)


def spans_from_json(text: str | None) -> tuple[Span, ...] | None:
    if text is None:
        return None
    return tuple(Span(kind, source, restore) for kind, source, restore in json.loads(text))


@dataclass(slots=True)
class Entry:
    """One stored segment, as `TranslationMemory.entries` yields it."""

    key: bytes
    source: str
    target: str
    origin: str
    created: float
    src_lang: str | None
    tgt_lang: str | None
    spans: tuple[Span, ...] | None
    changed: float | None


@dataclass
class MergeCounts:
    """What `TranslationMemory.merge` did with a batch of imported rows."""

    added: int = 0
    same: int = 0  # the key was already there with the same translation
    kept: int = 0  # already there with another translation, kept (prefer existing)
    replaced: int = 0  # already there with another translation, replaced (prefer import)

    def add(self, other: "MergeCounts") -> None:
        self.added += other.added
        self.same += other.same
        self.kept += other.kept
        self.replaced += other.replaced


@dataclass
class MemoryStats:
    path: str
    bytes: int
    segments: int
    by_origin: dict[str, int] = field(default_factory=dict)
    by_pair: dict[str, int] = field(default_factory=dict)
    by_origin_and_pair: list[tuple[str, str, int]] = field(default_factory=list)
    schema: int = SCHEMA_VERSION


def _pair_label(src: str | None, tgt: str | None) -> str:
    return f"{src}>{tgt}" if src and tgt else "unknown"


@contextmanager
def _setup_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<memory>.lock`` while one process sets the file up. A separate file, because POSIX locks
    on the database itself would be dropped with SQLite's own when any descriptor of it closes. The holder removes
    the file before releasing it, so nothing is left beside the memory; a waiter that then wakes up on the removed
    file sees that the path no longer names it, and starts again."""
    if fcntl is None or str(path) == ":memory:":
        yield
        return
    lock_path = f"{path}.lock"
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:  # a read-only folder: nobody can create the memory there anyway; the retries still apply
            yield
            return
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            held, named = os.fstat(fd), os.stat(lock_path)
            if (held.st_ino, held.st_dev) == (named.st_ino, named.st_dev):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        try:
            os.unlink(lock_path)
        except OSError:
            pass
        os.close(fd)  # closing releases the lock


def _is_locked(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class TranslationMemory:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            # Before anything else: every later statement waits for a busy database instead of failing at once.
            self._db.execute("PRAGMA busy_timeout=60000")
            with _setup_lock(self.path):
                self._set_up()
        except (sqlite3.Error, OSError) as exc:  # OSError: its folder cannot be made (a path under a file, ...)
            raise OutputError(f"cannot open the translation memory {self.path}: {exc}") from None

    def _set_up(self) -> None:
        """WAL, tables and migration. Under the set-up lock; still retried, because turning on WAL answers BUSY
        without waiting when another connection (a program not using our lock) is mid-transaction."""
        deadline = time.monotonic() + _SETUP_SECONDS
        while True:
            try:
                if str(self.path) != ":memory:":
                    self._db.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode survives a killed process (only power loss can drop the last commits).
                self._db.execute("PRAGMA synchronous=NORMAL")
                if self._db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    self._migrate()
                return
            except sqlite3.OperationalError as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if not _is_locked(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.01, 0.05))

    def _migrate(self) -> None:
        """Create the tables, or bring a schema-0 file up to date in place (adding nullable columns), in one
        transaction: a crash leaves the old schema, never half of the new one."""
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(segments)")}
        if not columns:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
        else:
            for name, kind in _ADDED_IN_1:
                if name not in columns:
                    self._db.execute(f"ALTER TABLE segments ADD COLUMN {name} {kind}")
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "TranslationMemory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the hot path -----------------------------------------------------------------------------------------------

    def lookup(self, keys: Iterable[bytes], origins: Counter | None = None) -> dict[bytes, str]:
        """Translations for those keys that are present, in bulk. With `origins`, each hit also counts one for its
        row's origin there (e.g. ``{"import:kollava": 120, "nllb/...": 3}``)."""
        found: dict[bytes, str] = {}
        keys = list(keys)
        if origins is None:
            for i in range(0, len(keys), _LOOKUP_CHUNK):
                chunk = keys[i: i + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, target in self._db.execute(f"SELECT key, target FROM segments WHERE key IN ({marks})", chunk):
                    found[key] = target
            return found
        seen: list[str] = []
        for i in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[i: i + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, target, origin in self._db.execute(
                    f"SELECT key, target, origin FROM segments WHERE key IN ({marks})", chunk):
                if key not in found:
                    seen.append(origin)
                found[key] = target
        origins.update(seen)
        return found

    def lookup_rows(self, keys: Iterable[bytes]) -> dict[bytes, tuple[str, str]]:
        """(target, origin) for those keys that are present."""
        found: dict[bytes, tuple[str, str]] = {}
        keys = list(keys)
        for i in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[i: i + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, target, origin in self._db.execute(
                    f"SELECT key, target, origin FROM segments WHERE key IN ({marks})", chunk):
                found[key] = (target, origin)
        return found

    def put(self, rows: Iterable[tuple], origin: str, source_lang: str | None = None,
            target_lang: str | None = None) -> int:
        """Store (key, source, target) rows, or (key, source, target, spans) rows where `spans` are the protected
        spans behind the body's placeholders, in one transaction; existing keys are kept (first writer wins, so two
        processes translating the same segment cannot flip the output). Returns the number of new rows."""
        now = time.time()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO segments(key, source, target, origin, created, src_lang, tgt_lang, spans) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((r[0], r[1], r[2], origin, now, source_lang, target_lang, spans_json(r[3]) if len(r) > 3 else None)
                 for r in rows),
            )
            added = self._db.total_changes - before
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutputError(f"cannot write to the translation memory {self.path}: {exc}") from None
        return added

    # -- imports ------------------------------------------------------------------------------------------------------

    def merge(self, rows: Sequence[tuple[bytes, str, str, Sequence[Span] | None]], origin: str, prefer: str,
              source_lang: str, target_lang: str) -> MergeCounts:
        """Store imported (key, source, target, spans) rows in one transaction, so a crash never leaves half a batch.
        A key already present keeps its translation (`prefer="existing"`) or gets the imported one
        (`prefer="import"`); either way it is counted. Keys must be distinct within `rows`."""
        if prefer not in ("existing", "import"):
            raise ValueError(f"prefer must be 'existing' or 'import', not {prefer!r}")
        counts = MergeCounts()
        now = time.time()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            existing = self.lookup_rows(r[0] for r in rows)  # inside the transaction: nobody writes in between
            new, replace = [], []
            for key, source, target, spans in rows:
                old = existing.get(key)
                if old is None:
                    new.append((key, source, target, origin, now, source_lang, target_lang, spans_json(spans)))
                elif old[0] == target:
                    counts.same += 1
                elif prefer == "import":
                    replace.append((target, origin, now, spans_json(spans), key))
                else:
                    counts.kept += 1
            self._db.executemany(
                "INSERT INTO segments(key, source, target, origin, created, src_lang, tgt_lang, spans) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", new)
            self._db.executemany(
                "UPDATE segments SET target = ?, origin = ?, changed = ?, spans = coalesce(?, spans) WHERE key = ?",
                replace)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise OutputError(f"cannot write to the translation memory {self.path}: {exc}") from None
        counts.added, counts.replaced = len(new), len(replace)
        return counts

    # -- reading it all -------------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM segments").fetchone()[0]

    def rows(self) -> Iterator[tuple[bytes, str, str, str]]:
        yield from self._db.execute("SELECT key, source, target, origin FROM segments ORDER BY key")

    def entries(self) -> Iterator[Entry]:
        """Every row, oldest first, streamed (a separate read connection, so the caller may write meanwhile)."""
        con = sqlite3.connect(str(self.path), timeout=60) if str(self.path) != ":memory:" else self._db
        try:
            cursor = con.execute("SELECT key, source, target, origin, created, src_lang, tgt_lang, spans, changed "
                                 "FROM segments ORDER BY id")
            for key, source, target, origin, created, src, tgt, spans, changed in cursor:
                yield Entry(key, source, target, origin, created, src, tgt, spans_from_json(spans), changed)
        finally:
            if con is not self._db:
                con.close()

    def stats(self) -> MemoryStats:
        """Segments by origin and by language pair, and the size on disk (database plus its WAL)."""
        size = 0
        for suffix in ("", "-wal"):
            try:
                size += os.path.getsize(f"{self.path}{suffix}")
            except OSError:
                pass
        grouped = self._db.execute("SELECT origin, src_lang, tgt_lang, COUNT(*) FROM segments "
                                   "GROUP BY origin, src_lang, tgt_lang ORDER BY origin, src_lang, tgt_lang").fetchall()
        by_origin: Counter = Counter()
        by_pair: Counter = Counter()
        detail = []
        for origin, src, tgt, n in grouped:
            pair = _pair_label(src, tgt)
            by_origin[origin] += n
            by_pair[pair] += n
            detail.append((origin, pair, n))
        return MemoryStats(str(self.path), size, sum(by_origin.values()), dict(sorted(by_origin.items())),
                           dict(sorted(by_pair.items())), detail,
                           self._db.execute("PRAGMA user_version").fetchone()[0])

    def get_meta(self, name: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, name: str, value: Any) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, json.dumps(value)))


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

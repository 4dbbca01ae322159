"""Atomic writers: a temporary file beside the target, fsynced, then renamed over it.

A reader of the output folder sees either no file or a whole one, never a partial ``ko_*`` file.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, IO

from translate.errors import OutputError


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def dumps(record: Any) -> str:
    """One record as compact UTF-8 JSON. The same record always gives the same bytes. A NaN or infinite float is
    refused (`NonFiniteNumberError`), never written as the ``NaN`` / ``Infinity`` Python would write: that is not
    JSON, and LLaVA's loader would fail on the whole file. (The reader turns such numbers into reasons before any
    record gets here, so this is a guard, not a path a valid run takes.)"""
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)
    except ValueError as exc:
        raise NonFiniteNumberError(record, exc) from None
    return escape_surrogates(text)


class NonFiniteNumberError(OutputError):
    """A record or document holding NaN or Infinity was about to be written. Names the field."""

    def __init__(self, data: Any, exc: Exception):
        found = first_non_finite(data)
        if found is None:  # another ValueError from the encoder: say what it said
            super().__init__(f"cannot write a record as JSON: {exc}")
            return
        where, value = found
        super().__init__(f"cannot write {where or 'a value'} = {value!r}: JSON has no NaN or Infinity, and nothing "
                         "this tool writes may hold them")


def first_non_finite(data: Any) -> tuple[str, float] | None:
    """The field path (``conversations[1].value``; "" for `data` itself) and value of the first NaN or infinite
    float in `data`, or None."""
    stack = [("", data)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            return path, node
        if isinstance(node, dict):
            stack.extend(reversed([(f"{path}.{k}" if path else str(k), v) for k, v in node.items()]))
        elif isinstance(node, (list, tuple)):
            stack.extend(reversed([(f"{path}[{i}]", v) for i, v in enumerate(node)]))
    return None


def escape_surrogates(text: str) -> str:
    """JSON text with any lone surrogate (from a ``"\\ud800"`` escape in the input, or an undecodable file name)
    written back as its ``\\uXXXX`` escape: such a character cannot be encoded as UTF-8, and in JSON text it can only
    stand inside a string, where the escape means the same thing."""
    if text.isascii():
        return text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class OutputSet:
    """Files that appear together or not at all. Each `AtomicFile` given this set keeps its finished temporary file
    instead of renaming it; `commit` renames them all (in the order they were finished), `discard` deletes them.
    A full disk at the last flush of one file then leaves none of the others behind either."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, Path]] = []

    def add(self, tmp: str, path: Path) -> None:
        self._pending.append((tmp, path))

    def commit(self) -> None:
        folders = []
        try:
            while self._pending:
                tmp, path = self._pending[0]
                os.replace(tmp, path)
                self._pending.pop(0)
                if path.parent not in folders:
                    folders.append(path.parent)
        except OSError as err:
            self.discard()
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
        for folder in folders:
            _fsync_dir(folder)

    def discard(self) -> None:
        for tmp, _ in self._pending:
            _unlink(tmp)
        self._pending.clear()


class AtomicFile:
    """Write text to `path` atomically. Use as a context manager; an exception discards the temporary file. With a
    `group` (an `OutputSet`), the finished file waits for the group's commit instead of being renamed at once."""

    def __init__(self, path: str | Path, group: OutputSet | None = None):
        self.path = Path(path)
        self.group = group
        self._fh: IO[str] | None = None
        self._tmp: str | None = None

    def __enter__(self) -> "AtomicFile":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        except OSError as exc:
            raise OutputError(f"cannot write to {self.path.parent}: {exc.strerror or exc}") from None
        # mkstemp creates 0600; outputs are shared data, so give them the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        return self

    def write(self, text: str) -> None:
        assert self._fh is not None
        try:
            self._fh.write(text)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def __exit__(self, exc_type, exc, tb) -> None:
        assert self._fh is not None and self._tmp is not None
        try:
            if exc_type is None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
            self._fh.close()
            if exc_type is None:
                if self.group is not None:
                    self.group.add(self._tmp, self.path)
                    return
                os.replace(self._tmp, self.path)
                _fsync_dir(self.path.parent)
                return
        except OSError as err:
            _unlink(self._tmp)
            raise OutputError(f"cannot write {self.path}: {err.strerror or err}") from None
        _unlink(self._tmp)


class JsonArrayWriter:
    """A streamed JSON array, one record per line: loadable by ``json.load`` and readable by a person."""

    def __init__(self, path: str | Path, group: OutputSet | None = None):
        self._file = AtomicFile(path, group)
        self._count = 0

    def __enter__(self) -> "JsonArrayWriter":
        self._file.__enter__()
        self._file.write("[")
        return self

    def write(self, record: Any) -> None:
        self._file.write(("\n" if self._count == 0 else ",\n") + dumps(record))
        self._count += 1

    def write_encoded(self, records: list[str]) -> None:
        """Records already encoded by `dumps` (in a worker process, say): the same bytes as `write` for each."""
        if not records:
            return
        head = "\n" if self._count == 0 else ",\n"
        self._file.write(head + ",\n".join(records))
        self._count += len(records)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self._file.write("\n]\n" if self._count else "]\n")
        self._file.__exit__(exc_type, exc, tb)


class JsonLinesWriter:
    def __init__(self, path: str | Path, group: OutputSet | None = None):
        self._file = AtomicFile(path, group)

    def __enter__(self) -> "JsonLinesWriter":
        self._file.__enter__()
        return self

    def write(self, record: Any) -> None:
        self._file.write(dumps(record) + "\n")

    def write_encoded(self, records: list[str]) -> None:
        """Records already encoded by `dumps`: the same bytes as `write` for each."""
        if records:
            self._file.write("\n".join(records) + "\n")

    def write_text(self, lines: str) -> None:
        """Lines already encoded as JSON, each ending in a newline (for callers that format rows themselves)."""
        self._file.write(lines)

    def __exit__(self, exc_type, exc, tb) -> None:
        self._file.__exit__(exc_type, exc, tb)


def write_json(path: str | Path, data: Any, group: OutputSet | None = None) -> None:
    """A small JSON document (manifest, report), written atomically and pretty-printed."""
    with AtomicFile(path, group) as fh:
        try:
            text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, allow_nan=False)
        except ValueError as exc:
            raise NonFiniteNumberError(data, exc) from None
        fh.write(escape_surrogates(text) + "\n")


def remove_stale_temporaries(folder: Path, name: str) -> None:
    """Temporary files left by a killed run for output `name`; they are never renamed, so they can go."""
    for stale in folder.glob(f".{name}.*.tmp"):
        _unlink(str(stale))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

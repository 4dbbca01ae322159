"""Streamed readers for JSON documents and JSON Lines, from a local file or a URL (`translate.formats.sources`).

The format comes from the file name: ``.json`` is one JSON document whatever its first line holds, ``.jsonl`` is JSON
Lines. Only a name that says neither (``.txt``, no extension, a URL ending in ``?download``) is sniffed from its first
bytes (`detect_format`).

A JSON document is parsed one record at a time (`translate.formats.jsonstream`), so a 600K-record file is never held
whole; a syntax error stops the run with the file and byte offset, since an array cannot be resynchronised. A top-level
object is read through its list under `records_key`, or refused with the list-valued keys it has. In JSONL each line
stands alone, so a broken line is quarantined as a rejected record and the rest goes on.

Records come from `RecordDecoder`, which flags keys given twice and non-finite numbers for `validate` to reject.
"""

from __future__ import annotations

import codecs
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from translate.errors import InputFileError
from translate.formats.decoding import RecordDecoder
from translate.formats.jsonstream import TextStream, decode_reason, iter_document
from translate.formats.sources import Source, open_source

FORMATS = {".json": "json", ".jsonl": "jsonl"}
_SNIFF_BYTES = 1 << 16
_RECORD_KEYS = ("conversations", "text", "id", "question_id")


@dataclass(slots=True)
class SourceItem:
    """One element of a source file. `record` is None when the element could not be parsed (JSONL only); then
    `error` says why."""

    index: int
    record: Any
    line: int | None = None
    error: str | None = None


class RecordReader:
    """Iterates `SourceItem`s from a path, a URL or a `Source`. `format` is "json" or "jsonl"; `name` is the file
    name (a URL's last component); `bytes_read` and `size` (None when a server does not say) drive progress bars.
    `records_key` names the list to read in a file whose top level is an object (ignored for arrays and JSONL)."""

    def __init__(self, source: str | os.PathLike | Source, records_key: str | None = None):
        self.source = open_source(source)
        self.path: Path | None = self.source.local_path
        self.location = self.source.location
        self.name = self.source.name
        self.size = self.source.size
        self.records_key = records_key
        self.format = FORMATS.get(self.source.suffix.lower()) or self._sniff()
        self.bytes_read = 0

    def __iter__(self) -> Iterator[SourceItem]:
        if self.format == "json":
            return self._iter_document()
        return self._iter_lines()

    def _progress(self, n: int) -> None:
        self.bytes_read = n

    def _sniff(self) -> str:
        with self.source.open() as fh:
            head = fh.read(_SNIFF_BYTES)
            while head and not head.lstrip(b" \t\r\n\xef\xbb\xbf"):
                more = fh.read(_SNIFF_BYTES)
                if not more:
                    break
                head += more
        return detect_format(head, self.location)

    # -- JSON document ------------------------------------------------------------------------------------------
    def _iter_document(self) -> Iterator[SourceItem]:
        with self.source.open() as fh:
            stream = TextStream(fh, self.location, self._progress)
            for index, record in enumerate(iter_document(stream, RecordDecoder(), self.records_key)):
                yield SourceItem(index, record)

    # -- JSONL --------------------------------------------------------------------------------------------------
    def _iter_lines(self) -> Iterator[SourceItem]:
        decoder = RecordDecoder()
        index = 0
        offset = 0
        with self.source.open() as fh:
            for lineno, raw in enumerate(fh, 1):
                start = offset
                offset += len(raw)
                self.bytes_read = offset
                if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                if not raw.strip():
                    continue  # blank lines carry no record
                yield _parse_line(decoder, raw, index, lineno, start)
                index += 1
        if not index:
            raise InputFileError(self.location, "file is empty; expected JSONL records (one JSON object per line)", 0)


def _parse_line(decoder: RecordDecoder, raw: bytes, index: int, lineno: int, start: int) -> SourceItem:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return SourceItem(index, None, lineno, f"line {lineno} (byte {start + exc.start}): invalid UTF-8")
    try:
        return SourceItem(index, decoder.decode(text), lineno)
    except json.JSONDecodeError as exc:
        return SourceItem(index, None, lineno, f"line {lineno} (byte {start}): invalid JSON: {decode_reason(exc)}")
    except RecursionError:
        return SourceItem(index, None, lineno, f"line {lineno} (byte {start}): nested too deeply to parse")


def detect_format(head: bytes, location: str = "") -> str:
    """The format of a file whose name says nothing, from its first bytes: "json" for a document (an array, a
    pretty-printed object, one object alone), "jsonl" for one value per line. An empty head is an error."""
    stripped = head.lstrip(b" \t\r\n")
    if stripped.startswith(codecs.BOM_UTF8):
        stripped = stripped[len(codecs.BOM_UTF8):].lstrip(b" \t\r\n")
    where = len(head) - len(stripped)
    if not stripped:
        raise InputFileError(location, "file is empty; expected a JSON array or JSONL records", 0)
    if stripped[:1] == b"[":
        return "json"
    if stripped[:1] != b"{":
        raise InputFileError(location, f"expected a JSON array or JSONL records, found {stripped[:1]!r}", where)
    first, _, rest = stripped.partition(b"\n")
    try:
        value = json.loads(first)
    except (ValueError, RecursionError):
        return "json"  # "{" alone on its line, or a first line longer than the head: one document
    if rest.strip():
        return "jsonl"  # a second line follows a whole value
    # One object alone: a record (JSONL with one line), or a document wrapping records under some key.
    return "jsonl" if any(key in value for key in _RECORD_KEYS) else "json"


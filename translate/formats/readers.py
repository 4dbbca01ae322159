"""Streamed readers for JSON arrays and JSONL, detected from the first byte.

A JSON array is parsed one element at a time from a sliding buffer, so a 600K-record file is never held whole.
A syntax error stops the run with the file and byte offset (a JSON array cannot be resynchronised). In JSONL each
line stands alone, so a broken line is quarantined as a rejected record and the rest goes on.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from translate.errors import InputFileError

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_CHUNK = 1 << 20
BOM = "\ufeff"


@dataclass(slots=True)
class SourceItem:
    """One element of a source file. `record` is None when the element could not be parsed (JSONL only); then
    `error` says why."""

    index: int
    record: Any
    line: int | None = None
    error: str | None = None


class RecordReader:
    """Iterates `SourceItem`s. `format` is "json" or "jsonl"; `bytes_read` and `size` drive progress bars."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.size = self.path.stat().st_size
        except OSError as exc:
            raise InputFileError(str(path), f"cannot read: {exc.strerror or exc}") from None
        if self.path.is_dir():
            raise InputFileError(str(path), "is a folder, not a file")
        self.format = detect_format(self.path)
        self.bytes_read = 0

    def __iter__(self) -> Iterator[SourceItem]:
        if self.format == "json":
            return self._iter_array()
        return self._iter_lines()

    # -- JSON array ---------------------------------------------------------------------------------------------
    def _iter_array(self) -> Iterator[SourceItem]:
        path = str(self.path)
        with open(self.path, "rb") as fh:
            decoder = codecs.getincrementaldecoder("utf-8")("strict")
            buf = ""
            base = 0  # byte offset of buf[0] in the file
            raw_read = 0
            eof = False

            def more(size: int) -> bool:
                nonlocal buf, raw_read, eof
                if eof:
                    return False
                data = fh.read(size)
                try:
                    text = decoder.decode(data, final=not data)
                except UnicodeDecodeError as exc:
                    raise InputFileError(path, f"invalid UTF-8 ({exc.reason})", raw_read + exc.start) from None
                raw_read += len(data)
                self.bytes_read = raw_read
                if not data:
                    eof = True
                buf += text
                return bool(data)

            def offset(pos: int) -> int:
                return base + len(buf[:pos].encode("utf-8", "surrogatepass"))

            more(_CHUNK)
            pos = 0
            if buf.startswith(BOM):
                pos = 1
            pos = _WS.match(buf, pos).end()
            while pos >= len(buf) and more(_CHUNK):
                pos = _WS.match(buf, pos).end()
            if pos >= len(buf):
                raise InputFileError(path, "file is empty; expected a JSON array of records", offset(pos))
            if buf[pos] != "[":
                raise InputFileError(path, f"expected a JSON array of records, found {buf[pos]!r}", offset(pos))
            pos += 1
            index = 0
            expect_value = True  # after "[" or ",": a value (or "]" right after "[")
            while True:
                pos = _WS.match(buf, pos).end()
                while pos >= len(buf):
                    if not more(_CHUNK):
                        raise InputFileError(path, "file ends inside the JSON array (truncated?)", offset(pos))
                    pos = _WS.match(buf, pos).end()
                ch = buf[pos]
                if ch == "]" and (index == 0 or not expect_value):
                    pos += 1
                    break
                if not expect_value:
                    if ch != ",":
                        raise InputFileError(path, f"expected ',' or ']' after record {index - 1}, found {ch!r}", offset(pos))
                    pos += 1
                    expect_value = True
                    continue
                # Parse one record; on failure, read more and retry, since the record may continue past the buffer.
                grow = _CHUNK
                while True:
                    try:
                        record, end = _DECODER.raw_decode(buf, pos)
                        # A bare number at the very end of the buffer may continue in the next chunk.
                        if end < len(buf) or not more(grow):
                            break
                        continue
                    except json.JSONDecodeError as exc:
                        if not more(grow):
                            raise InputFileError(
                                path, f"invalid JSON in record {index}: {_reason(exc)}", offset(exc.pos)
                            ) from None
                        grow *= 2
                    except RecursionError:
                        raise InputFileError(
                            path, f"record {index} is nested too deeply to parse", offset(pos)) from None
                yield SourceItem(index, record)
                index += 1
                pos = end
                expect_value = False
                if pos > _CHUNK:  # drop what was consumed, keeping the byte offset right for error messages
                    base += len(buf[:pos].encode("utf-8", "surrogatepass"))
                    buf = buf[pos:]
                    pos = 0
            # Only whitespace may follow the closing bracket.
            while True:
                pos = _WS.match(buf, pos).end()
                if pos < len(buf):
                    raise InputFileError(path, "unexpected data after the end of the JSON array", offset(pos))
                if not more(_CHUNK):
                    return

    # -- JSONL --------------------------------------------------------------------------------------------------
    def _iter_lines(self) -> Iterator[SourceItem]:
        path = str(self.path)
        index = 0
        offset = 0
        with open(self.path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                start = offset
                offset += len(raw)
                self.bytes_read = offset
                if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                if not raw.strip():
                    continue  # blank lines carry no record
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield SourceItem(index, None, lineno, f"line {lineno} (byte {start + exc.start}): invalid UTF-8")
                    index += 1
                    continue
                try:
                    record = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield SourceItem(index, None, lineno,
                                     f"line {lineno} (byte {start}): invalid JSON: {_reason(exc)}")
                    index += 1
                    continue
                except RecursionError:
                    yield SourceItem(index, None, lineno, f"line {lineno} (byte {start}): nested too deeply to parse")
                    index += 1
                    continue
                yield SourceItem(index, record, lineno)
                index += 1


def _reason(exc: json.JSONDecodeError) -> str:
    """The decoder's message without its dangling "at" / "starting at" (the byte offset is given separately)."""
    msg = exc.msg
    for tail in (" starting at", " at"):
        if msg.endswith(tail):
            return msg[: -len(tail)]
    return msg


def detect_format(path: Path) -> str:
    """"json" when the first non-blank character is '[', else "jsonl". An empty file is an error."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
        while head and not head.lstrip(b" \t\r\n\xef\xbb\xbf"):
            more = fh.read(4096)
            if not more:
                break
            head += more
    stripped = head.lstrip(b" \t\r\n")
    if stripped.startswith(codecs.BOM_UTF8):
        stripped = stripped[len(codecs.BOM_UTF8):].lstrip(b" \t\r\n")
    if not stripped:
        raise InputFileError(str(path), "file is empty; expected a JSON array or JSONL records", 0)
    if stripped[:1] == b"[":
        return "json"
    if stripped[:1] == b"{":
        # A pretty-printed object ("{" alone on its first line) is one document, not JSONL: say so rather than
        # quarantine each of its lines as a broken record.
        if stripped.split(b"\n", 1)[0].strip() == b"{":
            raise InputFileError(
                str(path), "the top level is a JSON object spread over lines; expected a JSON array of records "
                "or JSONL (one record per line)", len(head) - len(stripped))
        return "jsonl"
    raise InputFileError(
        str(path), f"expected a JSON array or JSONL records, found {stripped[:1]!r}", len(head) - len(stripped)
    )


def open_records(path: str | Path) -> RecordReader:
    return RecordReader(path)

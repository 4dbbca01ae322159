"""A JSON document read one record at a time from a binary stream, never held whole.

The text is decoded a chunk at a time into a sliding buffer (`TextStream`); each record is parsed with the C decoder
where it starts, and the buffer grows only while a record runs past its end. Consumed text is dropped, so memory
stays at about one chunk plus the largest record. Every error names the byte offset where it was found.

A document is either an array of records, or an object holding one: with ``records_key`` its list under that key is
streamed the same way; without, the error lists the object's list-valued keys so the user can pick one.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import IO, Any, Callable, Iterator

from translate.errors import InputFileError

_WS = re.compile(r"[ \t\n\r]*")
_CHUNK = 1 << 20
BOM = "\ufeff"
_PLAIN = json.JSONDecoder()  # for values that are skipped, not kept


class TextStream:
    """The UTF-8 text of `fh` from the current position `pos` on, read in chunks as the parser needs them."""

    def __init__(self, fh: IO[bytes], path: str, on_read: Callable[[int], None] | None = None):
        self.fh = fh
        self.path = path
        self.on_read = on_read
        self.text = ""
        self.pos = 0
        self.base = 0  # byte offset of text[0] in the file
        self.raw_read = 0
        self.eof = False
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")

    def more(self, size: int | None = None) -> bool:
        """Append the next chunk of text; False at the end of the file."""
        if self.eof:
            return False
        data = self.fh.read(size or _CHUNK)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise InputFileError(self.path, f"invalid UTF-8 ({exc.reason})", self.raw_read + exc.start) from None
        self.raw_read += len(data)
        if self.on_read is not None:
            self.on_read(self.raw_read)
        if not data:
            self.eof = True
        self.text += text
        return bool(data)

    def offset(self, pos: int | None = None) -> int:
        """The byte offset in the file of text position `pos` (default: the current position)."""
        pos = self.pos if pos is None else pos
        return self.base + len(self.text[:pos].encode("utf-8", "surrogatepass"))

    def error(self, message: str, pos: int | None = None) -> InputFileError:
        return InputFileError(self.path, message, self.offset(pos))

    def peek(self) -> str:
        """The next character after whitespace (the position moves to it), or "" at the end of the file."""
        pos = _WS.match(self.text, self.pos).end()
        while pos >= len(self.text) and self.more():
            pos = _WS.match(self.text, pos).end()
        self.pos = pos
        return self.text[pos] if pos < len(self.text) else ""

    def skip_bom(self) -> None:
        if not self.text:
            self.more()
        if self.text.startswith(BOM):
            self.pos = 1

    def value(self, label: str, decoder: Any = _PLAIN) -> Any:
        """Parse the JSON value at the current position (reading more while it runs past the buffer) and move past
        it. `label` names it in errors ("record 3")."""
        grow = _CHUNK
        while True:
            try:
                value, end = decoder.raw_decode(self.text, self.pos)
                # A bare number at the very end of the buffer may continue in the next chunk.
                if end < len(self.text) or not self.more(grow):
                    break
            except json.JSONDecodeError as exc:
                if not self.more(grow):
                    raise self.error(f"invalid JSON in {label}: {decode_reason(exc)}", exc.pos) from None
                grow *= 2
            except RecursionError:
                raise self.error(f"{label} is nested too deeply to parse") from None
        self.pos = end
        self.compact()
        return value

    def compact(self) -> None:
        """Drop the text already consumed, keeping byte offsets right."""
        if self.pos > _CHUNK:
            self.base += len(self.text[: self.pos].encode("utf-8", "surrogatepass"))
            self.text = self.text[self.pos:]
            self.pos = 0


def iter_document(stream: TextStream, decoder: Any, records_key: str | None = None) -> Iterator[Any]:
    """The records of a JSON document: its top-level array, or with `records_key` the array under that key of a
    top-level object. Only whitespace may follow the document."""
    stream.skip_bom()
    ch = stream.peek()
    if not ch:
        raise InputFileError(stream.path, "file is empty; expected a JSON array of records", 0)
    if ch == "[":
        yield from iter_array(stream, decoder)
        _expect_end(stream, "array")
    elif ch == "{":
        yield from _iter_object_records(stream, decoder, records_key)
    else:
        raise stream.error(f"expected a JSON array of records (or an object holding one), found {ch!r}")


def iter_array(stream: TextStream, decoder: Any, what: str = "record") -> Iterator[Any]:
    """The elements of the array that starts at the current position; the position ends after its "]"."""
    stream.pos += 1
    index = 0
    if _peek_in_array(stream) == "]":
        stream.pos += 1
        return
    while True:
        yield stream.value(f"{what} {index}", decoder)
        index += 1
        ch = _peek_in_array(stream)
        if ch == "]":
            stream.pos += 1
            return
        if ch != ",":
            raise stream.error(f"expected ',' or ']' after {what} {index - 1}, found {ch!r}")
        stream.pos += 1
        _peek_in_array(stream)


def _peek_in_array(stream: TextStream) -> str:
    ch = stream.peek()
    if not ch:
        raise stream.error("file ends inside the JSON array (truncated?)")
    return ch


def _iter_object_records(stream: TextStream, decoder: Any, records_key: str | None) -> Iterator[Any]:
    """Stream the records under `records_key` of the top-level object at the current position. Other values are
    parsed and dropped; for the error message, list-valued keys are noted with their lengths."""
    start = stream.offset()
    lists: dict[str, int] = {}
    found = False
    for key in _object_keys(stream):
        if key == records_key:
            if found:
                raise stream.error(f"the key {key!r} appears twice in the top-level object")
            if stream.peek() != "[":
                raise stream.error(f"the value of {key!r} is not a list of records")
            found = True
            yield from iter_array(stream, decoder)
        elif stream.peek() == "[":
            lists[key] = sum(1 for _ in iter_array(stream, _PLAIN, f"{key!r} item"))
        else:
            stream.value(f"the value of {key!r}")
    _expect_end(stream, "object")
    if not found:
        raise InputFileError(stream.path, _object_message(lists, records_key), start)


def _object_keys(stream: TextStream) -> Iterator[str]:
    """The keys of the object at the current position, in order; after each, the position is at its value (the
    caller consumes it). Ends after the closing "}"."""
    stream.pos += 1
    ch = stream.peek()
    if ch == "}":
        stream.pos += 1
        return
    while True:
        if ch != '"':
            raise stream.error("expected a key (a string) in the top-level object, found " + (repr(ch) if ch else
                               "the end of the file (truncated?)"))
        key = stream.value("a key of the top-level object")
        if stream.peek() != ":":
            raise stream.error(f"expected ':' after the key {key!r}")
        stream.pos += 1
        yield key
        ch = stream.peek()
        if ch == "}":
            stream.pos += 1
            return
        if ch != ",":
            raise stream.error(f"expected ',' or '}}' after the value of {key!r}, found " + (repr(ch) if ch else
                               "the end of the file (truncated?)"))
        stream.pos += 1
        ch = stream.peek()


def _object_message(lists: dict[str, int], records_key: str | None) -> str:
    listed = ", ".join(f"{key!r} ({n:,} items)" for key, n in lists.items())
    if records_key is not None:
        head = f"the top-level object has no key {records_key!r} (--records-key)"
    else:
        head = "the top level is a JSON object, not an array of records"
    if not lists:
        return f"{head}, and none of its values is a list"
    hint = f"; pass --records-key {next(iter(lists))} to translate the records under it" if records_key is None else ""
    return f"{head}; its list-valued keys: {listed}{hint}"


def _expect_end(stream: TextStream, what: str) -> None:
    """Only whitespace may follow the document. A second value usually means JSON Lines named .json: say so."""
    ch = stream.peek()
    if not ch:
        return
    if ch in "{[":
        raise stream.error(f"a second JSON value follows the top-level {what}: this looks like JSON Lines (one "
                           "record per line); name the file .jsonl")
    raise stream.error(f"unexpected data after the end of the JSON {what}")


def decode_reason(exc: json.JSONDecodeError) -> str:
    """The decoder's message without its dangling "at" / "starting at" (the byte offset is given separately)."""
    msg = exc.msg
    for tail in (" starting at", " at"):
        if msg.endswith(tail):
            return msg[: -len(tail)]
    return msg

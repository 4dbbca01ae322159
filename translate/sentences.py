"""Sentence splitting that can be undone exactly.

Sentence-level models (NLLB was trained on single sentences) drop or garble later sentences of a paragraph, so a body
is cut into *chunks* before it is sent: sentences to translate, and everything else kept byte for byte (whitespace,
newlines, list numbers and bullets, Markdown heading marks, placeholders, text without letters).

``"".join(c.text for c in split(text))`` is always ``text``; `join` puts translations in place of the translatable
chunks and leaves the rest as it was. Both are pure functions.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

DEFAULT_MAX_CHARS = 500

# A line's list marker or heading mark, with the spaces after it: "1. ", "2) ", "(3) ", "- ", "* ", "• ", "## ".
_LINE_MARKER = re.compile(
    r"[ \t]*(?:\(?\d{1,3}[.)]|\(?[a-z][)]|[-*•‣◦▪●–—+]|#{1,6}|>)[ \t]+"
)
_NEWLINES = re.compile(r"(\r\n|\r|\n)+[ \t]*(?:(?:\r\n|\r|\n)+[ \t]*)*")

# A sentence ends at a run of terminators, then optional closing quotes or brackets. Latin terminators need
# whitespace after them; CJK ones do not.
_LATIN_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
_CJK_END = re.compile(r"[。！？]+[」』”’)）\]]*")
_WS = re.compile(r"\s+")

# Words that end with a period without ending a sentence (compared in lower case, without the period).
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt ft vs etc e.g i.e cf al approx dept est fig figs no nos vol vols inc ltd co corp "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun a.m p.m u.s u.k".split()
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a body: `translate` is True for a sentence to send, False for text kept as it is."""

    text: str
    translate: bool


def has_letter(text: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in text)


def split(text: str, keep: re.Pattern[str] | None = None, max_chars: int = DEFAULT_MAX_CHARS) -> list[Chunk]:
    """Cut `text` into chunks. Spans matched by `keep` (placeholders) are kept and never part of a sentence;
    no translatable chunk is longer than `max_chars`, contains a newline, starts or ends with whitespace, or lacks a
    letter."""
    if max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    chunks: list[Chunk] = []
    last = 0
    if keep is not None:
        for match in keep.finditer(text):
            if match.start() == match.end():
                continue
            _split_prose(text, last, match.start(), max_chars, chunks)
            chunks.append(Chunk(match.group(0), False))
            last = match.end()
    _split_prose(text, last, len(text), max_chars, chunks)
    return _merge_kept(chunks)


def join(chunks: Sequence[Chunk], translations: Iterable[str]) -> str:
    """The chunks with each translatable one replaced by the next translation, in order."""
    it = iter(translations)
    out: list[str] = []
    for chunk in chunks:
        if chunk.translate:
            try:
                out.append(next(it))
            except StopIteration:
                raise ValueError("fewer translations than translatable chunks") from None
        else:
            out.append(chunk.text)
    if next(it, None) is not None:
        raise ValueError("more translations than translatable chunks")
    return "".join(out)


def sentences(chunks: Sequence[Chunk]) -> list[str]:
    return [c.text for c in chunks if c.translate]


def _merge_kept(chunks: list[Chunk]) -> list[Chunk]:
    """Adjacent kept chunks become one, and empty ones go."""
    out: list[Chunk] = []
    for chunk in chunks:
        if not chunk.text:
            continue
        if out and not chunk.translate and not out[-1].translate:
            out[-1] = Chunk(out[-1].text + chunk.text, False)
        else:
            out.append(chunk)
    return out


def _split_prose(text: str, start: int, end: int, max_chars: int, out: list[Chunk]) -> None:
    """Lines of text[start:end]; a list marker counts only at the true start of a line of the whole text."""
    pos = start
    for nl in _NEWLINES.finditer(text, start, end):
        _split_line(text, pos, nl.start(), max_chars, out)
        out.append(Chunk(nl.group(0), False))
        pos = nl.end()
    _split_line(text, pos, end, max_chars, out)


def _split_line(text: str, start: int, end: int, max_chars: int, out: list[Chunk]) -> None:
    if start >= end:
        return
    j = start - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    at_line_start = j < 0 or text[j] in "\r\n"
    if at_line_start:
        m = _LINE_MARKER.match(text, start, end)
        if m and m.end() < end:
            out.append(Chunk(m.group(0), False))
            start = m.end()
    line = text[start:end]
    stripped = line.strip()
    if not stripped:
        out.append(Chunk(line, False))
        return
    lead = len(line) - len(line.lstrip())
    trail = len(line.rstrip())
    out.append(Chunk(line[:lead], False))
    body = line[lead:trail]
    for piece, is_sentence in _sentences(body):
        if not is_sentence:
            out.append(Chunk(piece, False))
            continue
        for part, is_text in _bound(piece, max_chars):
            out.append(Chunk(part, is_text and has_letter(part)))
    out.append(Chunk(line[trail:], False))


def _sentences(body: str) -> Iterator[tuple[str, bool]]:
    """(piece, is_sentence) for a stripped, single-line body: sentences and the whitespace between them."""
    cuts: list[int] = []
    for m in _LATIN_END.finditer(body):
        if _ends_sentence(body, m.start(), m.end()):
            cuts.append(m.end())
    for m in _CJK_END.finditer(body):
        if m.end() < len(body):
            cuts.append(m.end())
    pos = 0
    for cut in sorted(set(cuts)):
        if cut <= pos:
            continue
        ws = _WS.match(body, cut)
        after = ws.end() if ws else cut
        if after >= len(body):
            break
        yield body[pos:cut], True
        if after > cut:
            yield body[cut:after], False
        pos = after
    if pos < len(body):
        yield body[pos:], True


def _ends_sentence(body: str, term_start: int, term_end: int) -> bool:
    """Whether the terminator run body[term_start:term_end] closes a sentence (whitespace follows it)."""
    rest = body[term_end:].lstrip()
    if not rest:
        return False
    nxt = rest[0]
    if nxt.islower():
        return False  # "e.g. a dog", "approx. ten"
    if body[term_start] == "." and body[term_start:term_end].rstrip("\"'”’»)]") == ".":
        word = re.search(r"(\S+)\Z", body[:term_start])
        if word:
            w = word.group(1).lstrip("(\"'“‘«[")
            if w.lower() in ABBREVIATIONS:
                return False
            if len(w) == 1 and w.isalpha() and w.isupper():
                return False  # an initial: "J. Smith"
            if re.fullmatch(r"\d{1,3}", w) and inline_enumerator(body, word.start(), int(w)):
                return False  # an inline enumerator: "steps: 1. Fill …"
    return True


def inline_enumerator(body: str, start: int, n: int) -> bool:
    """Whether the number at body[start] opens an inline list item ("Steps: 1. Fill … 2. Drink …") rather than
    ending a sentence ("The bus number is 42. It is parked …"): it starts the line, follows a colon or semicolon,
    or continues a count ("2." after an earlier "1.")."""
    before = body[:start].rstrip()
    if not before or before[-1] in ":;":
        return True
    return n > 1 and re.search(r"(?:^|\s)%d\.\s" % (n - 1), before) is not None


def _bound(sentence: str, max_chars: int) -> Iterator[tuple[str, bool]]:
    """A sentence cut into pieces of at most `max_chars`: at clause punctuation, else at spaces, else anywhere.
    Yields (piece, is_text) with the whitespace between pieces as separate non-text pieces."""
    if len(sentence) <= max_chars:
        yield sentence, True
        return
    pieces = _greedy(sentence, re.compile(r"(?<=[,;:])\s+"), max_chars)
    for piece in pieces:
        if piece[1] and len(piece[0]) > max_chars:
            for sub in _greedy(piece[0], _WS, max_chars):
                if sub[1] and len(sub[0]) > max_chars:
                    s = sub[0]
                    for i in range(0, len(s), max_chars):
                        yield s[i: i + max_chars], True
                else:
                    yield sub
        else:
            yield piece


def _greedy(text: str, sep: re.Pattern[str], max_chars: int) -> list[tuple[str, bool]]:
    """Cut `text` at matches of `sep`, packing consecutive parts while they fit in `max_chars`."""
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in sep.finditer(text):
        if m.start() == m.end() or m.start() == 0 or m.end() == len(text):
            continue
        parts.append((text[pos:m.start()], True))
        parts.append((m.group(0), False))
        pos = m.end()
    parts.append((text[pos:], True))
    out: list[tuple[str, bool]] = []
    current = ""
    gap = ""
    for piece, is_text in parts:
        if not is_text:
            gap = piece
            continue
        if current and len(current) + len(gap) + len(piece) <= max_chars:
            current += gap + piece
        else:
            if current:
                out.append((current, True))
                out.append((gap, False))
            current = piece
        gap = ""
    out.append((current, True))
    return out

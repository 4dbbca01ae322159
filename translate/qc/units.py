"""Sentence units for the quality checks: the sentences, list items and lines of a text, to compare a source with its
translation (sentence alignment, speech levels, negation per sentence).

Unlike `translate.sentences.split` this is not reversible and sends nothing anywhere: list markers are dropped,
pieces without a letter are left out, and Korean sentences also end without a period before another Korean word
("…있습니다 소화전은 …"). The rules for where a sentence ends (abbreviations, initials, inline enumerators "1. … 2.")
are `translate.sentences`'s, so both cut English the same way.

It runs on both sides of every turn, so it is written for speed: one regex pass per line for the terminators, the
word-before-a-period test without slicing, the common case of a piece that starts with a letter tested without a
regex.
"""

from __future__ import annotations

import re

from translate.sentences import ABBREVIATIONS, inline_enumerator

# A run of Latin terminators with its closing quotes, and the first character after the whitespace that must follow;
# a run of CJK terminators, which cut without whitespace. Each pattern starts with a character class rather than a
# repeat or an alternation, so that the regex engine can skip ahead to the next candidate in C (`[.!?…]+` or one
# alternation of both would be tried at every position: 4x the cost on an English answer).
_LATIN_END = re.compile(r"[.!?…][.!?…]*[\"'”’»)\]]*(?=\s+(\S))")
_CJK_END = re.compile(r"[。！？][。！？]*[」』”’)）\]]*")
_MARKER = re.compile(r"[ \t]*(?:\(?\d{1,3}[.)]|\(?[a-z][)]|[-*•‣◦▪●–—+]|#{1,6}|>)[ \t]+")
# Korean sentence endings that close a sentence even without a period ("…있습니다 소화전은 …").
_KO_UNPUNCTUATED = re.compile(r"(?:니다|어요|아요|에요|예요|세요|해요|죠)(?=[ \t]+[가-힣])")
_LETTER = re.compile(r"[^\W\d_]")
_CLOSERS = "\"'”’»)]"


def _has_letter(piece: str) -> bool:
    return piece[0].isalpha() or _LETTER.search(piece) is not None


def _cuts(line: str) -> list[int]:
    """Where sentences end in one stripped line: after a terminator run that ends a sentence, and (Korean) after
    an unpunctuated sentence ending."""
    cuts = []
    for m in _LATIN_END.finditer(line):
        if m.group(1).islower():
            continue  # "e.g. a dog", "approx. ten"
        start = m.start()
        if line[start] == "." and m.group(0).rstrip(_CLOSERS) == ".":
            w = line[line.rfind(" ", 0, start) + 1: start].lstrip("(\"'“‘«[")
            if w.lower() in ABBREVIATIONS or (len(w) == 1 and w.isalpha() and w.isupper()):
                continue  # "Dr. Smith", "J. Smith"
            if w.isdecimal() and len(w) <= 3 and inline_enumerator(line, start - len(w), int(w)):
                continue  # "Steps: 1. Fill …"
        cuts.append(m.end())
    if "。" in line or "！" in line or "？" in line:
        cuts += [m.end() for m in _CJK_END.finditer(line)]
        cuts.sort()
    # An unpunctuated Korean ending is followed by a space or a tab: looked for only where one is.
    if "다 " in line or "요 " in line or "죠 " in line or "\t" in line:
        more = [m.end() for m in _KO_UNPUNCTUATED.finditer(line)]
        if more:
            cuts += more
            cuts.sort()
    return cuts


def units(text: str) -> list[str]:
    """The sentences, list items and lines of `text`, list markers dropped, pieces without a letter left out (a
    trailing one is joined to the unit before it)."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = _MARKER.match(line)
        if m and m.end() < len(line):
            line = line[m.end():]
        pos = 0
        for cut in _cuts(line):
            piece = line[pos:cut].strip()
            if piece and _has_letter(piece):
                out.append(piece)
                pos = cut
        piece = line[pos:].strip() if pos else line
        if piece and (_has_letter(piece) or not out):
            out.append(piece)
        elif piece and out:
            out[-1] += " " + piece
    return out

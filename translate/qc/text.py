"""Small text helpers shared by several checks."""

from __future__ import annotations

import re

from translate.protect import IMAGE_TOKEN

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")
DIGIT = re.compile(r"\d")
WORD = re.compile(r"[a-z][a-z'’-]{2,}")  # a source word worth comparing: 3+ letters, lower-cased text
NAME_START = re.compile(r"[\"'(]?[A-Z0-9]")
NAME_CONNECTORS = frozenset({"of", "the", "and", "a", "an", "in", "on", "for", "to", "with", "de", "da", "del",
                             "van", "von", "la", "le", "du", "&", "-", "vs.", "at", "by"})


def strip_image(text: str) -> str:
    if IMAGE_TOKEN in text:
        text = text.replace(IMAGE_TOKEN, "")
    return text.strip()


def numbers(text: str) -> list[str]:
    """The numbers of a text, thousands separators removed ("1,250" → "1250"); "3,4" is two numbers."""
    out = []
    for n in NUMBER.findall(text):
        if "," in n:
            if _THOUSANDS.match(n):
                n = n.replace(",", "")
            else:
                out.extend(n.split(","))
                continue
        out.append(n)
    return out


def is_name(text: str, max_words: int) -> bool:
    """A short phrase whose words all start with a capital or a digit (lower-case connectors such as "of" or "van"
    allowed inside): a person, a product, a book title."""
    words = text.split()
    if not words or len(words) > max_words or not NAME_START.match(words[0]):
        return False
    return all(NAME_START.match(w) or w.lower() in NAME_CONNECTORS for w in words[1:])

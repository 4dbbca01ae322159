"""Measurements of texts that recur, kept by text between turns.

LLaVA repeats itself: the pretraining files draw every human prompt from about a dozen templates, conversations ask
the same questions, and the record-level checks look again at the turns just checked. What a check measures on a
text alone (its sentence units, whether an English source negates, the units it names) is the same every time, so
it is computed once and kept here. Only values that depend on nothing but the text (and the checker's fixed target)
may be kept: a cache hit must give the same answer a fresh computation would, or sharded and single runs would
differ.
"""

from __future__ import annotations

from typing import Any


class TextCache:
    """A dict of measurements per text, bounded: two generations of at most `size` texts each; a text found in the
    old generation moves to the new one, and when the new one is full the old one is dropped (least recently used,
    roughly, at the cost of two dict lookups)."""

    __slots__ = ("size", "_new", "_old")

    def __init__(self, size: int = 4096):
        if size < 0:
            raise ValueError("a text cache cannot hold a negative number of texts")
        self.size = size
        self._new: dict[str, dict[str, Any]] = {}
        self._old: dict[str, dict[str, Any]] = {}

    def facts(self, text: str) -> dict[str, Any]:
        """The measurements kept for `text` (a dict the caller fills), empty when the text is new. With `size` 0
        nothing is kept: every call gives a fresh dict."""
        if not self.size:
            return {}
        found = self._new.get(text)
        if found is not None:
            return found
        found = self._old.pop(text, None)
        if found is None:
            found = {}
        if len(self._new) >= self.size:
            self._old = self._new
            self._new = {}
        self._new[text] = found
        return found

    def __len__(self) -> int:
        return len(self._new) + len(self._old)

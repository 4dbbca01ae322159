"""Explain a file in which no record validates: one sentence on what its records look like instead.

A file in another shape (OpenAI/ShareGPT ``messages``, a misspelt key, a list of strings) would otherwise end as
"✓ 0 kept, 1,000 rejected" and an empty output. The pipeline feeds every record's validation result to a
`SchemaSurvey` and, at the end of a file, turns a non-None `hint()` into an input error (exit 2).

Counting stops at the first valid record, so on a good file the survey costs one comparison per record.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from translate.reasons import Reason

# Keys that mean "this is a known other shape", with what to say about them.
_KNOWN_SHAPES = {
    "messages": "the OpenAI/ShareGPT chat shape (`messages: [{role, content}]`); convert it to LLaVA's "
                "`conversations: [{from: human|gpt, value}]` first",
    "conversation": "`conversation` is not LLaVA's key: it is `conversations` (plural)",
    "dialog": "a dialogue shape; LLaVA's key is `conversations: [{from: human|gpt, value}]`",
    "turns": "a dialogue shape; LLaVA's key is `conversations: [{from: human|gpt, value}]`",
}
_RECORD_KEYS = ("conversations", "text")
_MAX_KEYS = 64  # distinct top-level keys remembered; a file with more is not a record file anyway
_SHOWN = 4


class SchemaSurvey:
    """Feed it every record and its validation problems (`add`); `hint()` then says why none of them could be used,
    or None when at least one could (or there were none)."""

    def __init__(self) -> None:
        self.total = 0
        self.valid = 0
        self._objects = 0
        self._with_record_key = 0
        self._keys: Counter[str] = Counter()
        self._types: Counter[str] = Counter()
        self._codes: Counter[str] = Counter()
        self._examples: dict[str, Reason] = {}

    def add(self, record: Any, problems: Iterable[Reason]) -> None:
        self.total += 1
        if self.valid:
            return
        problems = list(problems)
        if not problems:
            self.valid += 1
            return
        for reason in problems:
            self._codes[reason.code] += 1
            self._examples.setdefault(reason.code, reason)
        if any(reason.code == "invalid_json" for reason in problems):
            return  # a line that did not parse has no shape to describe
        if not isinstance(record, dict):
            self._types[_json_type(record)] += 1
            return
        self._objects += 1
        if any(key in record for key in _RECORD_KEYS):
            self._with_record_key += 1
        for key in record:
            if key in self._keys or len(self._keys) < _MAX_KEYS:
                self._keys[key] += 1

    def hint(self) -> str | None:
        """One sentence on what is wrong with the whole file, or None when some record validated or none came."""
        if self.valid or not self.total:
            return None
        n = f"{self.total:,}"
        if self._types and not self._objects:
            return (f"none of the {n} records is a JSON object: they are {_listed(self._types)}; a LLaVA file is a "
                    "list of objects with `conversations` (or LLaVA-Bench's `text`)")
        if self._objects and not self._with_record_key:
            message = (f"0 of {n} records have `conversations` (LLaVA) or `text` (LLaVA-Bench); they have "
                       f"{_listed(self._keys, code=True) or 'no keys at all (empty objects)'}")
            known = [_KNOWN_SHAPES[k] for k in self._keys if k in _KNOWN_SHAPES]
            return message + (f": {known[0]}" if known else "")
        worst = ", ".join(
            f"{code} in {count:,} (e.g. {self._examples[code].field or 'the record'}: {self._examples[code].detail})"
            for code, count in self._codes.most_common(3))
        return f"none of the {n} records can be translated: {worst}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "booleans", int: "numbers", float: "numbers", str: "strings", list: "lists"}.get(
        type(value), type(value).__name__)


def _listed(counts: Counter[str], code: bool = False) -> str:
    shown = [(f"`{k}`" if code else k) + f" ({v:,})" for k, v in counts.most_common(_SHOWN)]
    more = len(counts) - _SHOWN
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")

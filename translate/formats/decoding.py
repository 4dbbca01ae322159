"""Decode one record of JSON text, catching what Python's parser lets through silently.

* **A key given twice** in one object: `json` keeps the last value without a word, so one of the two texts would be
  lost (or translated while the other is trained on). Found with ``object_pairs_hook``.
* **NaN, Infinity, -Infinity, and numbers that overflow a double (1e400)**: `json` reads them as floats and would
  write them back as ``NaN`` / ``Infinity``, which is not JSON (LLaVA's loader, `jq` and most other parsers refuse
  it). Each is read as a `NonFiniteLiteral`, a str holding the literal as written, so the record stays writable as
  JSON in the rejected file.

A record with either problem comes back as a `FlaggedRecord` whose `read_problems` name each field; `validate`
rejects it (``duplicate_key``, ``non_finite_number``). Records without one are plain dicts, and finding out costs one
small Python call per JSON object (about 25 % of the parser's time, a few percent of a run's).
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterator

from translate.formats.records import FlaggedRecord
from translate.reasons import Reason


class NonFiniteLiteral(str):
    """A number JSON cannot hold (``NaN``, ``Infinity``, ``-Infinity``, ``1e400``), kept as the text it was written
    as. Being a str, it is written back as a JSON string, never as the bare literal."""

    __slots__ = ()


class RecordDecoder:
    """`raw_decode` and `decode` as in `json.JSONDecoder`, returning flagged records (see the module docstring)."""

    def __init__(self) -> None:
        duplicates: list[tuple[dict, list[tuple[str, Any]]]] = []
        non_finite: list[str] = []

        def pairs_to_dict(pairs: list[tuple[str, Any]]) -> dict:
            obj = dict(pairs)
            if len(obj) != len(pairs):
                duplicates.append((obj, pairs))
            return obj

        def constant(literal: str) -> NonFiniteLiteral:
            non_finite.append(literal)
            return NonFiniteLiteral(literal)

        def number(literal: str) -> float | NonFiniteLiteral:
            value = float(literal)
            if math.isinf(value):
                return constant(literal)
            return value

        self._duplicates = duplicates
        self._non_finite = non_finite
        self._decoder = json.JSONDecoder(object_pairs_hook=pairs_to_dict, parse_constant=constant,
                                         parse_float=number)

    def raw_decode(self, text: str, pos: int = 0) -> tuple[Any, int]:
        """One JSON value starting at `pos` (no whitespace before it) and the position after it."""
        self._duplicates.clear()
        self._non_finite.clear()
        value, end = self._decoder.raw_decode(text, pos)
        if self._duplicates or self._non_finite:
            value = self._flag(value)
        return value, end

    def decode(self, text: str) -> Any:
        """A whole text holding one JSON value (a JSONL line); raises `json.JSONDecodeError` like `json.loads`."""
        self._duplicates.clear()
        self._non_finite.clear()
        value = self._decoder.decode(text)
        if self._duplicates or self._non_finite:
            value = self._flag(value)
        return value

    def _flag(self, value: Any) -> Any:
        problems = read_problems(value, self._duplicates)
        self._duplicates.clear()
        self._non_finite.clear()
        if isinstance(value, dict) and problems:
            return FlaggedRecord(value, problems)
        return value  # not an object: rejected as such; its non-finite numbers are already strings


def read_problems(value: Any, duplicates: list[tuple[dict, list[tuple[str, Any]]]]) -> list[Reason]:
    """A `duplicate_key` reason per repeated key and a `non_finite_number` reason per non-finite number in `value`,
    each naming its field (``conversations[1].value``). Only called for the rare record that has one."""
    where = {id(obj): pairs for obj, pairs in duplicates}
    problems = []
    for path, node in _walk(value, ""):
        if isinstance(node, NonFiniteLiteral):
            why = ("JSON has no NaN or Infinity" if node.lstrip("-") in ("NaN", "Infinity")
                   else "it overflows a double, so it would be read back as Infinity")
            problems.append(Reason("non_finite_number", path, f"{path or 'the record'} is {node}, which is not a "
                                   f"JSON number ({why}); the copy in the rejected file has it as the string "
                                   f"\"{node}\""))
        elif id(node) in where:
            keys = [key for key, _ in where[id(node)]]
            for key in dict.fromkeys(k for k in keys if keys.count(k) > 1):
                values = [v for k, v in where[id(node)] if k == key]
                shown = ", ".join(_short(v) for v in values)
                problems.append(Reason("duplicate_key", _join(path, key),
                                       f"key {key!r} appears {len(values)} times in "
                                       f"{path or 'the record'} (values {shown}); a JSON reader keeps only one of "
                                       "them, so which one LLaVA trains on is undefined. The copy in the rejected "
                                       "file keeps the last"))
    return problems


def _walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every node with its path, depth first in document order (iterative: a deep record cannot overflow it)."""
    stack = [(path, node)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, dict):
            stack.extend(reversed([(_join(path, key), child) for key, child in node.items()]))
        elif isinstance(node, list):
            stack.extend(reversed([(f"{path}[{i}]", child) for i, child in enumerate(node)]))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"

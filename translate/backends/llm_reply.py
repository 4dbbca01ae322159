"""Checking an LLM's reply against the request before anything of it is kept.

`check_reply(document, content, finish_reason)` returns the translations (same shape as the document) or a
`Failure` with a kind and a detail. A reply passes only if all of these hold:

* it was not cut off (``finish_reason != "length"``) and is not a refusal or empty;
* it parses as JSON: code fences and a preamble or trailing remark around the document are tolerated;
* it has exactly the document's keys, every value a non-empty string;
* every placeholder ``⟦n⟧`` of each source comes back exactly once in its translation, and no other one appears
  (``⟦ 0 ⟧`` is read as ``⟦0⟧``);
* no text of three or more words comes back unchanged (an echo; a lone name or title may stay as it is);
* no two texts were swapped: for each pair, the translations' lengths, numbers and question marks must fit their own
  sources better than each other's (see `_swapped`). A swap between two texts alike in all of these cannot be seen
  without understanding them; every other one is caught.

A reply that fails one check is discarded whole: the backend retries, never patches.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

PLACEHOLDER = re.compile(r"⟦\s*(\d+)\s*⟧")
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_NUMBER = re.compile(r"(?<![⟦\d])\d+(?:[.,]\d+)*(?![⟧\d])")
_WORD = re.compile(r"[^\W\d_]{2,}")

FAILURE_KINDS = ("length", "empty", "refusal", "parse", "keys", "placeholders", "echo", "swap")


@dataclass(frozen=True)
class Failure:
    kind: str  # one of FAILURE_KINDS
    detail: str


def extract_json(content: str, expected_keys: set[str] | frozenset[str] = frozenset()) -> object | None:
    """The JSON document in `content`: inside code fences, or after a preamble. An object that shares a key with
    `expected_keys` wins (so a nested object of a broken document is not taken for the document); else the object
    that starts at the first brace; None when there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(content)] + [content]
    decoder = json.JSONDecoder()
    outermost = None
    for text in candidates:
        start = text.find("{")
        first = start
        while start != -1:
            try:
                value, _ = decoder.raw_decode(text, start)
            except json.JSONDecodeError:
                start = text.find("{", start + 1)
                continue
            if isinstance(value, dict):
                if not expected_keys or expected_keys & set(value):
                    return value
                if start == first and outermost is None:
                    outermost = value
            start = text.find("{", start + 1)
    return outermost


def normalise_placeholders(text: str) -> str:
    return PLACEHOLDER.sub(lambda m: f"⟦{m.group(1)}⟧", text)


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


def _is_echo(source: str, output: str) -> bool:
    if len(_WORD.findall(PLACEHOLDER.sub(" ", source))) < 3:
        return False
    squash = lambda s: " ".join(unicodedata.normalize("NFC", s).split()).casefold()
    return squash(source) == squash(output)


def check_reply(document: dict[str, dict[str, str]], content: str | None, finish_reason: str | None,
                refusal: str | None = None) -> dict[str, dict[str, str]] | Failure:
    if finish_reason == "length":
        return Failure("length", "the reply was cut off at max_tokens")
    if refusal:
        return Failure("refusal", f"the model refused: {refusal[:120]}")
    if content is None or not content.strip():
        return Failure("empty", "the reply is empty")
    reply = extract_json(content, set(document))
    if reply is None:
        return Failure("parse", f"no JSON object in the reply ({content.strip()[:80]!r})")
    if set(reply) != set(document):
        return Failure("keys", _key_difference("record keys", document, reply))
    out: dict[str, dict[str, str]] = {}
    for rk, texts in document.items():
        got = reply[rk]
        if not isinstance(got, dict) or set(got) != set(texts):
            return Failure("keys", _key_difference(f"keys of {rk}", texts, got if isinstance(got, dict) else {}))
        out[rk] = {}
        for tk, source in texts.items():
            value = got[tk]
            if not isinstance(value, str) or not value.strip():
                return Failure("empty", f"{rk}.{tk} is {'empty' if isinstance(value, str) else type(value).__name__}")
            value = normalise_placeholders(unicodedata.normalize("NFC", value))
            if source == source.strip():
                value = value.strip()
            if placeholders(value) != placeholders(source):
                return Failure("placeholders", f"{rk}.{tk}: placeholders {_marks(source)} came back as "
                                               f"{_marks(value)}")
            if _is_echo(source, value):
                return Failure("echo", f"{rk}.{tk} came back untranslated")
            out[rk][tk] = value
    pair = _swapped([(texts[tk], out[rk][tk], f"{rk}.{tk}") for rk, texts in document.items() for tk in texts])
    if pair:
        return Failure("swap", f"the translations of {pair[0]} and {pair[1]} look swapped")
    return out


def _marks(text: str) -> str:
    found = sorted(placeholders(text).elements(), key=int)
    return "[" + " ".join(f"⟦{i}⟧" for i in found) + "]"


def _key_difference(what: str, expected: dict, got: dict) -> str:
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing[:5]))
    if extra:
        parts.append("unexpected " + ", ".join(map(str, extra[:5])))
    return f"{what}: " + "; ".join(parts)


# -- swapped answers -------------------------------------------------------------------------------------------------

SWAP_MARGIN = 1.5  # the swapped fit must beat the direct one by this much (a length ratio of e^1.5 ≈ 4.5 overall)


def _shape(text: str) -> tuple[int, tuple[str, ...], bool]:
    numbers = tuple(sorted(n.replace(",", "") for n in _NUMBER.findall(text)))
    return len(text), numbers, text.rstrip().endswith(("?", "？"))


def _misfit(source: tuple[int, tuple[str, ...], bool], output: tuple[int, tuple[str, ...], bool],
            log_ratio: float) -> float:
    """How badly `output` fits as the translation of `source`: log length ratio off the request's typical ratio,
    plus a penalty for different numbers or a lost/added question mark."""
    cost = abs(math.log((output[0] + 8) / (source[0] + 8)) - log_ratio)
    cost += 1.0 if source[1] != output[1] else 0.0
    cost += 0.5 if source[2] != output[2] else 0.0
    return cost


def _swapped(items: list[tuple[str, str, str]]) -> tuple[str, str] | None:
    """Names of two texts whose translations fit each other's sources far better than their own."""
    if len(items) < 2:
        return None
    shapes = [(_shape(s), _shape(o), name) for s, o, name in items]
    total_source = sum(s[0] for s, _, _ in shapes) + 8 * len(shapes)
    total_output = sum(o[0] for _, o, _ in shapes) + 8 * len(shapes)
    log_ratio = math.log(total_output / total_source)
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            si, oi, ni = shapes[i]
            sj, oj, nj = shapes[j]
            direct = _misfit(si, oi, log_ratio) + _misfit(sj, oj, log_ratio)
            crossed = _misfit(si, oj, log_ratio) + _misfit(sj, oi, log_ratio)
            if direct - crossed > SWAP_MARGIN and crossed < direct / 3:
                return ni, nj
    return None

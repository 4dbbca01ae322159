"""The LLaVA record schema: which fields are translated, and validation with reasons that name the field.

A conversation record: ``{"id", "image"?, "conversations": [{"from": "human"|"gpt", "value": str}, ...], ...}``.
A LLaVA-Bench record (question or answer JSONL): ``{"question_id", "image", "text", "category", ...}``; in answer
files the question is repeated as ``prompt`` and is translated too.
Keys we don't know are kept verbatim; only the translatable values are replaced.

LLaVA's training code (``preprocess`` in ``llava/train/train.py``) asserts that turns alternate human, gpt, human, …,
so a record whose turns do not is rejected here (``bad_turn_order``) rather than crashing a training run later.
Problems the JSON parser finds (a key given twice, NaN or Infinity) travel with the record as a `FlaggedRecord`, so
`validate` reports them with the rest.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from translate.protect import IMAGE_TOKEN
from translate.reasons import Reason

ROLES = ("human", "gpt")
# The longest value accepted. LLaVA values are at most a few thousand characters; anything near this is a broken
# record (a file pasted into a field), and sending it would cost real money on a paid engine and overflow a request.
MAX_VALUE_CHARS = 100_000
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# A field path: ("conversations", turn index, "value") or ("text",).
FieldPath = tuple[Any, ...]


class FlaggedRecord(dict):
    """A record (a plain dict in every other respect) that the reader found something wrong with while parsing it:
    a key given twice, or a number JSON cannot hold. `validate` reports `read_problems` first. Only such records are
    of this type; the others stay plain dicts, so the check costs nothing on valid files."""

    __slots__ = ("read_problems",)

    def __init__(self, record: dict[str, Any], read_problems: Iterable[Reason]):
        super().__init__(record)
        self.read_problems = tuple(read_problems)

    def __reduce__(self):  # pickle (Ray, multiprocessing) keeps the problems
        return (FlaggedRecord, (dict(self), self.read_problems))


def record_id(record: Any) -> Any:
    if isinstance(record, dict):
        if "id" in record:
            return record["id"]
        return record.get("question_id")
    return None


def field_name(path: FieldPath) -> str:
    if path and path[0] == "conversations":
        return f"conversations[{path[1]}].{path[2]}"
    return ".".join(str(p) for p in path)


def translatable_fields(record: dict[str, Any]) -> list[tuple[FieldPath, str, str]]:
    """(path, role, value) for every value to translate, in record order. Call on validated records only."""
    convs = record.get("conversations")
    if convs is not None:
        return [(("conversations", i, "value"), turn["from"], turn["value"]) for i, turn in enumerate(convs)]
    fields = [(("text",), "bench", record["text"])]
    # LLaVA-Bench answer files repeat the question as `prompt`; a Korean benchmark needs it in Korean too.
    if isinstance(record.get("prompt"), str):
        fields.append((("prompt",), "human", record["prompt"]))
    return fields


def with_values(record: dict[str, Any], values: list[str]) -> dict[str, Any]:
    """A copy of `record` (same key order) with the translatable values replaced, in `translatable_fields` order."""
    out = dict(record)
    if "conversations" in record:
        out["conversations"] = [dict(turn, value=value) for turn, value in zip(record["conversations"], values)]
    else:
        for (path, _, _), value in zip(translatable_fields(record), values):
            out[path[0]] = value
    return out


def validate(record: Any) -> list[Reason]:
    """Everything wrong with a record, or [] when it can be translated."""
    if not isinstance(record, dict):
        return [Reason("not_an_object", "", f"record is a JSON {type(record).__name__}, not an object")]
    problems: list[Reason] = list(record.read_problems) if type(record) is FlaggedRecord else []
    rid = record_id(record)
    if rid is not None and not isinstance(rid, (str, int)):
        problems.append(Reason("bad_id", "id", f"id must be a string or integer, got {type(rid).__name__}"))
    if "conversations" in record:
        problems.extend(_conversation_problems(record["conversations"]))
    elif "text" in record:
        problems.extend(_bench_problems(record))
    else:
        problems.append(Reason("missing_field", "conversations", "record has neither 'conversations' nor 'text'"))
    return problems


def _conversation_problems(convs: Any) -> list[Reason]:
    if not isinstance(convs, list):
        return [Reason("bad_conversations", "conversations", f"must be a list, got {type(convs).__name__}")]
    problems: list[Reason] = []
    if not convs:
        problems.append(Reason("bad_conversations", "conversations", "is empty"))
    images = 0
    roles_ok = True
    for i, turn in enumerate(convs):
        where = f"conversations[{i}]"
        if not isinstance(turn, dict):
            problems.append(Reason("bad_turn", where, f"turn is a JSON {type(turn).__name__}, not an object"))
            roles_ok = False
            continue
        role, value = turn.get("from"), turn.get("value")
        if "from" not in turn:
            problems.append(Reason("missing_field", f"{where}.from", "turn has no 'from'"))
            roles_ok = False
        elif role not in ROLES:
            problems.append(Reason("bad_role", f"{where}.from", f"'from' is {role!r}; LLaVA expects human or gpt"))
            roles_ok = False
        if "value" not in turn:
            problems.append(Reason("missing_field", f"{where}.value", "turn has no 'value'"))
            continue
        if not isinstance(value, str):
            problems.append(Reason("bad_value", f"{where}.value", f"value is a {type(value).__name__}, not a string"))
            continue
        problems.extend(_text_problems(value, f"{where}.value"))
        n = value.count(IMAGE_TOKEN)
        images += n
        if n and role == "gpt":
            problems.append(Reason("image_in_gpt_turn", f"{where}.value", "<image> appears in a gpt turn"))
    if images > 1:
        problems.append(Reason("multiple_image_tokens", "conversations", f"{images} <image> tokens in one record"))
    if roles_ok:  # a turn without a valid role is reported above; its place in the order means nothing
        problems.extend(_turn_order_problems(convs))
    return problems


def _turn_order_problems(convs: list[dict[str, Any]]) -> list[Reason]:
    """LLaVA's `preprocess` asserts that roles alternate human, gpt, human, …: the first turn out of place, if any.
    (It silently drops a leading gpt turn before asserting; such a record is rejected here too, since its first
    answer would be lost in training.)"""
    for i, turn in enumerate(convs):
        expected = ROLES[i % 2]
        if turn["from"] != expected:
            return [Reason("bad_turn_order", f"conversations[{i}].from",
                           f"turn {i} is from {turn['from']!r} where {expected!r} was expected: LLaVA's training "
                           "code requires turns to alternate human, gpt, human, … starting with human")]
    return []


def _bench_problems(record: dict[str, Any]) -> list[Reason]:
    """A LLaVA-Bench question or answer: `text`, and in answer files the repeated question `prompt`."""
    problems: list[Reason] = []
    if "prompt" in record and not isinstance(record["prompt"], str):
        problems.append(Reason("bad_value", "prompt", f"prompt is a {type(record['prompt']).__name__}, not a string"))
    elif isinstance(record.get("prompt"), str):
        problems.extend(_text_problems(record["prompt"], "prompt"))
    if not isinstance(record["text"], str):
        problems.append(Reason("bad_value", "text", f"text is a {type(record['text']).__name__}, not a string"))
    else:
        problems.extend(_text_problems(record["text"], "text"))
    return problems


def _text_problems(value: str, where: str) -> list[Reason]:
    if len(value) > MAX_VALUE_CHARS:
        return [Reason("value_too_long", where,
                        f"value has {len(value):,} characters; the limit is {MAX_VALUE_CHARS:,}")]
    if value.isascii():
        if "\x00" in value:
            return [Reason("nul_character", where, "value contains a NUL character")]
        return []
    if _SURROGATE.search(value):
        return [Reason("lone_surrogate", where, "value contains a lone UTF-16 surrogate (not valid Unicode text)")]
    if "\x00" in value:
        return [Reason("nul_character", where, "value contains a NUL character")]
    return []

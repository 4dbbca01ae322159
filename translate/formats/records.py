"""The LLaVA record schema: which fields are translated, and validation with reasons that name the field.

A conversation record: ``{"id", "image"?, "conversations": [{"from": "human"|"gpt", "value": str}, ...], ...}``.
A LLaVA-Bench record (question or answer JSONL): ``{"question_id", "image", "text", "category", ...}``; in answer
files the question is repeated as ``prompt`` and is translated too.
Keys we don't know are kept verbatim; only the translatable values are replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from translate.protect import IMAGE_TOKEN

ROLES = ("human", "gpt")
# The longest value accepted. LLaVA values are at most a few thousand characters; anything near this is a broken
# record (a file pasted into a field), and sending it would cost real money on a paid engine and overflow a request.
MAX_VALUE_CHARS = 100_000
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# A field path: ("conversations", turn index, "value") or ("text",).
FieldPath = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a record cannot be translated. `field` is a dotted path such as ``conversations[2].value``."""

    code: str
    field: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "field": self.field, "detail": self.detail}


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


def validate(record: Any) -> list[Problem]:
    """Everything wrong with a record, or [] when it can be translated."""
    if not isinstance(record, dict):
        return [Problem("not_an_object", "", f"record is a JSON {type(record).__name__}, not an object")]
    problems: list[Problem] = []
    rid = record_id(record)
    if rid is not None and not isinstance(rid, (str, int)):
        problems.append(Problem("bad_id", "id", f"id must be a string or integer, got {type(rid).__name__}"))
    if "conversations" in record:
        convs = record["conversations"]
        if not isinstance(convs, list):
            return problems + [
                Problem("bad_conversations", "conversations", f"must be a list, got {type(convs).__name__}")
            ]
        if not convs:
            problems.append(Problem("bad_conversations", "conversations", "is empty"))
        images = 0
        for i, turn in enumerate(convs):
            where = f"conversations[{i}]"
            if not isinstance(turn, dict):
                problems.append(Problem("bad_turn", where, f"turn is a JSON {type(turn).__name__}, not an object"))
                continue
            role, value = turn.get("from"), turn.get("value")
            if "from" not in turn:
                problems.append(Problem("missing_field", f"{where}.from", "turn has no 'from'"))
            elif role not in ROLES:
                problems.append(Problem("bad_role", f"{where}.from", f"'from' is {role!r}; LLaVA expects human or gpt"))
            if "value" not in turn:
                problems.append(Problem("missing_field", f"{where}.value", "turn has no 'value'"))
                continue
            if not isinstance(value, str):
                problems.append(Problem("bad_value", f"{where}.value", f"value is a {type(value).__name__}, not a string"))
                continue
            problems.extend(_text_problems(value, f"{where}.value"))
            n = value.count(IMAGE_TOKEN)
            images += n
            if n and role == "gpt":
                problems.append(Problem("image_in_gpt_turn", f"{where}.value", "<image> appears in a gpt turn"))
        if images > 1:
            problems.append(Problem("multiple_image_tokens", "conversations", f"{images} <image> tokens in one record"))
    elif "text" in record:
        if "prompt" in record and not isinstance(record["prompt"], str):
            problems.append(Problem("bad_value", "prompt",
                                    f"prompt is a {type(record['prompt']).__name__}, not a string"))
        elif isinstance(record.get("prompt"), str):
            problems.extend(_text_problems(record["prompt"], "prompt"))
        if not isinstance(record["text"], str):
            problems.append(Problem("bad_value", "text", f"text is a {type(record['text']).__name__}, not a string"))
        else:
            problems.extend(_text_problems(record["text"], "text"))
    else:
        problems.append(Problem("missing_field", "conversations", "record has neither 'conversations' nor 'text'"))
    return problems


def _text_problems(value: str, where: str) -> list[Problem]:
    if len(value) > MAX_VALUE_CHARS:
        return [Problem("value_too_long", where,
                        f"value has {len(value):,} characters; the limit is {MAX_VALUE_CHARS:,}")]
    if value.isascii():
        if "\x00" in value:
            return [Problem("nul_character", where, "value contains a NUL character")]
        return []
    if _SURROGATE.search(value):
        return [Problem("lone_surrogate", where, "value contains a lone UTF-16 surrogate (not valid Unicode text)")]
    if "\x00" in value:
        return [Problem("nul_character", where, "value contains a NUL character")]
    return []

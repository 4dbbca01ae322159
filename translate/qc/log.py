"""The QC log: one JSON line per checked turn, beside the outputs, read by `translate report`."""

from __future__ import annotations

from typing import Any

from translate.formats.writers import dumps
from translate.qc.verdict import TurnCheck, record_check

__all__ = ["QC_LOG_SUFFIX", "qc_row", "record_check", "write_qc_rows"]

QC_LOG_SUFFIX = ".qc.jsonl"


def qc_row(file: str, index: int, rid: Any, role: str | None, field: str, check: TurnCheck,
           verdict: str) -> dict[str, Any]:
    return {
        "file": file, "index": index, "id": None if rid is None else str(rid), "role": role, "field": field,
        "src_chars": check.source_chars, "out_chars": check.output_chars, "ratio": check.ratio,
        "script": check.script_share, "reasons": check.codes,
        **({"warnings": [w.code for w in check.warnings]} if check.warnings else {}),
        **({"levels": dict(check.levels)} if check.levels else {}),
        **({"qe": check.qe} if check.qe is not None else {}),
        "verdict": verdict,
    }


def write_qc_rows(log: Any, file: str | Any, index: int, rid: Any,
                  turns: list[tuple[str | None, str, TurnCheck]], verdict: str) -> None:
    """Write one row per checked turn (or one record-level row when `turns` is a single (None, field, check)).
    `log` is a JsonLinesWriter or None (no log wanted). The record's verdict is `kept`, `rejected`, `kept-source`
    or `kept-flagged` (see docs/quality.md). Rows carry ``warnings`` (codes of warn-level findings), ``levels``
    (Korean speech levels) and ``qe`` (a quality-estimation score) only where there are any."""
    if log is None:
        return
    # One row per turn of every record: formatted directly rather than through json.dumps (3x faster); the line is
    # the same JSON that `qc_row` describes, and the strings that need escaping still go through the JSON encoder.
    head = f'{{"file": {dumps(str(file))}, "index": {index:d}, "id": {dumps(None if rid is None else str(rid))}, '
    tail = f', "verdict": {_json_text(verdict)}}}\n'
    log.write_text("".join(
        f'{head}"role": {_json_text(role)}, "field": {_json_text(field)}, "src_chars": {check.source_chars:d}, '
        f'"out_chars": {check.output_chars:d}, "ratio": {_json_number(check.ratio)}, '
        f'"script": {_json_number(check.script_share)}, "reasons": [{", ".join(_json_text(c) for c in check.codes)}]'
        f'{_extras(check)}{tail}'
        for role, field, check in turns))


def _extras(check: TurnCheck) -> str:
    """The optional keys: written only where there is something to say, so a row without them stays as it was."""
    if not check.warnings and not check.levels and check.qe is None:
        return ""
    out = ""
    if check.warnings:
        out += f', "warnings": [{", ".join(_json_text(w.code) for w in check.warnings)}]'
    if check.levels:
        out += f', "levels": {{{", ".join(f"{_json_text(k)}: {n:d}" for k, n in check.levels.items())}}}'
    if check.qe is not None:
        out += f', "qe": {_json_number(check.qe)}'
    return out


_TEXT_CACHE: dict[str | None, str] = {None: "null"}


def _json_text(value: str | None) -> str:
    """JSON for a short string (role, field, code, verdict repeat endlessly, so they are encoded once)."""
    cached = _TEXT_CACHE.get(value)
    if cached is None:
        cached = dumps(value)
        if len(_TEXT_CACHE) < 1024:
            _TEXT_CACHE[value] = cached
    return cached


def _json_number(value: float | None) -> str:
    return "null" if value is None else repr(float(value))

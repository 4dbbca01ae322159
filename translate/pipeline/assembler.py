"""The assemble stage for one record: restore spans, reinsert the shell, check (turn, record and optional quality
estimation), decide.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from translate.formats.records import (
    field_name,
    translatable_fields,
    with_values,
)
from translate.pipeline.segments import CACHE_SIZE, PreparedRecord
from translate.protect import Protected, Protector, SpanLost
from translate.qc import (
    HARD_REASONS,
    QualityChecker,
    TurnCheck,
)
from translate.qc.qe import QeStage
from translate.reasons import Reason

MISSING_TRANSLATION = ("the backend gave no usable translation for this segment; nothing was stored, so a rerun tries "
                       "it again")
class Assembler:
    """The assemble stage for one record: restore spans, reinsert the shell, check, decide."""

    def __init__(self, protector: Protector, checker: QualityChecker):
        self.protector = protector
        self.checker = checker
        self._clean_checks: dict[tuple[str, str, str], Any] = {}

    def assemble(self, prepared: PreparedRecord, found: dict[bytes, str]) -> tuple[dict[str, Any], list[Reason]]:
        values: list[str] = []
        reasons: list[Reason] = []
        # (role, field, check) per translated field of this record: what the pipeline writes to the QC log.
        self.turns: list[tuple[str, str, TurnCheck]] = []
        for f in prepared.fields:
            if f.key is None:
                values.append(f.value)
                continue
            name = field_name(f.path)
            value, check = self.assemble_field(f.value, f.protected, f.key, found, f.role, name)
            reasons.extend(check.reasons)
            self.turns.append((f.role, name, check))
            values.append(value)
        if len(self.turns) > 1:
            reasons.extend(self._record_findings(prepared, values))
        return with_values(prepared.item.record, values), reasons

    def _record_findings(self, prepared: PreparedRecord, values: list[str]) -> list[Reason]:
        """Checks over the record's translated turns together (answers swapped between turns, one answer in another
        speech level). Each finding is also put on its turn's QC log row."""
        translated = [(f, field_name(f.path), v) for f, v in zip(prepared.fields, values) if f.key is not None]
        warnings: list[Reason] = []
        found = self.checker.inspect_record([f.value for f, _, _ in translated], [v for _, _, v in translated],
                                            [f.role for f, _, _ in translated], [n for _, n, _ in translated],
                                            warnings)
        if found or warnings:
            self.turns = [attach_findings(turn, found, warnings) for turn in self.turns]
        return found

    def assemble_field(self, source: str, protected: Protected, key: bytes, found: dict[bytes, str], role: str,
                       where: str, missing: str = MISSING_TRANSLATION) -> tuple[str, TurnCheck]:
        """One translated value: restored and checked. Returns the value to write (the source when there is no
        translation, the raw translation when a span was lost) and the check with its reasons and measurements."""
        if key not in found:
            return source, TurnCheck([Reason("backend_failed", where, missing)], len(source))
        try:
            restored = self.protector.restore(protected, found[key])
        except SpanLost as lost:
            return found[key], TurnCheck([Reason("span_lost", where, lost.detail)], len(source), len(found[key]))
        # The same source and translation (a repeated question) always checks the same; a clean result holds no
        # field name, so it can be reused as is.
        memo = (source, restored, role)
        check = self._clean_checks.get(memo)
        if check is None:
            check = self.checker.inspect(source, restored, role, where)
            if not check.reasons:
                if len(self._clean_checks) >= CACHE_SIZE:
                    self._clean_checks.clear()
                self._clean_checks[memo] = check
        return restored, check


def attach_findings(turn: tuple[str, str, TurnCheck], reasons: list[Reason],
                    warnings: list[Reason]) -> tuple[str, str, TurnCheck]:
    """`turn` with the record-level findings that concern its field added; a new TurnCheck, since clean checks are
    shared between records."""
    role, name, check = turn
    mine = [r for r in reasons if r.field == name]
    mine_warn = [w for w in warnings if w.field == name]
    if not mine and not mine_warn:
        return turn
    return role, name, dataclasses.replace(check, reasons=check.reasons + mine, warnings=check.warnings + mine_warn)


# -- the engine thread ---------------------------------------------------------------------------------------------
# Backend batches run one at a time on a thread while the caller's thread does everything else. Only the backend call
# leaves the caller's thread: the caller stores each finished batch in the memory (SQLite stays on one thread; `put`
# on a worker thread was 4x slower from GIL churn) and then acknowledges it, and the engine starts its next batch only
# after that. So at any moment at most one batch has been sent and not stored, and a kill loses at most that one.


def score_window(qe: QeStage, built: list[tuple[PreparedRecord, dict[str, Any] | None, list[Reason], list]]) -> None:
    """Quality estimation over a window: one scorer call for the translated turns of every record that is not
    already broken; each score goes on its turn's QC log row, and a score below the threshold adds `qe_low` to the
    record's reasons."""
    pairs: list[tuple[str, str]] = []
    where: list[tuple[int, int]] = []
    for i, (rec, record, reasons, turns) in enumerate(built):
        if record is None or any(r.code in HARD_REASONS for r in reasons):
            continue
        sources = {field_name(f.path): f.value for f in rec.fields if f.key is not None}
        outputs = {field_name(path): value for path, _, value in translatable_fields(record)}
        for j, (_, name, _) in enumerate(turns):
            if name in sources and name in outputs:
                pairs.append((sources[name], outputs[name]))
                where.append((i, j))
    for (i, j), score in zip(where, qe.score_window(pairs)):
        reasons, turns = built[i][2], built[i][3]
        role, name, check = turns[j]
        check, low = qe.apply(check, score, name)
        turns[j] = (role, name, check)
        if low is not None:
            reasons.append(low)

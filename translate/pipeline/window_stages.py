"""The work on one window that needs neither the memory nor the engine: prepare (validate, protect, key) and
assemble (restore, check, decide, serialise). Both are plain functions of their inputs, so the caller's process and a
worker process (`translate.pipeline.workers`) give the same bytes.

`assemble_window` returns the window's outputs already encoded (`WindowOutput`); the caller writes them in reading
order and adds the counters, so where a window was assembled never shows in the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from translate.formats.readers import SourceItem
from translate.formats.records import record_id
from translate.formats.writers import dumps
from translate.pipeline.assembler import Assembler, score_window
from translate.pipeline.files import rejection
from translate.pipeline.options import SegmentCounts, Stats
from translate.pipeline.segments import PreparedRecord, Segmenter, collect_segments
from translate.qc import HARD_REASONS, record_check, write_qc_rows
from translate.qc.qe import QeStage
from translate.reasons import Reason

Poll = Callable[[], None] | None  # called between records: the caller stores finished engine batches meanwhile


@dataclass(slots=True)
class WindowOutput:
    """A window's results, encoded: what each output file gets, the record counters, and what the schema survey
    needs (a record only where it had problems; the survey looks no further once one record was valid)."""

    kept: list[str] = field(default_factory=list)  # each written record as JSON text (`writers.dumps`)
    rejected: list[str] = field(default_factory=list)  # lines of the rejected file
    qc_rows: list[str] = field(default_factory=list)  # lines of the QC log
    stats: Stats = field(default_factory=Stats)
    survey: list[tuple[Any, list[Reason]]] = field(default_factory=list)

    def write_text(self, text: str) -> None:
        """`write_qc_rows` writes here as it would to a JsonLinesWriter."""
        self.qc_rows.append(text)


@dataclass(frozen=True, slots=True)
class AssembleSettings:
    """What `assemble_window` needs besides the window: the same for every window of a file."""

    src: Path | str  # as the rejected file and the QC log name it
    on_reject: str
    qc_log: bool


def prepare_window(segmenter: Segmenter, items: list[SourceItem],
                   poll: Poll = None) -> tuple[list[PreparedRecord], SegmentCounts]:
    """Every record of a window prepared, and the segments the window asks for."""
    prepared = []
    for item in items:
        prepared.append(segmenter.prepare(item))
        if poll is not None:
            poll()
    return prepared, collect_segments((f for rec in prepared for f in rec.fields), segmenter)


def assemble_window(assembler: Assembler, prepared: list[PreparedRecord], found: dict[bytes, str],
                    settings: AssembleSettings, qe: QeStage | None = None, poll: Poll = None) -> WindowOutput:
    """Rebuild and check every record of a window, then (with quality estimation on) score its turns in one call,
    then decide each record: kept, rejected, or kept with its reasons listed (`on_reject`)."""
    built: list[tuple[PreparedRecord, dict[str, Any] | None, list[Reason], list]] = []
    for rec in prepared:
        if poll is not None:
            poll()
        if rec.problems:
            built.append((rec, None, [], []))
            continue
        record, reasons = assembler.assemble(rec, found)
        built.append((rec, record, reasons, assembler.turns))
    if qe is not None:
        score_window(qe, built)
    out = WindowOutput()
    for rec, record, reasons, turns in built:
        _decide(out, settings, rec, record, reasons, turns)
    return out


def _decide(out: WindowOutput, settings: AssembleSettings, rec: PreparedRecord, record: dict[str, Any] | None,
            reasons: list[Reason], turns: list) -> None:
    src, stats, item = settings.src, out.stats, rec.item
    qc_log = out if settings.qc_log else None
    stats.records_in += 1
    if item.error is None:  # an unparseable JSONL line says nothing of the shape
        out.survey.append((item.record if rec.problems else None, rec.problems))
    if rec.problems:
        stats.records_invalid += 1
        stats.records_rejected += 1
        stats.reasons.update(p.code for p in rec.problems)
        details = [dict(p.as_dict(), detail=f"{src}: record {item.index}"
                        f" (id {record_id(item.record)!r}), field {p.field or '<record>'}: {p.detail}")
                   for p in rec.problems]
        out.rejected.append(dumps(rejection(src, rec, details, None)) + "\n")
        write_qc_rows(qc_log, src, item.index, record_id(item.record),
                      [(None, "", record_check([p.code for p in rec.problems]))], "rejected")
        return
    rid = record_id(item.record)
    if not reasons:
        stats.records_kept += 1
        out.kept.append(dumps(record))
        write_qc_rows(qc_log, src, item.index, rid, turns, "kept")
        return
    stats.reasons.update(r.code for r in reasons)
    reason_dicts = [r.as_dict() for r in reasons]
    policy = settings.on_reject
    # `keep` never writes a structurally broken candidate (lost <image> or span, no translation at all).
    if policy == "drop" or (policy == "keep" and any(r.code in HARD_REASONS for r in reasons)):
        stats.records_rejected += 1
        out.rejected.append(dumps(rejection(src, rec, reason_dicts, record)) + "\n")
        verdict = "rejected"
    else:
        # Kept despite reasons; still listed, marked with the policy, so nothing is hidden.
        stats.records_kept += 1
        out.kept.append(dumps(item.record if policy == "keep-source" else record))
        out.rejected.append(dumps(rejection(src, rec, reason_dicts, record, policy)) + "\n")
        verdict = "kept-source" if policy == "keep-source" else "kept-flagged"
    write_qc_rows(qc_log, src, item.index, rid, turns, verdict)

"""Audit a translated file someone else made (or an earlier run) against its English source.

Records are matched by id where they have one and by position where they don't; both files are streamed side by
side, so only records that are out of step wait in memory. Every matched pair goes through the same checks as a run
(`QualityChecker`, plus protected spans that must come back byte for byte and keys that must stay as they were), and
the results go to the same three places a run writes: a per-turn QC log (for `translate report`), a rejected list
(JSONL with source, candidate and reasons) and a summary.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any, Callable, Iterator

from translate.formats.readers import RecordReader, SourceItem
from translate.formats.records import field_name, record_id, translatable_fields, validate
from translate.formats.writers import JsonLinesWriter, remove_stale_temporaries, write_json
from translate.pipeline import attach_findings
from translate.protect import Protector
from translate.qc import QC_LOG_SUFFIX, QualityChecker, Reason, TurnCheck, record_check, write_qc_rows

# Record-level reason codes of an audit.
MISSING = "missing_translation"  # a source record with no translated counterpart
UNMATCHED = "unmatched_translation"  # a translated record with no source counterpart
TRANSLATED_INVALID = "translated_invalid"  # the translated record is not a valid LLaVA record
STRUCTURE = "structure_mismatch"  # different number of turns, or different roles
FIELD_CHANGED = "field_changed"  # a key that is not translated (image, id, …) differs


@dataclass
class CheckStats:
    source_records: int = 0
    translated_records: int = 0
    matched_by_id: int = 0
    matched_by_position: int = 0
    passed: int = 0
    rejected: int = 0
    missing_translation: int = 0
    unmatched_translation: int = 0
    turns_checked: int = 0
    reasons: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = dict(sorted(self.reasons.items()))
        return out


def check_paths(translated: Path, out_dir: Path) -> dict[str, Path]:
    stem = translated.stem
    return {
        "qc_log": out_dir / f"{stem}{QC_LOG_SUFFIX}",
        "rejected": out_dir / f"{stem}.rejected.jsonl",
        "summary": out_dir / f"{stem}.check.json",
    }


def default_out_dir(translated: Path) -> Path:
    """Beside the translated file, in a folder of its own, so a run's own rejected file and QC log stay untouched."""
    return translated.parent / f"{translated.stem}.check"


def _key(item: SourceItem) -> tuple[str, Any]:
    rid = record_id(item.record) if isinstance(item.record, dict) else None
    if isinstance(rid, (str, int)) and not isinstance(rid, bool):
        return ("id", str(rid))
    return ("position", item.index)


def match_records(source: RecordReader, translated: RecordReader) -> Iterator[
        tuple[SourceItem | None, SourceItem | None, str]]:
    """(source item, translated item, how) in the order pairs are found; how is "id", "position", or "missing" /
    "unmatched" for an item without a counterpart (the other item is None). Items out of step wait in memory."""
    pending_src: dict[tuple, deque[SourceItem]] = {}
    pending_tr: dict[tuple, deque[SourceItem]] = {}

    def take(pending: dict, key: tuple) -> SourceItem | None:
        queue = pending.get(key)
        if not queue:
            return None
        item = queue.popleft()
        if not queue:
            del pending[key]
        return item

    for s, t in zip_longest(source, translated):
        if s is not None and t is not None and not pending_src and not pending_tr and _key(s) == _key(t):
            yield s, t, _key(s)[0]
            continue
        if s is not None:
            key = _key(s)
            other = take(pending_tr, key)
            if other is not None:
                yield s, other, key[0]
            else:
                pending_src.setdefault(key, deque()).append(s)
        if t is not None:
            key = _key(t)
            other = take(pending_src, key)
            if other is not None:
                yield other, t, key[0]
            else:
                pending_tr.setdefault(key, deque()).append(t)
    # What is left: a translated record without an id can still match the source record at its position.
    left_src = {item.index: item for queue in pending_src.values() for item in queue}
    left_tr = sorted((item for queue in pending_tr.values() for item in queue), key=lambda i: i.index)
    for t in left_tr:
        if _key(t)[0] == "position" and t.index in left_src:
            yield left_src.pop(t.index), t, "position"
        else:
            yield None, t, "unmatched"
    for index in sorted(left_src):
        yield left_src[index], None, "missing"


class Auditor:
    """Checks one matched pair of records: validity, structure, untranslated keys, then every turn."""

    def __init__(self, checker: QualityChecker, protector: Protector | None = None):
        self.checker = checker
        self.protector = protector or Protector()

    def audit(self, source: dict[str, Any], translated: Any) -> tuple[list[Reason], list[tuple[str | None, str,
                                                                                             TurnCheck]]]:
        problems = validate(translated)
        if problems:
            reasons = [Reason(TRANSLATED_INVALID, p.field, f"{p.code}: {p.detail}") for p in problems]
            return reasons, [(None, "", TurnCheck(reasons))]
        src_fields = translatable_fields(source)
        tr_fields = translatable_fields(translated)
        record_reasons: list[Reason] = []
        if len(src_fields) != len(tr_fields) or [r for _, r, _ in src_fields] != [r for _, r, _ in tr_fields]:
            detail = (f"the source has {len(src_fields)} turns ({', '.join(r for _, r, _ in src_fields)}), the "
                      f"translation {len(tr_fields)} ({', '.join(r for _, r, _ in tr_fields)})")
            reason = Reason(STRUCTURE, "conversations", detail)
            return [reason], [(None, "conversations", TurnCheck([reason]))]
        changed = [k for k in source if k not in ("conversations", "text") and translated.get(k) != source[k]]
        if changed:
            record_reasons.append(Reason(FIELD_CHANGED, ", ".join(changed),
                                         f"untranslated key(s) {', '.join(changed)} differ from the source"))
        reasons = list(record_reasons)
        turns: list[tuple[str | None, str, TurnCheck]] = []
        if record_reasons:
            turns.append((None, record_reasons[0].field, TurnCheck(list(record_reasons))))
        for (path, role, src_value), (_, _, tr_value) in zip(src_fields, tr_fields):
            name = field_name(path)
            check = self.checker.inspect(src_value, tr_value, role, name)
            lost = self._lost_spans(src_value, tr_value)
            if lost:
                check.reasons.insert(0, Reason("span_lost", name, f"protected span(s) missing or changed: {lost!r}"))
            reasons.extend(check.reasons)
            turns.append((role, name, check))
        if len(src_fields) > 1:
            warnings: list[Reason] = []
            found = self.checker.inspect_record([v for _, _, v in src_fields], [v for _, _, v in tr_fields],
                                                [r for _, r, _ in src_fields],
                                                [field_name(p) for p, _, _ in src_fields], warnings)
            if found or warnings:
                reasons.extend(found)
                turns = [attach_findings(turn, found, warnings) if turn[0] is not None else turn for turn in turns]
        return reasons, turns

    def _lost_spans(self, source: str, output: str) -> list[str]:
        if not any(mark in source for mark in ("`", "://", "www.", "[")):
            return []
        spans = self.protector.protect(source).spans
        return [s.source for s in spans if s.kind not in ("image", "placeholder") and s.source not in output]


ProgressCallback = Callable[[int], None]


def check_files(source: str | Path, translated: str | Path, out_dir: str | Path | None = None,
                target_lang: str = "ko", qc: dict[str, Any] | None = None,
                progress: ProgressCallback | None = None) -> tuple[CheckStats, dict[str, Path]]:
    """Audit `translated` against `source`; writes the QC log, the rejected list and a summary into `out_dir`."""
    source, translated = Path(source), Path(translated)
    src_reader, tr_reader = RecordReader(source), RecordReader(translated)
    out = Path(out_dir) if out_dir is not None else default_out_dir(translated)
    paths = check_paths(translated, out)
    for p in paths.values():
        remove_stale_temporaries(out, p.name)
    auditor = Auditor(QualityChecker(target_lang, qc))
    stats = CheckStats()
    file = str(translated)
    seen = 0
    with JsonLinesWriter(paths["qc_log"]) as log, JsonLinesWriter(paths["rejected"]) as rejected:
        for s, t, how in match_records(src_reader, tr_reader):
            if s is not None:
                stats.source_records += 1
            if t is not None:
                stats.translated_records += 1
            if how == "missing":
                stats.missing_translation += 1
                _reject(stats, log, rejected, file, s, None, [Reason(MISSING, "", "no translated record matches "
                                                                      "this source record")], None)
            elif how == "unmatched":
                stats.unmatched_translation += 1
                _reject(stats, log, rejected, file, None, t, [Reason(UNMATCHED, "", "no source record matches this "
                                                                      "translated record")], None)
            elif s.record is None or validate(s.record):
                problems = validate(s.record) if s.record is not None else []
                detail = "; ".join(f"{p.field}: {p.detail}" for p in problems) or (s.error or "unparseable")
                _reject(stats, log, rejected, file, s, t, [Reason("source_invalid", "", detail)], None)
            else:
                if how == "id":
                    stats.matched_by_id += 1
                else:
                    stats.matched_by_position += 1
                candidate = t.record
                if candidate is None:
                    reasons = [Reason(TRANSLATED_INVALID, "", t.error or "unparseable")]
                    turns = None
                else:
                    reasons, turns = auditor.audit(s.record, candidate)
                    stats.turns_checked += sum(1 for role, _, _ in turns if role is not None)
                if reasons:
                    _reject(stats, log, rejected, file, s, t, reasons, turns)
                else:
                    stats.passed += 1
                    write_qc_rows(log, file, s.index, record_id(s.record), turns, "kept")
            seen += 1
            if progress and seen % 1000 == 0:
                progress(seen)
    write_json(paths["summary"], {
        "source": str(source), "translated": str(translated), "target": target_lang, "qc": qc or {},
        "outputs": {k: str(v) for k, v in paths.items()}, "counts": stats.as_dict(),
    })
    return stats, paths


def _reject(stats: CheckStats, log, rejected, file: str, s: SourceItem | None, t: SourceItem | None,
            reasons: list[Reason], turns) -> None:
    stats.rejected += 1
    stats.reasons.update(r.code for r in reasons)
    item = s if s is not None else t
    rid = record_id(item.record) if isinstance(item.record, dict) else None
    entry: dict[str, Any] = {"file": file, "index": item.index}
    if t is not None:
        entry["translated_index"] = t.index
    entry["id"] = rid
    entry["reasons"] = [r.as_dict() for r in reasons]
    entry["source"] = s.record if s is not None else None
    entry["candidate"] = t.record if t is not None else None
    rejected.write(entry)
    if turns is None:
        turns = [(None, "", record_check([r.code for r in reasons]))]
    write_qc_rows(log, file, item.index, rid, turns, "rejected")

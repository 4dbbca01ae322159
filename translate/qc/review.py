"""What the review page shows record by record: source and translation side by side, turn by turn, with the reasons.

Two kinds of records, both read from files beside each QC log (``<stem>.qc.jsonl``):

- rejected records: ``<stem>.rejected.jsonl`` holds, for each, the source record, the candidate translation and the
  reasons with their fields and details. The first `limit` are read; the rest are only counted.
- a sample of kept records: drawn with a seeded random generator from the records the QC log calls kept, then read
  from the source and output files named in the manifest beside the log (``<stem>.manifest.json`` from `run`,
  ``<stem>.check.json`` from `check`). The same logs and seed give the same sample.

Anything missing (a rejected file, a manifest, a source on a URL) becomes a note on the page, never an error: the
aggregates stay useful without it.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from translate.qc.log import QC_LOG_SUFFIX
from translate.reasons import Reason

# Verdicts whose record reached the output file (docs/quality.md: `--on-reject` policies).
WRITTEN = ("kept", "kept-flagged", "kept-source")


@dataclass
class ReviewTurn:
    field: str
    role: str | None
    source: str | None
    output: str | None
    reasons: list[Reason] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    qe: float | None = None


@dataclass
class ReviewRecord:
    log: str  # the QC log's file name
    index: int
    id: str | None
    verdict: str
    turns: list[ReviewTurn]
    reasons: list[Reason] = field(default_factory=list)  # about the whole record (field "" or not a turn)
    note: str = ""


def stem_of(log: Path) -> str:
    name = log.name
    return name[: -len(QC_LOG_SUFFIX)] if name.endswith(QC_LOG_SUFFIX) else log.stem


# -- texts of a record -----------------------------------------------------------------------------------------------

def record_texts(record: Any) -> list[tuple[str, str | None, str]]:
    """(field, role, text) of the translatable values of a record, in record order; tolerant of invalid records
    (they are what a rejected file holds)."""
    if not isinstance(record, dict):
        return []
    convs = record.get("conversations")
    if isinstance(convs, list):
        out = []
        for i, turn in enumerate(convs):
            if isinstance(turn, dict) and "value" in turn:
                role = turn.get("from")
                out.append((f"conversations[{i}].value", role if isinstance(role, str) else None,
                            _text(turn["value"])))
        return out
    return [(key, role, _text(record[key])) for key, role in (("text", "bench"), ("prompt", "human"))
            if key in record]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _truncated_note(record: Any, which: str) -> str:
    if isinstance(record, dict) and record.get("truncated") is True and "sha256" in record:
        return f"the {which} record is too large to keep in the rejected file ({record.get('bytes', '?'):,} bytes)"
    return ""


def pair_turns(source: Any, candidate: Any) -> list[ReviewTurn]:
    """The turns of a source record beside those of its translation, matched by field."""
    out_texts = {f: (role, text) for f, role, text in record_texts(candidate)}
    turns = []
    for f, role, text in record_texts(source):
        _, translated = out_texts.pop(f, (None, None))
        turns.append(ReviewTurn(f, role, text, translated))
    turns.extend(ReviewTurn(f, role, None, text) for f, (role, text) in out_texts.items())
    return turns


def _attach(turns: list[ReviewTurn], reasons: list[Reason]) -> list[Reason]:
    """Put each reason on its turn; return those about the whole record."""
    by_field = {t.field: t for t in turns}
    whole = []
    for reason in reasons:
        turn = by_field.get(reason.field)
        if turn is None:
            whole.append(reason)
        else:
            turn.reasons.append(reason)
    return whole


# -- rejected records ------------------------------------------------------------------------------------------------

def rejected_records(logs: list[Path], limit: int) -> tuple[list[ReviewRecord], int, list[str]]:
    """The first `limit` rejected records over the logs' rejected files, the total count, and notes."""
    shown: list[ReviewRecord] = []
    total = 0
    notes = []
    for log in logs:
        path = log.with_name(stem_of(log) + ".rejected.jsonl")
        if not path.is_file():
            notes.append(f"{path.name}: not found beside {log.name}; rejected records of that log are not shown")
            continue
        with path.open("rb") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                total += 1
                if len(shown) >= limit:
                    continue  # only counted
                try:
                    entry = json.loads(line)
                except ValueError as exc:
                    notes.append(f"{path.name} line {number}: not JSON ({exc}); skipped")
                    continue
                if not isinstance(entry, dict):
                    notes.append(f"{path.name} line {number}: not a rejected-record object; skipped")
                    continue
                shown.append(_rejected(log, entry))
    return shown, total, notes


def _rejected(log: Path, entry: dict[str, Any]) -> ReviewRecord:
    source, candidate = entry.get("source"), entry.get("candidate")
    turns = pair_turns(source, candidate)
    reasons = []
    for r in entry.get("reasons") or []:
        if isinstance(r, dict):
            reasons.append(Reason(str(r.get("code", "?")), str(r.get("field") or ""), str(r.get("detail") or "")))
        else:
            reasons.append(Reason(str(r), "", ""))
    whole = _attach(turns, reasons)
    note = "; ".join(n for n in (_truncated_note(source, "source"), _truncated_note(candidate, "translated"),
                                 "" if candidate is not None else "no translation (candidate) was kept") if n)
    index = entry.get("index")
    rid = entry.get("id")
    return ReviewRecord(log.name, index if isinstance(index, int) else -1, None if rid is None else str(rid),
                        "rejected", turns, whole, note)


# -- a sample of kept records -------------------------------------------------------------------------------------------

@dataclass
class _Files:
    source: Path | None
    output: Path | None
    note: str = ""


def _files(log: Path) -> _Files:
    """The source and output files of a QC log, from the manifest (run) or summary (check) beside it."""
    stem = stem_of(log)
    for name, src_key, out_key in ((stem + ".manifest.json", ("source", "path"), ("outputs", "output")),
                                   (stem + ".check.json", ("source",), ("translated",))):
        path = log.with_name(name)
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return _Files(None, None, f"{name}: unreadable ({exc})")
        src, out = _dig(data, src_key), _dig(data, out_key)
        return _Files(_local(src, log), _local(out, log), "")
    return _Files(None, None, f"no {stem}.manifest.json or {stem}.check.json beside {log.name}: kept records of "
                              "that log cannot be sampled")


def _dig(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _local(value: Any, log: Path) -> Path | None:
    """A local file named in a manifest: as written, or by its name beside the log (a moved folder)."""
    if not isinstance(value, str) or "://" in value:
        return None  # a URL source is not fetched for a report
    path = Path(value)
    if path.is_file():
        return path
    beside = log.with_name(path.name)
    return beside if beside.is_file() else None


def kept_sample(logs: list[Path], size: int, seed: int,
                schema: dict[str, Any] | None = None) -> tuple[list[ReviewRecord], int, list[str]]:
    """`size` kept records drawn with `seed` over all logs (deterministic for the same logs and seed), read from
    their source and output files; the number of kept records they were drawn from; notes. Only record-level
    columns of the QC logs are loaded (a run of 600K records is 600K small tuples), and the turn rows of the chosen
    records."""
    import polars as pl

    per_log = []
    population: list[tuple[int, int]] = []  # (log number, record index)
    for n, log in enumerate(logs):
        frame = (pl.scan_ndjson(str(log), schema=schema).group_by("index")
                 .agg(pl.col("verdict").first(), pl.col("role").is_not_null().any().alias("turns"))
                 .collect())
        verdicts = dict(zip(frame["index"].to_list(), frame["verdict"].to_list()))
        per_log.append(verdicts)
        # Records that passed; the flagged ones a `keep` policy wrote are in the rejected file, shown above.
        population.extend((n, index) for index, verdict, turns in frame.iter_rows() if verdict == "kept" and turns)
    population.sort()
    if size <= 0 or not population:
        return [], len(population), []
    chosen = sorted(random.Random(seed).sample(population, min(size, len(population))))
    records: list[ReviewRecord] = []
    notes: list[str] = []
    for n, log in enumerate(logs):
        wanted = [index for m, index in chosen if m == n]
        if not wanted:
            continue
        files = _files(log)
        if files.note:
            notes.append(files.note)
        rows = (pl.scan_ndjson(str(log), schema=schema).filter(pl.col("index").is_in(wanted))
                .collect().to_dicts())
        ids = {index: _row_id(rows, index) for index in wanted}
        # The output holds the written records in source order: a record's position there is the number of written
        # records before it (used where records carry no unique id).
        written = sorted(index for index, verdict in per_log[n].items() if verdict in WRITTEN)
        position = {index: i for i, index in enumerate(written)}
        sources = _read_at(files.source, set(wanted))
        outputs = _read_outputs(files.output, ids, position)
        for index in wanted:
            mine = [r for r in rows if r["index"] == index]
            source, output = sources.get(index), outputs.get(index)
            turns = pair_turns(source, output)
            by_field = {t.field: t for t in turns}
            for r in mine:
                turn = by_field.get(r.get("field") or "")
                if turn is not None:
                    turn.warnings = list(r.get("warnings") or [])
                    turn.qe = r.get("qe")
            note = ""
            if source is None or output is None:
                missing = " and ".join(w for w, rec in (("source", source), ("output", output)) if rec is None)
                note = f"{missing} record not found" + ("" if files.source and files.output else
                                                        " (file not found or not local)")
            records.append(ReviewRecord(log.name, index, ids[index], per_log[n].get(index, "kept"), turns, [], note))
    return records, len(population), notes


def _row_id(rows: list[dict[str, Any]], index: int) -> str | None:
    for r in rows:
        if r["index"] == index:
            return r.get("id")
    return None


def _items(path: Path) -> Iterator[Any]:
    from translate.formats.readers import RecordReader

    for item in RecordReader(path):
        yield item


def _read_at(path: Path | None, indices: set[int]) -> dict[int, Any]:
    if path is None or not indices:
        return {}
    found = {}
    last = max(indices)
    for item in _items(path):
        if item.index in indices:
            found[item.index] = item.record
        if item.index >= last:
            break
    return found


def _read_outputs(path: Path | None, ids: dict[int, str | None], position: dict[int, int]) -> dict[int, Any]:
    """The output records of the wanted source indices: matched by id where the id is unique among them, else by
    their position among the written records."""
    if path is None or not ids:
        return {}
    id_count: dict[str, int] = {}
    for rid in ids.values():
        if rid is not None:
            id_count[rid] = id_count.get(rid, 0) + 1
    by_id = {rid: index for index, rid in ids.items() if rid is not None and id_count[rid] == 1}
    by_position = {position[index]: index for index, rid in ids.items() if index not in by_id.values()
                   and index in position}
    found: dict[int, Any] = {}
    for item in _items(path):
        record = item.record
        rid = record.get("id", record.get("question_id")) if isinstance(record, dict) else None
        if rid is not None and str(rid) in by_id and by_id[str(rid)] not in found:
            found[by_id[str(rid)]] = record
        elif item.index in by_position:
            found[by_position[item.index]] = record
        if len(found) == len(ids):
            break
    return found

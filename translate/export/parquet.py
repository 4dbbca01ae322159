"""One translated file → one Parquet file with a fixed schema, streamed in row groups.

Two schemas, chosen by the records' shape (the same two the reader accepts):

* **LLaVA** (``conversations``): ``id`` string (an integer id is written as its decimal text), ``image`` string or
  null (text-only mix665k records have none), ``conversations`` list<struct<from, value>>, ``extra`` string or null:
  every other key of the record as one JSON object, in the record's key order. One JSON column rather than one
  column per key keeps the schema the same for every record and every file: mix665k records carry keys that others
  lack (``model``, …), and per-key columns would need a second pass and differ from file to file.
* **LLaVA-Bench** (``text``): ``question_id`` int64, ``image``, ``category``, ``prompt`` (answer files repeat the
  question there) strings or null, ``text`` string, ``extra`` (``answer_id``, ``model_id``, ``metadata``, …) JSON.

With ``parallel``, each translated column is followed by the source's: ``conversations_en`` (or ``text_en`` and
``prompt_en``), read from the run's source file and aligned by position, skipping the records the run dropped and
checking every id. Memory stays bounded by one row group whatever the file size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from translate.errors import ConfigError, InputFileError, OutputError
from translate.export.runs import RunFile, dropped_indices
from translate.formats.readers import RecordReader
from translate.formats.records import record_id
from translate.formats.writers import dumps

ROW_GROUP_SIZE = 10_000
LLAVA_KEYS = ("id", "image", "conversations")
BENCH_KEYS = ("question_id", "image", "category", "prompt", "text")


@dataclass
class ParquetStats:
    path: Path
    kind: str  # "llava" or "bench"
    rows: int = 0
    row_groups: int = 0
    columns: list[str] = field(default_factory=list)


def _pa():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("export writes Parquet with pyarrow, which is not installed: "
                          "pip install 'llava-translate[export]'") from None
    return pa, pq


def schema(kind: str, source_lang: str | None = None):
    """The Arrow schema of a `kind` file; with `source_lang`, the parallel columns too."""
    pa, _ = _pa()
    turns = pa.list_(pa.struct([pa.field("from", pa.string()), pa.field("value", pa.string())]))
    if kind == "llava":
        fields = [pa.field("id", pa.string()), pa.field("image", pa.string()), pa.field("conversations", turns)]
        if source_lang:
            fields.append(pa.field(f"conversations_{source_lang}", turns))
    else:
        fields = [pa.field("question_id", pa.int64()), pa.field("image", pa.string()),
                  pa.field("category", pa.string()), pa.field("prompt", pa.string())]
        if source_lang:
            fields.append(pa.field(f"prompt_{source_lang}", pa.string()))
        fields.append(pa.field("text", pa.string()))
        if source_lang:
            fields.append(pa.field(f"text_{source_lang}", pa.string()))
    fields.append(pa.field("extra", pa.string()))
    return pa.schema(fields)


def kind_of(record: Any) -> str:
    return "llava" if isinstance(record, dict) and "conversations" in record else "bench"


class RecordProblem(Exception):
    """A record that does not fit the schema; becomes an InputFileError naming the file, record and field."""

    def __init__(self, field_: str, detail: str):
        super().__init__(detail)
        self.field = field_
        self.detail = detail


def _string(record: dict[str, Any], key: str, nullable: bool = True) -> str | None:
    value = record.get(key)
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise RecordProblem(key, f"is a {type(value).__name__}, not a string")
    return value


def _turns(value: Any, name: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise RecordProblem(name, f"is a {type(value).__name__}, not a list of turns")
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or not isinstance(turn.get("from"), str) or not isinstance(turn.get("value"),
                                                                                                    str):
            raise RecordProblem(f"{name}[{i}]", "is not a turn with string 'from' and 'value'")
        if len(turn) != 2:
            other = sorted(set(turn) - {"from", "value"})
            raise RecordProblem(f"{name}[{i}].{other[0]}", "turns hold only 'from' and 'value' in the Parquet schema; "
                                                           "this key would be lost")
        turns.append({"from": turn["from"], "value": turn["value"]})
    return turns


def _extra(record: dict[str, Any], known: tuple[str, ...]) -> str | None:
    rest = {k: v for k, v in record.items() if k not in known}
    return dumps(rest) if rest else None


def llava_row(record: dict[str, Any], source: dict[str, Any] | None, source_lang: str | None) -> dict[str, Any]:
    rid = record.get("id")
    if isinstance(rid, bool) or not isinstance(rid, (str, int, type(None))):
        raise RecordProblem("id", f"is a {type(rid).__name__}, not a string or integer")
    row = {"id": None if rid is None else str(rid), "image": _string(record, "image"),
           "conversations": _turns(record.get("conversations"), "conversations")}
    if source_lang:
        row[f"conversations_{source_lang}"] = _turns(source.get("conversations") if source else None,
                                                     "source conversations")
    row["extra"] = _extra(record, LLAVA_KEYS)
    return row


def bench_row(record: dict[str, Any], source: dict[str, Any] | None, source_lang: str | None) -> dict[str, Any]:
    qid = record.get("question_id")
    if isinstance(qid, bool) or not isinstance(qid, (int, type(None))):
        raise RecordProblem("question_id", f"is a {type(qid).__name__}, not an integer")
    row = {"question_id": qid, "image": _string(record, "image"), "category": _string(record, "category"),
           "prompt": _string(record, "prompt")}
    if source_lang:
        row[f"prompt_{source_lang}"] = _string(source or {}, "prompt")
    row["text"] = _string(record, "text", nullable=False)
    if source_lang:
        row[f"text_{source_lang}"] = _string(source or {}, "text", nullable=False)
    row["extra"] = _extra(record, BENCH_KEYS)
    return row


def locate_source(run_file: RunFile, source_root: str | Path | None) -> Path:
    """The run's source file, for --parallel: under `source_root` by name, else at the path the manifest records
    (relative paths are relative to where the run was started). Its size must match the manifest's."""
    raw = run_file.source_path
    candidates = [Path(source_root) / run_file.source_name] if source_root else []
    if raw and "://" not in raw:
        candidates.append(Path(raw).expanduser())
    expected = run_file.manifest.get("source", {}).get("bytes")
    for path in candidates:
        if path.is_file():
            size = path.stat().st_size
            if isinstance(expected, int) and size != expected:
                raise ConfigError(f"{path}: {size:,} bytes, but the run read {expected:,} from its source {raw}; "
                                  "--parallel needs the very file the run translated")
            return path
    tried = ", ".join(str(p) for p in candidates) or raw
    raise ConfigError(f"{run_file.output.name}: its source {raw!r} was not found (looked at {tried}); run export "
                      "from the folder the run was started in, or pass --source-root FOLDER that holds "
                      f"{run_file.source_name}")


def _aligned_sources(run_file: RunFile, source: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(source index, source record) of every record the output holds, in order."""
    dropped = dropped_indices(run_file.rejected)
    next_dropped = next(dropped, None)
    for item in RecordReader(source):
        while next_dropped is not None and next_dropped < item.index:
            next_dropped = next(dropped, None)
        if item.index == next_dropped:
            continue
        yield item.index, item.record


def _pairs(run_file: RunFile, source: Path | None) -> Iterator[tuple[int, Any, Any]]:
    """(output position, translated record, source record or None)."""
    outputs = RecordReader(run_file.output)
    if source is None:
        for item in outputs:
            yield item.index, item.record, None
        return
    sources = _aligned_sources(run_file, source)
    for item in outputs:
        pair = next(sources, None)
        if pair is None:
            raise InputFileError(str(source), f"ends before record {item.index} of {run_file.output.name}: not the "
                                              "source this run translated")
        index, src = pair
        if record_id(src) != record_id(item.record):
            raise InputFileError(str(run_file.output), f"record {item.index} (id {record_id(item.record)!r}) lines "
                                 f"up with source record {index} of {source} (id {record_id(src)!r}): the source "
                                 "or the rejected file is not the run's")
        yield item.index, item.record, src
    extra = next(sources, None)
    if extra is not None:
        raise InputFileError(str(source), f"record {extra[0]} (id {record_id(extra[1])!r}) is neither in "
                                          f"{run_file.output.name} nor rejected: not the source this run translated")


def write_parquet(run_file: RunFile, dest: Path, source: Path | None = None,
                  row_group_size: int = ROW_GROUP_SIZE) -> ParquetStats:
    """Write `run_file`'s output (and, given `source`, the source side by side) to `dest`, one row group per
    `row_group_size` records. `dest` is written in place: the caller hands a temporary name."""
    pa, pq = _pa()
    rows = _pairs(run_file, source)
    first = next(rows, None)
    kind = kind_of(first[1]) if first else _kind_from_rejected(run_file)
    source_lang = run_file.source_lang if source is not None else None
    arrow_schema = schema(kind, source_lang)
    make_row = llava_row if kind == "llava" else bench_row
    stats = ParquetStats(dest, kind, columns=arrow_schema.names)
    try:
        with pq.ParquetWriter(str(dest), arrow_schema, compression="zstd") as writer:
            batch: list[dict[str, Any]] = []
            for index, record, src in _chain(first, rows):
                try:
                    if kind_of(record) != kind or not isinstance(record, dict):
                        raise RecordProblem("conversations" if kind == "llava" else "text",
                                            f"is missing: the file's first record is a {kind} record")
                    batch.append(make_row(record, src, source_lang))
                except RecordProblem as exc:
                    raise InputFileError(str(run_file.output), f"record {index} (id {record_id(record)!r}), field "
                                                               f"{exc.field}: {exc.detail}") from None
                if len(batch) >= row_group_size:
                    _flush(pa, writer, batch, arrow_schema, stats, run_file)
            if batch or stats.row_groups == 0:
                _flush(pa, writer, batch, arrow_schema, stats, run_file)
    except OSError as exc:
        raise OutputError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return stats


def _flush(pa, writer, batch: list[dict[str, Any]], arrow_schema, stats: ParquetStats, run_file: RunFile) -> None:
    try:
        table = pa.Table.from_pylist(batch, schema=arrow_schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError) as exc:
        raise InputFileError(str(run_file.output), f"records {stats.rows}-{stats.rows + len(batch) - 1}: "
                                                   f"cannot be stored in Parquet ({exc})") from None
    writer.write_table(table, row_group_size=max(len(batch), 1))
    stats.rows += len(batch)
    stats.row_groups += 1
    batch.clear()


def _chain(first: tuple[int, Any, Any] | None, rest: Iterator[tuple[int, Any, Any]]) -> Iterable[tuple[int, Any, Any]]:
    if first is not None:
        yield first
        yield from rest


def _kind_from_rejected(run_file: RunFile) -> str:
    """An output with no record (all rejected) takes its schema from the first rejected source record."""
    if run_file.rejected is not None:
        import json

        with open(run_file.rejected, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    return kind_of(json.loads(line).get("source"))
    return "llava"

"""Write the memory out as TMX 1.4, JSONL or Parquet, with placeholders restored to the real text.

A row's body holds placeholders; the spans behind them are stored with rows written since schema 1 (imports, and
runs once the pipeline passes them). The English side gets each span's own text back, the target side what a run
would write (a glossary term's target, with the Korean particle after it corrected as the assembler does). A row
whose spans are unknown (written by an older version) cannot be restored: TMX leaves it out and counts it, JSONL and
Parquet keep it with the restored columns empty. XML-style rows (DeepL) carry their spans inside the tags.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from translate.errors import ConfigError
from translate.formats.writers import AtomicFile, dumps
from translate.memory import Entry, TranslationMemory
from translate.protect import (
    BRACKETS,
    XML_KEEP,
    PlaceholderStyle,
    Span,
    SpanLost,
    restore_spans,
)
from translate.tm.tmx import TmxWriter, xml_safe

FORMATS = ("tmx", "jsonl", "parquet")
AfterSpan = Callable[[Span, str], str]


@dataclass
class ExportStats:
    exported: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason → rows left out (TMX only)
    unrestored: int = 0  # JSONL / Parquet rows kept with placeholders (their spans are unknown)

    def as_dict(self) -> dict[str, Any]:
        return {"exported": self.exported, "skipped": dict(sorted(self.skipped.items())),
                "unrestored": self.unrestored}


def _style_of(body: str) -> PlaceholderStyle | None:
    if BRACKETS.pattern.search(body):
        return BRACKETS
    if XML_KEEP.pattern.search(body):
        return XML_KEEP
    return None


def restore_entry(entry: Entry, after_span: AfterSpan | None) -> tuple[str, str] | str:
    """(English, target) with the real text, or the reason it cannot be restored."""
    style = _style_of(entry.source)
    if style is None:  # no placeholders: the body is the text
        return entry.source, entry.target
    spans = entry.spans
    if spans is None:
        if style is not XML_KEEP:
            return "spans_unknown"
        # XML-style placeholders carry their span; a row without stored spans still restores.
        spans = tuple(Span("xml", m, m) for m in (XML_KEEP.carried(x) for x in XML_KEEP.pattern.finditer(
            entry.source)))
    try:
        source = restore_spans(style, tuple(Span(s.kind, s.source, s.source) for s in spans), entry.source)
        target = restore_spans(style, spans, entry.target.strip(), after_span)
    except SpanLost:
        return "spans_mismatch"
    return source, target


def selected(memory: TranslationMemory, source_lang: str, target_lang: str) -> Iterator[Entry]:
    """The rows of one language pair; rows written before languages were stored count as that pair."""
    for entry in memory.entries():
        if entry.src_lang is None or (entry.src_lang == source_lang and entry.tgt_lang == target_lang):
            yield entry


def export_tmx(memory: TranslationMemory, out: Path, source_lang: str, target_lang: str,
               after_span: AfterSpan | None = None) -> ExportStats:
    stats = ExportStats()
    with AtomicFile(out) as fh:
        writer = TmxWriter(fh, source_lang)
        writer.start()
        for entry in selected(memory, source_lang, target_lang):
            texts = restore_entry(entry, after_span)
            if isinstance(texts, str):
                stats.skipped[texts] += 1
                continue
            if not (xml_safe(texts[0]) and xml_safe(texts[1])):
                stats.skipped["not_xml_safe"] += 1
                continue
            props = [("x-origin", entry.origin), ("x-key", entry.key.hex())]
            writer.tu(entry.key.hex(), [(source_lang, texts[0]), (target_lang, texts[1])], props, entry.created,
                      entry.changed)
            stats.exported += 1
        writer.end()
    return stats


def _record(entry: Entry, source_lang: str, target_lang: str, after_span: AfterSpan | None) -> dict[str, Any]:
    texts = restore_entry(entry, after_span)
    restored = not isinstance(texts, str)
    return {
        "key": entry.key.hex(), "source_lang": entry.src_lang or source_lang,
        "target_lang": entry.tgt_lang or target_lang,
        "source": texts[0] if restored else None, "target": texts[1] if restored else None,
        "source_protected": entry.source, "target_protected": entry.target, "origin": entry.origin,
        "created": entry.created, "changed": entry.changed,
    }


def export_jsonl(memory: TranslationMemory, out: Path, source_lang: str, target_lang: str,
                 after_span: AfterSpan | None = None) -> ExportStats:
    stats = ExportStats()
    with AtomicFile(out) as fh:
        for entry in selected(memory, source_lang, target_lang):
            row = _record(entry, source_lang, target_lang, after_span)
            stats.unrestored += row["source"] is None
            fh.write(dumps(row) + "\n")
            stats.exported += 1
    return stats


def export_parquet(memory: TranslationMemory, out: Path, source_lang: str, target_lang: str,
                   after_span: AfterSpan | None = None, batch_rows: int = 50_000) -> ExportStats:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError("Parquet export needs pyarrow; install it with: pip install 'llava-translate[export]'") from None
    schema = pa.schema([("key", pa.string()), ("source_lang", pa.string()), ("target_lang", pa.string()),
                        ("source", pa.string()), ("target", pa.string()), ("source_protected", pa.string()),
                        ("target_protected", pa.string()), ("origin", pa.string()), ("created", pa.float64()),
                        ("changed", pa.float64())])
    stats = ExportStats()
    out.parent.mkdir(parents=True, exist_ok=True)
    # pyarrow writes a file by name: a temporary one beside the output, renamed into place once complete.
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            batch: list[dict[str, Any]] = []
            for entry in selected(memory, source_lang, target_lang):
                batch.append(_record(entry, source_lang, target_lang, after_span))
                stats.unrestored += batch[-1]["source"] is None
                if len(batch) >= batch_rows:
                    writer.write_table(pa.Table.from_pylist(batch, schema))
                    stats.exported += len(batch)
                    batch = []
            writer.write_table(pa.Table.from_pylist(batch, schema))
            stats.exported += len(batch)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return stats


def export_memory(memory: TranslationMemory, fmt: str, out: str | Path, source_lang: str, target_lang: str,
                  after_span: AfterSpan | None = None) -> ExportStats:
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    writer = {"tmx": export_tmx, "jsonl": export_jsonl, "parquet": export_parquet}[fmt]
    return writer(memory, Path(out), source_lang, target_lang, after_span)

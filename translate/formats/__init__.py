"""Readers and writers for LLaVA files (streamed JSON arrays and JSONL) and the record schema."""

from translate.formats.readers import RecordReader, SourceItem, open_records
from translate.formats.records import Problem, translatable_fields, validate, with_values
from translate.formats.writers import AtomicFile, JsonArrayWriter, JsonLinesWriter, write_json

__all__ = [
    "AtomicFile",
    "JsonArrayWriter",
    "JsonLinesWriter",
    "Problem",
    "RecordReader",
    "SourceItem",
    "open_records",
    "translatable_fields",
    "validate",
    "with_values",
    "write_json",
]

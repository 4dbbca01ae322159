"""Readers and writers for LLaVA files (streamed JSON documents and JSONL, local or from a URL) and the record schema."""

from translate.formats.readers import RecordReader, SourceItem
from translate.formats.records import translatable_fields, validate, with_values
from translate.formats.sources import Source, SourceUnavailableError, open_source
from translate.formats.writers import AtomicFile, JsonArrayWriter, JsonLinesWriter, write_json

__all__ = [
    "AtomicFile",
    "JsonArrayWriter",
    "JsonLinesWriter",
    "open_source",
    "RecordReader",
    "Source",
    "SourceItem",
    "SourceUnavailableError",
    "translatable_fields",
    "validate",
    "with_values",
    "write_json",
]

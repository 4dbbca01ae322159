"""`plan`: stream the sources once and count what the memory lacks, without translating anything (the numbers
behind `estimate` and the cluster plan).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from translate.formats.readers import RecordReader
from translate.formats.sources import Source
from translate.memory import KeySet, TranslationMemory
from translate.pipeline.files import windows
from translate.pipeline.segments import Segmenter, collect_segments


@dataclass
class PlanCounts:
    """What a set of sources needs: the numbers behind `estimate` and the cluster plan."""

    files: int = 0
    records: int = 0
    records_invalid: int = 0
    segments_total: int = 0
    segments_empty: int = 0
    segments_unique: int = 0
    segments_templates: int = 0
    segments_in_memory: int = 0
    segments_missing: int = 0
    characters_unique: int = 0
    characters_missing: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


MissingCallback = Callable[[list[tuple[bytes, str]]], None]


def plan(sources: Iterable[str | Path], segmenter: Segmenter, memory: TranslationMemory, window: int = 1024,
         on_missing: MissingCallback | None = None, progress: Callable[[Path, int], None] | None = None,
         records_key: str | None = None) -> PlanCounts:
    """Stream the sources once and count what the memory lacks, without translating anything.

    Each unique segment (across all the files) is counted once; `on_missing` receives, window by window, the
    (key, body) pairs that are neither in the memory nor curated templates, each exactly once.
    """
    counts = PlanCounts()
    seen = KeySet()
    try:
        for src in sources:
            src = src if isinstance(src, Source) else Path(src)
            counts.files += 1
            reader = RecordReader(src, records_key=records_key)
            for items in windows(reader, window):
                prepared = [segmenter.prepare(item) for item in items]
                counts.records += len(prepared)
                counts.records_invalid += sum(1 for rec in prepared if rec.problems)
                segments = collect_segments((f for rec in prepared for f in rec.fields), segmenter)
                counts.segments_total += segments.total
                counts.segments_empty += segments.empty
                # Keep only keys never seen earlier in this plan (KeySet.add_many reports the new ones in bulk).
                new = _new_keys(seen, segments.wanted)
                if not new:
                    continue
                counts.segments_unique += len(new)
                counts.characters_unique += sum(len(t) for t in new.values())
                templates = {k for k in new if segmenter.is_template(k)}
                counts.segments_templates += len(templates)
                in_memory = memory.lookup(k for k in new if k not in templates)
                counts.segments_in_memory += len(in_memory)
                missing = [(k, t) for k, t in new.items() if k not in templates and k not in in_memory]
                counts.segments_missing += len(missing)
                counts.characters_missing += sum(len(t) for _, t in missing)
                if on_missing and missing:
                    on_missing(missing)
                if progress:
                    progress(src, reader.bytes_read)
    finally:
        seen.close()
    return counts


def _new_keys(seen: KeySet, wanted: dict[bytes, str]) -> dict[bytes, str]:
    """The part of `wanted` not yet in `seen`, adding it. One query per window keeps this cheap."""
    known = seen.contains(wanted)
    fresh = {k: t for k, t in wanted.items() if k not in known}
    seen.add_many(fresh)
    return fresh

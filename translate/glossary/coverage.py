"""`coverage`: how often a finished run rendered each glossary term as the glossary says."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from translate.glossary.model import Glossary, GlossaryError

@dataclass
class TermCount:
    source: str
    target: str
    segments: int = 0
    covered: int = 0


@dataclass
class Coverage:
    """What a finished run did with the glossary. A "hit" is a (segment, term) pair whose output holds the target."""

    records_source: int = 0
    records_output: int = 0
    segments: int = 0
    segments_with_terms: int = 0
    term_pairs: int = 0
    term_pairs_covered: int = 0
    segments_fully_covered: int = 0
    dnt_pairs: int = 0
    dnt_pairs_kept: int = 0
    terms: dict[str, TermCount] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.term_pairs_covered / self.term_pairs if self.term_pairs else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "records_source": self.records_source, "records_output": self.records_output,
            "segments": self.segments, "segments_with_terms": self.segments_with_terms,
            "segments_fully_covered": self.segments_fully_covered,
            "term_pairs": self.term_pairs, "term_pairs_covered": self.term_pairs_covered,
            "term_pairs_missing": self.term_pairs - self.term_pairs_covered, "rate": round(self.rate, 4),
            "dnt_pairs": self.dnt_pairs, "dnt_pairs_kept": self.dnt_pairs_kept,
            "terms": {k: {"target": v.target, "segments": v.segments, "covered": v.covered}
                      for k, v in sorted(self.terms.items())},
            "misses": self.misses,
        }


def _aligned(source: Path, output: Path) -> Iterator[tuple[Any, Any]]:
    """(source record, output record) pairs. The output keeps the source's order and drops rejected records, so
    one pass over both files aligns them by id."""
    from translate.formats.readers import RecordReader
    from translate.formats.records import record_id, validate

    def shape(record: Any) -> tuple[Any, Any, int]:
        # id, image and number of turns: enough to tell apart records that share an id (LLaVA's files have some)
        turns = record.get("conversations") if isinstance(record, dict) else None
        return record_id(record), record.get("image") if isinstance(record, dict) else None, \
            len(turns) if isinstance(turns, list) else -1

    src_iter = iter(RecordReader(source))
    for out_item in RecordReader(output):
        if out_item.record is None or validate(out_item.record):
            raise GlossaryError(f"{output}: record {out_item.index} is not a valid record")
        want = record_id(out_item.record)
        for src_item in src_iter:
            if (src_item.record is not None and not validate(src_item.record)
                    and shape(src_item.record) == shape(out_item.record)):
                yield src_item.record, out_item.record
                break
        else:
            raise GlossaryError(f"{output}: record {out_item.index} (id {want!r}) has no counterpart in {source} at "
                                "or after the previous one; is this the output of that source?")


def coverage(g: Glossary, source: str | Path, output: str | Path, max_misses: int = 10) -> Coverage:
    """Walk a finished run: for each source segment holding a glossary term, does its output hold the target?
    Do-not-translate spans are counted too (kept byte for byte or not)."""
    from translate.formats.readers import RecordReader
    from translate.formats.records import field_name, translatable_fields

    source, output = Path(source), Path(output)
    finder = Glossary(lang=g.lang, terms=g.terms, dnt=g.dnt).protector()
    cov = Coverage()
    for t in g.terms:
        cov.terms.setdefault(t.source, TermCount(t.source, t.target))
    for src_rec, out_rec in _aligned(source, output):
        cov.records_output += 1
        src_fields = translatable_fields(src_rec)
        out_fields = translatable_fields(out_rec)
        for (path, _, value), (_, _, translated) in zip(src_fields, out_fields):
            cov.segments += 1
            spans = finder.protect(value).spans
            wanted: dict[str, str] = {}
            for span in spans:
                if span.kind == "term":
                    key = next((t.source for t in g.terms if t.target == span.restore
                                and t.source.casefold() == span.source.casefold()), span.source)
                    wanted.setdefault(key, span.restore)
                elif span.kind == "dnt":
                    cov.dnt_pairs += 1
                    cov.dnt_pairs_kept += span.source in translated
            if not wanted:
                continue
            cov.segments_with_terms += 1
            all_hit = True
            for key, target in wanted.items():
                count = cov.terms.setdefault(key, TermCount(key, target))
                count.segments += 1
                cov.term_pairs += 1
                if target in translated:
                    count.covered += 1
                    cov.term_pairs_covered += 1
                else:
                    all_hit = False
                    if len(cov.misses) < max_misses:
                        cov.misses.append({"id": src_rec.get("id"), "field": field_name(path), "term": key,
                                           "target": target, "source": value, "output": translated})
            cov.segments_fully_covered += all_hit
    cov.records_source = sum(1 for _ in RecordReader(source))
    return cov



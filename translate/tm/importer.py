"""Import a published translation of a LLaVA file (e.g. KoLLaVA's ko_llava_instruct_150k.json) into the memory.

Records are aligned as `translate check` aligns them (by id, else by position, both files streamed side by side),
then turn by turn. Each turn goes through `PairMaker`: QC on the published text, placeholders put back, the key a run
with the same backend and glossary computes. Pairs are merged in batches, each one transaction, so a crash leaves
whole batches only and rerunning the same command resumes (what is already there is counted as `same`). Everything
that stays out is written, with its reasons, to ``<name>.skipped.jsonl``; the counts go to ``<name>.import.json``.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from translate.audit import (
    FIELD_CHANGED,
    MISSING,
    STRUCTURE,
    TRANSLATED_INVALID,
    UNMATCHED,
    match_records,
)
from translate.formats.readers import RecordReader
from translate.formats.records import (
    field_name,
    record_id,
    translatable_fields,
    validate,
)
from translate.formats.writers import (
    JsonLinesWriter,
    remove_stale_temporaries,
    write_json,
)
from translate.memory import KeySet, MergeCounts, TranslationMemory
from translate.reasons import Reason
from translate.tm.pairs import NO_SEGMENT, TEMPLATE, Pair, PairMaker

PREFER = ("existing", "import")
BATCH_TURNS = 2000  # segments per transaction: large enough to be fast, small enough that a crash loses little


@dataclass
class ImportStats:
    """Counts of one import. Turns are counted once each; `imported` is new rows, `replaced` rows an import won."""

    records_source: int = 0
    records_translated: int = 0
    matched_by_id: int = 0
    matched_by_position: int = 0
    records_skipped: int = 0
    turns: int = 0
    imported: int = 0
    same: int = 0  # already in the memory with this translation (a rerun, or an earlier import)
    kept_existing: int = 0  # conflict: the memory had another translation and kept it (--prefer existing)
    replaced: int = 0  # conflict: the imported translation replaced the memory's (--prefer import)
    repeated: int = 0  # the same segment earlier in this import with the same translation (LLaVA repeats prompts)
    repeated_differently: int = 0  # ... with another translation: the first one is kept
    templates: int = 0  # curated glossary templates: a run takes them from the glossary
    no_segment: int = 0  # nothing an engine would get (empty, <image> alone, numbers, boxes)
    normalised: int = 0  # imported; a run writes it with the source's <image> shell or a corrected particle
    turns_skipped: int = 0
    reasons: Counter = field(default_factory=Counter)  # skipped records and turns, by reason code
    seconds: float = 0.0

    def merged(self, counts: MergeCounts) -> None:
        self.imported += counts.added
        self.same += counts.same
        self.kept_existing += counts.kept
        self.replaced += counts.replaced

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = dict(sorted(self.reasons.items()))
        out["records_per_second"] = round(self.records_source / self.seconds, 1) if self.seconds else None
        return out


@dataclass(slots=True)
class TurnPair:
    """One aligned turn to import, with where it came from (for the skipped list)."""

    source: str
    translated: str
    role: str
    field: str
    where: dict[str, Any]


class Batcher:
    """Collects pairs, drops repeats within this import (first one wins), and merges each batch in one
    transaction. `seen` is on disk (KeySet): flat memory however large the file."""

    def __init__(self, memory: TranslationMemory, origin: str, prefer: str, source_lang: str, target_lang: str,
                 stats: ImportStats, batch_turns: int = BATCH_TURNS):
        self.memory, self.origin, self.prefer = memory, origin, prefer
        self.langs = (source_lang, target_lang)
        self.stats = stats
        self.batch_turns = batch_turns
        self.pending: dict[bytes, Pair] = {}
        self.seen = KeySet()

    def add(self, pair: Pair) -> None:
        earlier = self.pending.get(pair.key)
        if earlier is not None:
            self._repeat(earlier.target == pair.target)
            return
        if self.seen.contains([pair.key]):
            target = self.memory.lookup([pair.key]).get(pair.key)
            self._repeat(target == pair.target)
            return
        self.pending[pair.key] = pair
        if len(self.pending) >= self.batch_turns:
            self.flush()

    def _repeat(self, same: bool) -> None:
        if same:
            self.stats.repeated += 1
        else:
            self.stats.repeated_differently += 1

    def flush(self) -> None:
        if not self.pending:
            return
        rows = [(p.key, p.body, p.target, p.spans) for p in self.pending.values()]
        self.stats.merged(self.memory.merge(rows, self.origin, self.prefer, *self.langs))
        self.seen.add_many(self.pending)
        self.pending = {}

    def close(self) -> None:
        self.seen.close()


def import_turns(turns: Iterable[TurnPair | dict[str, Any]], maker: PairMaker, batcher: Batcher, stats: ImportStats,
                 skipped: JsonLinesWriter) -> None:
    """The part every import shares: each turn (or a ready-made skipped-record entry, a dict) through `PairMaker`
    into the batcher, or into the skipped list with its reasons."""
    for turn in turns:
        if isinstance(turn, dict):
            stats.records_skipped += 1
            stats.reasons.update(r["code"] for r in turn["reasons"])
            skipped.write(turn)
            continue
        stats.turns += 1
        outcome = maker.make(turn.source, turn.translated, turn.role, turn.field)
        if outcome == NO_SEGMENT:
            stats.no_segment += 1
        elif outcome == TEMPLATE:
            stats.templates += 1
        elif isinstance(outcome, Pair):
            stats.normalised += outcome.normalised
            batcher.add(outcome)
        else:
            stats.turns_skipped += 1
            stats.reasons.update(r.code for r in outcome)
            skipped.write({**turn.where, "field": turn.field, "reasons": [r.as_dict() for r in outcome],
                           "source": turn.source, "translated": turn.translated})
    batcher.flush()


def aligned_turns(source: Path, translated: Path, stats: ImportStats,
                  progress: Callable[[int], None] | None = None) -> Iterator[TurnPair | dict[str, Any]]:
    """Every turn of every aligned record pair, or a skipped-record entry (a dict) for a record that cannot be
    imported at all: missing, unmatched, invalid, or shaped differently from its source."""
    src_reader, tr_reader = RecordReader(source), RecordReader(translated)
    for s, t, how in match_records(src_reader, tr_reader):
        if s is not None:
            stats.records_source += 1
            if progress and stats.records_source % 1000 == 0:
                progress(src_reader.bytes_read)
        if t is not None:
            stats.records_translated += 1
        where = {"index": s.index if s is not None else None, "translated_index": t.index if t is not None else None,
                 "id": record_id(s.record if s is not None else t.record)}
        if how == "missing":
            yield _skip(where, MISSING, "", f"{translated}: no record matches this source record", s.record, None)
            continue
        if how == "unmatched":
            yield _skip(where, UNMATCHED, "", f"{source}: no source record matches this translated record", None,
                        t.record)
            continue
        if how == "id":
            stats.matched_by_id += 1
        else:
            stats.matched_by_position += 1
        if s.record is None or validate(s.record):
            detail = "; ".join(f"{p.field}: {p.detail}" for p in validate(s.record)) if s.record is not None \
                else (s.error or "unparseable")
            yield _skip(where, "source_invalid", "", f"{source}: record {s.index}: {detail}", s.record, t.record)
            continue
        if t.record is None or validate(t.record):
            detail = "; ".join(f"{p.field}: {p.code}: {p.detail}" for p in validate(t.record)) \
                if t.record is not None else (t.error or "unparseable")
            yield _skip(where, TRANSLATED_INVALID, "", f"{translated}: record {t.index}: {detail}", s.record,
                        t.record)
            continue
        src_fields, tr_fields = translatable_fields(s.record), translatable_fields(t.record)
        if [r for _, r, _ in src_fields] != [r for _, r, _ in tr_fields]:
            yield _skip(where, STRUCTURE, "conversations",
                        f"the source has {len(src_fields)} turns ({', '.join(r for _, r, _ in src_fields)}), the "
                        f"translation {len(tr_fields)} ({', '.join(r for _, r, _ in tr_fields)})", s.record, t.record)
            continue
        changed = [k for k in s.record if k not in ("conversations", "text", "prompt")
                   and t.record.get(k) != s.record[k]]
        if changed:  # another image (or id) means the pair is not one record twice: nothing of it can be trusted
            yield _skip(where, FIELD_CHANGED, ", ".join(changed),
                        f"untranslated key(s) {', '.join(changed)} differ from the source", s.record, t.record)
            continue
        for (path, role, src_value), (_, _, tr_value) in zip(src_fields, tr_fields):
            yield TurnPair(src_value, tr_value, role, field_name(path), where)


def _skip(where: dict[str, Any], code: str, fieldname: str, detail: str, source: Any, translated: Any
          ) -> dict[str, Any]:
    return {**where, "field": fieldname, "reasons": [Reason(code, fieldname, detail).as_dict()],
            "source": source, "translated": translated}


def report_paths(translated: Path, out_dir: Path) -> dict[str, Path]:
    return {"skipped": out_dir / f"{translated.stem}.skipped.jsonl",
            "summary": out_dir / f"{translated.stem}.import.json"}


def origin_name(origin: str | None, translated: Path, kind: str = "import") -> str:
    """``import:<name>``: the name given (``kollava``) or the translated file's stem."""
    name = origin or translated.stem
    return name if ":" in name else f"{kind}:{name}"


def write_summary(path: Path, stats: ImportStats, info: dict[str, Any]) -> None:
    write_json(path, {**info, "counts": stats.as_dict()})


def import_published(source: str | Path, translated: str | Path, memory: TranslationMemory, maker: PairMaker,
                     *, origin: str, prefer: str = "existing", out_dir: str | Path | None = None,
                     info: dict[str, Any] | None = None, batch_turns: int = BATCH_TURNS,
                     progress: Callable[[int], None] | None = None) -> tuple[ImportStats, dict[str, Path]]:
    """Import `translated` (aligned to `source`) into `memory`. Returns the counts and the report paths."""
    if prefer not in PREFER:
        from translate.errors import ConfigError

        raise ConfigError(f"--prefer must be one of {', '.join(PREFER)}, not {prefer!r}")
    source, translated = Path(source), Path(translated)
    out = Path(out_dir) if out_dir is not None else translated.parent
    paths = report_paths(translated, out)
    for p in paths.values():
        remove_stale_temporaries(out, p.name)
    stats = ImportStats()
    started = time.perf_counter()
    seg = maker.segmenter
    batcher = Batcher(memory, origin, prefer, seg.source_lang, seg.target_lang, stats, batch_turns)
    try:
        with JsonLinesWriter(paths["skipped"]) as skipped:
            import_turns(aligned_turns(source, translated, stats, progress), maker, batcher, stats, skipped)
    finally:
        batcher.close()
    stats.seconds = round(time.perf_counter() - started, 3)
    write_summary(paths["summary"], stats, {"source": str(source), "translated": str(translated),
                                            "memory": str(memory.path), "origin": origin, "prefer": prefer,
                                            **(info or {})})
    return stats, paths

"""Import a TMX file into the memory: each ``<tu>``'s English and target ``<seg>`` go through the same `PairMaker` as
a published file's turns (protected as a run protects them, QC'd, keyed with this import's backend), so a reviewer's
corrections made in a translation tool reach the next run. A ``<tu>`` that cannot be used is skipped with its
reason; a file that is not well-formed TMX is refused before anything is imported."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

from translate.errors import InputFileError
from translate.formats.writers import JsonLinesWriter, remove_stale_temporaries
from translate.memory import TranslationMemory
from translate.reasons import Reason
from translate.tm.importer import (
    Batcher,
    ImportStats,
    TurnPair,
    import_turns,
    report_paths,
    write_summary,
)
from translate.tm.pairs import PairMaker
from translate.tm.tmx import (
    read_tmx,  # checks the whole file is well-formed before the first <tu>
)

ROLE = "default"  # a TMX segment has no LLaVA role; QC uses its default length bounds


def tmx_turns(path: Path, source_lang: str, target_lang: str, stats: ImportStats
              ) -> Iterator[TurnPair | dict[str, Any]]:
    for unit in read_tmx(path, source_lang, target_lang):
        stats.records_source += 1
        stats.records_translated += 1
        where = {"tu": unit.index, "tuid": unit.tuid}
        if unit.problem is not None:
            code, detail = unit.problem
            yield {**where, "field": "", "reasons": [Reason(code, "", f"{path}: <tu> {unit.index}"
                                                            f"{f' (tuid {unit.tuid})' if unit.tuid else ''}: {detail}"
                                                            ).as_dict()], "source": None, "translated": None}
            continue
        yield TurnPair(unit.source, unit.target, ROLE, f"tu[{unit.index}]", where)


def import_tmx(path: str | Path, memory: TranslationMemory, maker: PairMaker, *, origin: str,
               prefer: str = "existing", out_dir: str | Path | None = None, info: dict[str, Any] | None = None
               ) -> tuple[ImportStats, dict[str, Path]]:
    path = Path(path)
    out = Path(out_dir) if out_dir is not None else path.parent
    paths = report_paths(path, out)
    for p in paths.values():
        remove_stale_temporaries(out, p.name)
    stats = ImportStats()
    started = time.perf_counter()
    seg = maker.segmenter
    batcher = Batcher(memory, origin, prefer, seg.source_lang, seg.target_lang, stats)
    try:
        with JsonLinesWriter(paths["skipped"]) as skipped:
            import_turns(tmx_turns(path, seg.source_lang, seg.target_lang, stats), maker, batcher, stats, skipped)
    finally:
        batcher.close()
    if stats.records_source and stats.records_skipped == stats.records_source:
        languages = f"{seg.source_lang} and {seg.target_lang}"
        raise InputFileError(str(path), f"none of its {stats.records_source} <tu> could be used (no pair of "
                             f"{languages} plain-text segments); see {paths['skipped']}")
    stats.seconds = round(time.perf_counter() - started, 3)
    write_summary(paths["summary"], stats, {"tmx": str(path), "memory": str(memory.path), "origin": origin,
                                            "prefer": prefer, **(info or {})})
    return stats, paths

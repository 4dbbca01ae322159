"""Run options and the counters of a run: what a caller sets, and what a run reports in its manifest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from translate.errors import ConfigError

ON_REJECT = ("drop", "keep-source", "keep")

@dataclass
class Stats:
    """Counters for one file (or a whole run, summed)."""

    records_in: int = 0
    records_kept: int = 0
    records_rejected: int = 0
    records_invalid: int = 0
    duplicate_ids: int = 0  # records whose id appeared earlier in the file; both are kept (LLaVA's files have some)
    segments_total: int = 0
    segments_empty: int = 0
    segments_unique: int = 0
    segments_templates: int = 0
    memory_hits: int = 0
    segments_sent: int = 0
    characters_sent: int = 0
    reasons: Counter = field(default_factory=Counter)
    # Memory hits per origin of the stored row ("import:kollava", "nllb/…", "template"): what was paid for where.
    hits_by_origin: Counter = field(default_factory=Counter)

    def add(self, other: Stats) -> None:
        for name, value in asdict(other).items():
            if name in ("reasons", "hits_by_origin"):
                getattr(self, name).update(getattr(other, name))
            else:
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = dict(sorted(self.reasons.items()))
        out["hits_by_origin"] = dict(sorted(self.hits_by_origin.items()))
        return out

    def count_segments(self, segments: SegmentCounts) -> None:
        self.segments_total += segments.total
        self.segments_empty += segments.empty
        self.segments_templates += segments.templates


@dataclass
class RunOptions:
    source_lang: str = "en"
    target_lang: str = "ko"
    window: int = 1024  # records per window; bounds memory use, not output
    on_reject: str = "drop"
    qc: dict[str, Any] = field(default_factory=dict)
    records_key: str | None = None  # the list to read in a file whose top level is an object
    qc_log: bool = True  # write the per-turn QC log
    limit: int | None = None  # only the first N records of each file
    sample: int | None = None  # only N records of each file, chosen by `seed` (`select_records`)
    seed: int = 0
    # Missing segments gathered before they are sorted by length and sent, or windows, whichever comes first. A larger
    # look-ahead sorts more texts together (less padding) but its translations come back later, so less of the
    # pipeline's own work overlaps the engine's (docs/performance.md); each pool is held until written.
    lookahead: int = 8192
    lookahead_windows: int = 2
    # Worker processes for prepare and assemble (`translate.pipeline.workers`); None: one per core, for files
    # large enough to gain from them. They never change the output.
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.on_reject not in ON_REJECT:
            raise ConfigError(f"--on-reject must be one of {', '.join(ON_REJECT)}, not {self.on_reject!r}")
        if self.window < 1:
            raise ConfigError("window must be at least 1 record")
        if self.workers is not None and self.workers < 0:
            raise ConfigError("workers must be 0 (none) or more")


@dataclass(slots=True)
class SegmentCounts:
    """What a window of prepared fields asks for: the keys to fill (key → protected body, first seen first) and how
    many fields there were, empty or curated."""

    wanted: dict[bytes, str]
    total: int = 0
    empty: int = 0
    templates: int = 0
    # The protected spans behind the placeholders of each wanted body that has any: stored beside the translation,
    # so a memory export (TMX) can put the real text back.
    spans: dict[bytes, tuple] = field(default_factory=dict)

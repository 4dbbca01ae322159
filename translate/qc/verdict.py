"""What the checks say about a turn: its reasons plus the measurements behind them."""

from __future__ import annotations

from dataclasses import dataclass, field

from translate.reasons import Reason

# Reasons that mean the candidate is broken. `--on-reject keep` still never writes such a candidate:
# a lost <image> silently turns an image record into a text one, a lost span corrupts code or coordinates.
# backend_failed: the candidate holds the untranslated source for that turn.
HARD_REASONS = frozenset({"image_token", "span_lost", "backend_failed"})


@dataclass(slots=True)
class TurnCheck:
    """The reasons for one turn plus what was measured: the row behind the QC log."""

    reasons: list[Reason]
    source_chars: int = 0
    output_chars: int = 0
    ratio: float | None = None
    script_share: float | None = None
    # Findings of checks set to severity "warn": logged, never a rejection.
    warnings: list[Reason] = field(default_factory=list)
    # Korean speech levels of the output's sentences ({"hapsyo": 3}), where any was classified.
    levels: dict[str, int] | None = None
    # A quality-estimation score (translate.qc.qe), where a scorer ran.
    qe: float | None = None

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


def record_check(codes: list[str], field: str = "") -> TurnCheck:
    """A record-level entry for the QC log (an invalid or unmatched record): reasons without measurements."""
    return TurnCheck([Reason(code, field, "") for code in codes])

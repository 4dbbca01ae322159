"""The shape of the output: empty, too long or too short for its role, looping, cut off mid-sentence."""

from __future__ import annotations

from typing import Any

from translate.errors import ConfigError
from translate.qc.base import Check, Target, Turn


class EmptyOutput(Check):
    """The translation is empty (or only ``<image>``) where the source is not. The checker applies it before the
    loop (an empty output leaves nothing else to judge); this class holds its name and switch."""

    name = "empty_output"
    DETAIL = "the translation is empty"

    def __call__(self, turn: Turn) -> str | None:
        return None if turn.output else self.DETAIL


# Length-ratio bounds (output chars / source chars) per role, by target family. The Korean bounds are calibrated
# on the hand-translated parallel fixture (tests/fixtures/parallel_ko): over 44 turns whose source has at least
# 20 characters the ratio runs 0.32-0.68 (median 0.47; long answers 0.43-0.48), so [0.2, 1.4]/[0.2, 1.6] leave
# room for terse or wordy but sound translations and still catch loops (ratio > 2) and heavy truncation.
# docs/quality.md shows how to recalibrate from a run's QC log with `translate report`.
_RATIO_KO = {"human": [0.2, 1.6], "gpt": [0.2, 1.4], "bench": [0.2, 1.6], "default": [0.2, 1.6]}
_RATIO_CJK = {"human": [0.12, 1.4], "gpt": [0.12, 1.2], "bench": [0.12, 1.4], "default": [0.12, 1.4]}
_RATIO_OTHER = {"human": [0.4, 2.6], "gpt": [0.4, 2.4], "bench": [0.4, 2.6], "default": [0.4, 2.6]}


class LengthRatio(Check):
    """Output/source length in characters is outside the bounds for the turn's role."""

    name = "length_ratio"
    defaults = {"min_source_chars": 20}  # plus per-role [low, high] bounds, by target (see above)
    open_options = True  # any other key is a role of its own

    @classmethod
    def defaults_for(cls, target: Target) -> dict[str, Any]:
        family = target.family
        ratio = _RATIO_KO if family == "ko" else _RATIO_CJK if family in ("ja", "zh") else _RATIO_OTHER
        values = dict(cls.defaults)
        values.update({role: list(bounds) for role, bounds in ratio.items()})
        return values

    @classmethod
    def validate(cls, options: dict[str, Any]) -> None:
        for role, bounds in options.items():
            if role == "min_source_chars":
                continue
            if (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
                    or not all(isinstance(b, (int, float)) for b in bounds) or bounds[0] >= bounds[1]):
                raise ConfigError(f"[qc.length_ratio] {role} must be [low, high] with low < high, not {bounds!r}")

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.min_chars = int(options["min_source_chars"])
        self.bounds = {role: (float(b[0]), float(b[1])) for role, b in options.items() if role != "min_source_chars"}

    def __call__(self, turn: Turn) -> str | None:
        n_src, n_out = len(turn.source), len(turn.output)
        if n_src < self.min_chars:
            return None
        role = turn.role
        low, high = self.bounds.get(role) or self.bounds["default"]
        ratio = n_out / n_src
        if low <= ratio <= high:
            return None
        return f"{role} output/source length {ratio:.2f} ({n_out}/{n_src} chars) is outside [{low}, {high}]"


class Repetition(Check):
    """A stretch of the output repeats over and over (the decoding loops of NLLB and friends)."""

    name = "repetition"
    # A window of the output that occurs at least `min_repeats` times and, with its period, covers at least
    # `min_coverage` of the output, where the source shows no such loop.
    defaults = {"min_chars": 24, "min_repeats": 4, "min_coverage": 0.3}

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.min_chars, self.min_repeats = int(options["min_chars"]), int(options["min_repeats"])
        self.coverage = float(options["min_coverage"])

    def __call__(self, turn: Turn) -> str | None:
        if len(turn.output) < self.min_chars:
            return None
        loop = self._loop(turn.output)
        if loop and not self._loop(turn.source):
            return loop
        return None

    def _loop(self, text: str) -> str | None:
        """A window that recurs `min_repeats` times and, with its period, covers `min_coverage` of the text."""
        n = len(text)
        if n < self.min_chars:
            return None
        width = min(16, max(4, n // 10))
        for pos in (n - width - 1, (3 * n) // 4, n // 2, n // 4):
            window = text[pos: pos + width]
            if len(window) < width or not window.strip():
                continue
            count = text.count(window)
            if count < self.min_repeats:
                continue
            first = text.find(window)
            period = text.find(window, first + 1) - first
            covered = count * max(period, width)
            if covered >= self.coverage * n:
                return f"{window!r} repeats {count} times ({min(covered, n) / n:.0%} of the output)"
        return None


_SENTENCE_END = frozenset(".!?")
_CLOSERS = "\"'”’)]}»」』"
_TERMINALS = frozenset(".!?。！？…:;~" + _CLOSERS)
# Korean sentence-final syllables: a translation that drops the final period still ends a sentence.
_KO_FINALS = frozenset("다요까죠니네음함임오")


class Truncated(Check):
    """The source ends a sentence, the output stops mid-sentence."""

    name = "truncated"
    # Only judged where the source has at least `min_source_chars` characters and ends a sentence.
    defaults = {"min_source_chars": 20}

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.min_chars = int(options["min_source_chars"])
        self.ko = target.family == "ko"

    def __call__(self, turn: Turn) -> str | None:
        if len(turn.source) < self.min_chars:
            return None
        s = turn.source.rstrip(_CLOSERS + " ")
        if not s or s[-1] not in _SENTENCE_END:
            return None
        out = turn.output
        last = out[-1]
        if last in _TERMINALS:
            return None
        if self.ko and last in _KO_FINALS:
            return None
        return f"the output stops mid-sentence ({out[-20:]!r}) where the source ends a sentence"

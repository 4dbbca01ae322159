"""Every quality check, in the order the checker runs them (the order reasons are listed in).

Adding a check: write its class (a `translate.qc.base.Check`) in one module and add it here. Its name becomes a
reason code and a key of the ``[qc]`` table; its defaults become that table's thresholds.
"""

from __future__ import annotations

from translate.qc.base import Check
from translate.qc.form import EmptyOutput, LengthRatio, Repetition, Truncated
from translate.qc.language import Untranslated, WrongScript
from translate.qc.numbers import NumberMismatch

TURN_CHECKS: tuple[type[Check], ...] = (
    EmptyOutput,
    Untranslated,
    WrongScript,
    LengthRatio,
    Repetition,
    NumberMismatch,
    Truncated,
)

BY_NAME: dict[str, type[Check]] = {c.name: c for c in TURN_CHECKS}
CHECKS: tuple[str, ...] = tuple(BY_NAME)

"""Every quality check, in the order the checker runs them (the order reasons are listed in).

Adding a check: write its class (a `translate.qc.base.Check`) in one module and add it here. A record-level check goes in RECORD_CHECKS. Its name becomes a
reason code and a key of the ``[qc]`` table; its defaults become that table's thresholds.
"""

from __future__ import annotations

from translate.qc.base import Check
from translate.qc.form import EmptyOutput, LengthRatio, Repetition, Truncated
from translate.qc.language import Untranslated, WrongScript
from translate.qc.anchors import AnchorMismatch
from translate.qc.english_left import EnglishLeft
from translate.qc.negation import Negation
from translate.qc.numbers import NumberMismatch
from translate.qc.record import RecordSpeechLevel, SwappedTurns
from translate.qc.sentence_align import SentenceAlignment
from translate.qc.speech_level import SpeechLevel

TURN_CHECKS: tuple[type[Check], ...] = (
    EmptyOutput,
    Untranslated,
    WrongScript,
    LengthRatio,
    Repetition,
    NumberMismatch,
    Truncated,
    # Meaning-level checks (issue "Quality checks that see meaning").
    SentenceAlignment,
    SpeechLevel,
    AnchorMismatch,
    EnglishLeft,
    Negation,
)

# Checks over the turns of one record: `QualityChecker.inspect_record`.
RECORD_CHECKS: tuple[type[Check], ...] = (
    SwappedTurns,
    RecordSpeechLevel,
)

BY_NAME: dict[str, type[Check]] = {c.name: c for c in (*TURN_CHECKS, *RECORD_CHECKS)}
CHECKS: tuple[str, ...] = tuple(BY_NAME)

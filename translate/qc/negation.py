"""Negation: one side says "not" and the other does not.

Cues in English: not, n't, no, never, none, nothing, nobody, nowhere, neither, nor, without, cannot. Cues in Korean:
않-, 없-, 아니-/아닌, 못 (not 연못), 말고/마세요/마십시오. Where both sides have the same number of sentences the
comparison is made per aligned sentence (a flip in one sentence of a long answer is still seen); otherwise per turn.
Only a source cue without a Korean one counts by default: the other direction has too many innocent causes (Korean
says 없- for "-less", "unable", "lack", "missing", "only" …). Korean only, like the cues.
"""

from __future__ import annotations

import re
from typing import Any

from translate.qc.base import Check, Target, Turn
from translate.qc.sentence_align import output_units, source_units

_EN = re.compile(r"\b(?:not|no|never|none|nothing|nobody|nowhere|neither|nor|without|cannot)\b|n't\b", re.I)
# Idioms with a cue word that Korean renders without a negation.
_EN_IDIOMS = re.compile(r"\b(?:whether or not|no matter|not only|no doubt|none other than|nothing but|"
                        r"no longer|not just|if not|no\.\s?\d|can't help|could not help|not to mention)\b", re.I)
_KO = re.compile(r"않|없|아니|아닌|아닙|(?<!연)못|말고|마세요|마십시오|말아|금지")
# Korean cues that rarely come from a plain English negation (used for the reverse direction).
_EN_IMPLICIT = re.compile(r"\b(?:un\w+|in\w+|im\w+|\w+less|lack\w*|absen\w+|missing|empty|free|fail\w*|only|few|"
                          r"little|barely|hardly|rarely|seldom|nor|instead|rather|except|beyond|too|prohibit\w*|"
                          r"forbid\w*|avoid\w*|unable|impossible|off|out|away|gone|left|refus\w+|lost)\b", re.I)


_CUE_HINTS = ("no", "n't", "never", "neither", "without", "cannot", "No", "Nei", "Nev", "Wit", "Can", "NO", "NOT")


def english_negated(text: str) -> bool:
    if not any(h in text for h in _CUE_HINTS) or not _EN.search(text):
        return False
    return bool(_EN.search(_EN_IDIOMS.sub(" ", text)))


class Negation(Check):
    """A negation in the source with none in the translation (or, with `both_ways`, the reverse)."""

    name = "negation"
    # A warning by default: logged in the QC log row ("warnings") and the report, the record is not rejected. It
    # caught 4/4 flips with no false alarm on the 90 clean turns of the fixtures, but English idioms with a cue word
    # ("no matter", "whether or not" …) are many; `severity = "reject"` makes it reject.
    severity = "warn"
    # `both_ways`: also flag a Korean negation without any English cue (off: too many innocent causes).
    # `per_sentence`: compare aligned sentences when the counts match, not just the whole turn.
    defaults = {"both_ways": False, "per_sentence": True}

    @classmethod
    def enabled_for(cls, target: Target) -> bool:
        return target.family == "ko"

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.active = target.family == "ko"
        self.both_ways = bool(options["both_ways"])
        self.per_sentence = bool(options["per_sentence"])

    def __call__(self, turn: Turn) -> str | None:
        if not self.active or not turn.reads_as_target():
            return None
        src, out = turn.source, turn.output
        src_neg = english_negated(src)
        out_neg = _KO.search(out) is not None
        if src_neg and not out_neg:
            return f"the source negates ({_EN.search(src).group(0)!r}), the translation has no negation"
        if out_neg and not src_neg:
            if self.both_ways and not _EN_IMPLICIT.search(src):
                return f"the translation negates ({_KO.search(out).group(0)!r}), the source does not"
            return None
        if not src_neg or not self.per_sentence:
            return None
        a, b = source_units(turn), output_units(turn)
        if len(a) != len(b) or len(a) < 2:
            return None
        for i, (s, t) in enumerate(zip(a, b)):
            s_neg, t_neg = english_negated(s), _KO.search(t) is not None
            if s_neg and not t_neg:
                return f"sentence {i + 1}: the source negates ({_EN.search(s).group(0)!r}), the translation does not"
            if self.both_ways and t_neg and not s_neg and not _EN_IMPLICIT.search(s):
                return f"sentence {i + 1}: the translation negates ({_KO.search(t).group(0)!r}), the source does not"
        return None

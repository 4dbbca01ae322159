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
# The same cues for the lower-cased text, as a search the regex engine can run fast: every branch starts with a
# letter (so it skips ahead to an n, w or c) and the word boundary before a cue is tested in Python, since a leading
# \b would be tried at every position of the text (`_EN` costs ~10 µs on a 300-character answer, this ~1 µs).
_EN_CUE = re.compile(r"(?:n(?:o(?:t|ne|thing|body|where|r)?|ever|either|'t)|without|cannot)\b")
# Idioms with a cue word that Korean renders without a negation (matched in the lower-cased text).
_EN_IDIOMS = re.compile(r"\b(?:whether or not|no matter|not only|no doubt|none other than|nothing but|"
                        r"no longer|not just|if not|no\.\s?\d|can't help|could not help|not to mention)\b")
_KO = re.compile(r"않|없|아니|아닌|아닙|못(?<!연못)|말고|마세요|마십시오|말아|금지")  # not 연못 (a pond)
# Korean cues that rarely come from a plain English negation (used for the reverse direction).
_EN_IMPLICIT = re.compile(r"\b(?:un\w+|in\w+|im\w+|\w+less|lack\w*|absen\w+|missing|empty|free|fail\w*|only|few|"
                          r"little|barely|hardly|rarely|seldom|nor|instead|rather|except|beyond|too|prohibit\w*|"
                          r"forbid\w*|avoid\w*|unable|impossible|off|out|away|gone|left|refus\w+|lost)\b", re.I)


def _has_cue(lower: str) -> bool:
    for m in _EN_CUE.finditer(lower):
        start = m.start()
        if start == 0 or lower[m.end() - 1] == "t" and lower[m.end() - 2] == "'":
            return True  # at the start, or n't (which ends a word: "don't")
        before = lower[start - 1]
        if not (before.isalnum() or before == "_"):
            return True
    return False


# Substrings without which no cue (not, no, none, nothing, nobody, nowhere, nor, cannot: "no"; never; neither;
# without; n't) or idiom can match: plain substring tests, far cheaper than a regex pass, rule most texts out (the
# cues' are written out in `english_negated`).
_IDIOM_PARTS = ("whether or not", "no matter", "not only", "no doubt", "none other than", "nothing but", "no longer",
                "not just", "if not", "no.", "can't help", "could not help", "not to mention")


def english_negated(text: str) -> bool:
    """Whether an English text negates: a cue word outside the idioms that Korean says without a negation."""
    lower = text.lower()
    if not ("no" in lower or "never" in lower or "neither" in lower or "without" in lower or "n't" in lower):
        return False
    if not _has_cue(lower):
        return False
    if not any(part in lower for part in _IDIOM_PARTS):
        return True
    return _has_cue(_EN_IDIOMS.sub(" ", lower))


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
        src_neg = turn.source_memo("negated", lambda: english_negated(src))
        if not src_neg and not self.both_ways:
            return None  # a Korean negation alone is flagged only with both_ways
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
        negated = turn.source_memo("negated_units", lambda: [english_negated(s) for s in a])
        for i, (s, t) in enumerate(zip(a, b)):
            if negated[i]:
                if _KO.search(t) is None:
                    return f"sentence {i + 1}: the source negates ({_EN.search(s).group(0)!r}), the translation does not"
            elif self.both_ways and _KO.search(t) is not None and not _EN_IMPLICIT.search(s):
                return f"sentence {i + 1}: the translation negates ({_KO.search(t).group(0)!r}), the source does not"
        return None

"""Korean speech levels: each sentence ending is classified, and a turn (or a record) that mixes polite and plain
endings fails.

Levels (the romanised names are what the QC log and the ``[qc]`` table use):

- ``hapsyo`` 합쇼체: -ㅂ니다 / -습니다 / -ㅂ니까 / -십시오;
- ``haeyo`` 해요체: -요 (-세요, -에요, -어요 …) and -죠;
- ``haera`` 해라체: -다 after a stem (있다, 한다, 이다, 했다 …), -냐 / -니 questions, -자;
- ``banmal`` 반말 (해체): -어 / -아 after a closed syllable (있어, 같아), 해 / 봐 / 줘 / 돼 / 워 …, -야, -지, -래, -게.

합쇼체 and 해요체 are both polite and sit together naturally in one answer; 해라체 and 반말 are both plain. What an
engine gets wrong is mixing the two groups: "…있습니다. …있어." A sentence that ends in a noun ("…있는 방", the
captions' style) or that cannot be classified has no level and never counts.

Only Korean has rules; for other targets the check stays off.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from translate.errors import ConfigError
from translate.qc.base import Check, Target, Turn
from translate.qc.sentence_align import output_units

LEVELS = ("hapsyo", "haeyo", "haera", "banmal")
KOREAN_NAMES = {"hapsyo": "합쇼체", "haeyo": "해요체", "haera": "해라체", "banmal": "반말"}
POLITE = frozenset({"hapsyo", "haeyo"})
_ALIASES = {**{v: k for k, v in KOREAN_NAMES.items()}, **{k: k for k in LEVELS}, "formal": "hapsyo",
            "polite": "haeyo", "plain": "haera", "casual": "banmal", "해체": "banmal"}

_TRAILING = " \t.!?…~\"'”’»)]}」』。！？"
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|'[^']*'|‘[^’]*’|「[^」]*」|『[^』]*』")
_BANMAL_OPEN = frozenset("해봐줘돼워와져쳐켜춰둬뭐야래게걸지")
_HAERA_STEM = frozenset("이하되였했었았겠")


def _has_final(syllable: str) -> bool:
    code = ord(syllable) - 0xAC00
    return 0 <= code < 11172 and code % 28 != 0


def classify(sentence: str) -> str | None:
    """The speech level of one Korean sentence from its ending, or None (a noun ending, a fragment, not Korean)."""
    s = sentence.rstrip(_TRAILING)
    while s and not s[-1].isalnum():  # emoji, symbols
        s = s[:-1].rstrip(_TRAILING)
    if len(s) < 2 or not ("가" <= s[-1] <= "힣"):
        return None
    last, prev = s[-1], s[-2]
    if last == "다":
        if prev == "니":
            return "hapsyo"
        if _has_final(prev) or prev in _HAERA_STEM:
            return "haera"
        return None
    if last in "요죠":
        return "haeyo"
    if last == "까":
        return "hapsyo" if prev == "니" else "banmal" if _has_final(prev) else None
    if last == "오" and prev == "시":
        return "hapsyo"
    if last in "냐니" and prev != "습":
        return "haera" if ("가" <= prev <= "힣") else None
    if last == "자" and _has_final(prev):
        return None  # 과자, 남자: nouns far more often than a propositive
    if last in "어아" and _has_final(prev):
        return "banmal"
    if last in _BANMAL_OPEN and len(s) >= 2 and "가" <= prev <= "힣":
        return "banmal" if last not in "지게래걸야" or _has_final(prev) or prev in "거이니는데" else None
    return None


def levels(sentences: list[str]) -> Counter:
    """Sentence count per level, quoted speech left out."""
    found: Counter = Counter()
    for sentence in sentences:
        if "\"" in sentence or "“" in sentence or "'" in sentence or "‘" in sentence or "「" in sentence:
            sentence = _QUOTED.sub("", sentence)
        level = classify(sentence)
        if level is not None:
            found[level] = found.get(level, 0) + 1  # not `+= 1`: a missing key goes through Counter.__missing__
    return found


def turn_levels(turn: Turn) -> Counter:
    return turn.memo("levels", lambda: levels(output_units(turn)) if turn.reads_as_target() else Counter())


def mixes(found: Counter, tolerance: float) -> bool:
    """Whether polite and plain endings are mixed beyond `tolerance` (the minority group's share)."""
    polite = found.get("hapsyo", 0) + found.get("haeyo", 0)  # POLITE
    plain = sum(found.values()) - polite
    minority = min(polite, plain)
    return minority > 0 and minority / (polite + plain) > tolerance


def _parse_expected(value: Any) -> dict[str, str]:
    if value in ("", None, False):
        return {}
    items = value.items() if isinstance(value, dict) else [("*", value)]
    out = {}
    for role, name in items:
        level = _ALIASES.get(str(name))
        if level is None:
            raise ConfigError(f"[qc.speech_level] expected_register {name!r} is not a speech level; known: "
                              f"{', '.join(LEVELS)} (or 합쇼체, 해요체, 해라체, 반말)")
        out[str(role)] = level
    return out


class SpeechLevel(Check):
    """A Korean turn mixes polite (합쇼체/해요체) and plain (해라체/반말) endings, or misses the expected level."""

    name = "speech_level"
    # `tolerance`: the share of the minority group (polite vs plain) a turn may have; 0 flags any mix.
    # `expected_register`: "" (off), a level for every turn ("hapsyo", "합쇼체", …) or a table by role
    # ({gpt = "hapsyo", human = "haeyo"}): a turn whose classified sentences are mostly another level fails.
    defaults = {"tolerance": 0.0, "expected_register": ""}

    @classmethod
    def enabled_for(cls, target: Target) -> bool:
        return target.family == "ko"

    @classmethod
    def validate(cls, options: dict[str, Any]) -> None:
        _parse_expected(options["expected_register"])

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.active = target.family == "ko"  # no rule set for other languages: the check stays silent
        self.tolerance = float(options["tolerance"])
        self.expected = _parse_expected(options["expected_register"])

    def __call__(self, turn: Turn) -> str | None:
        if not self.active:
            return None
        found = turn_levels(turn)
        if not found:
            return None
        if mixes(found, self.tolerance):
            return "mixed speech levels: " + ", ".join(f"{KOREAN_NAMES[k]} {n}" for k, n in found.most_common())
        want = self.expected.get(turn.role) or self.expected.get("*")
        if want:
            top, n = found.most_common(1)[0]
            if top != want and found.get(want, 0) < n:
                return f"{KOREAN_NAMES[top]} where {KOREAN_NAMES[want]} is expected ({dict(found)})"
        return None


def dominant(found: Counter) -> str | None:
    return found.most_common(1)[0][0] if found else None

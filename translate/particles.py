"""Korean particles after a substituted noun.

When a glossary term (or a do-not-translate span such as ``LLaVA``) travels as a placeholder, the engine never sees
the noun, so the particle it writes after the placeholder is a guess: ``⟦0⟧는`` where the term ``소화전`` needs
``은``. Once the span is restored, `correct_particle` picks the right form from the final sound of the noun:

* a final consonant (batchim) takes 은, 이, 을, 과, 으로, 아, 이나, 이랑, 이에요, 이야, 이라고, …;
* a final vowel takes 는, 가, 를, 와, 로, 야, 나, 랑, 예요, 야, 라고, …;
* a final ㄹ counts as a consonant everywhere except before (으)로, where it takes 로 (연필로, not 연필으로).

The final sound comes from the last Hangul syllable; for Latin words and digits from a reading (``LLaVA`` → 라바,
given in the glossary's ``reading`` column) or, without one, from rules: digits are read as Sino-Korean numbers
(3 → 삼, 10 → 십, 2 → 이), upper-case acronyms by their letter names (HTML → …엘, GPU → …유), and other Latin words
by a small spelling heuristic (…m/n/ng/l take a batchim; a final p/t/k/b/d/g after a single short vowel does too:
robot → 로봇). When the sound cannot be told, nothing is changed.

Only a closed list of particle forms is corrected, and only when the form ends at a word boundary (the next
character is not a Hangul syllable), so a noun that merely starts with 가 or 이 is never touched. Where both forms are
grammatical after a vowel (사과이다 / 사과다, 사과이며 / 사과며) a vowel-final noun keeps what the engine wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VOWEL = "vowel"  # no batchim: 사과, 2 (이), GPU (…유)
RIEUL = "rieul"  # batchim ㄹ: 연필, 1 (일), HTML (…엘)
CONSONANT = "consonant"  # any other batchim: 소화전, 3 (삼), 10 (십)

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL_INDEX = 8  # jongseong index of ㄹ


def is_syllable(ch: str) -> bool:
    return len(ch) == 1 and _HANGUL_FIRST <= ord(ch) <= _HANGUL_LAST


def syllable_sound(ch: str) -> str | None:
    """The final sound of one precomposed Hangul syllable, or None for anything else."""
    if not is_syllable(ch):
        return None
    jong = (ord(ch) - _HANGUL_FIRST) % 28
    if jong == 0:
        return VOWEL
    return RIEUL if jong == _RIEUL_INDEX else CONSONANT


# Sino-Korean digit names: 영 일 이 삼 사 오 육 칠 팔 구.
_DIGIT_SOUND = {
    "0": CONSONANT, "1": RIEUL, "2": VOWEL, "3": CONSONANT, "4": VOWEL,
    "5": VOWEL, "6": CONSONANT, "7": RIEUL, "8": RIEUL, "9": VOWEL,
}
# English letter names as Korean reads them: 에이 비 씨 디 이 에프 지 에이치 아이 제이 케이 엘 엠 엔 오 피 큐 알 에스
# 티 유 브이 더블유 엑스 와이 지(제트).
_LETTER_SOUND = {c: VOWEL for c in "abcdefghijkopqstuvwxyz"}
_LETTER_SOUND.update({"l": RIEUL, "r": RIEUL, "m": CONSONANT, "n": CONSONANT})


def number_sound(run: str, decimal: bool = False) -> str:
    """The final sound of a run of ASCII digits read as a Sino-Korean number (10 → 십, 100 → 백, 1000 → 천,
    10000 → 만, 10^8 → 억, 10^12 → 조). After a decimal point digits are read one by one (1.50 → 일 점 오영)."""
    if decimal:
        return _DIGIT_SOUND[run[-1]]
    digits = run.lstrip("0")
    if not digits:
        return CONSONANT  # 영
    if digits[-1] != "0":
        return _DIGIT_SOUND[digits[-1]]
    zeros = len(digits) - len(digits.rstrip("0"))
    if 12 <= zeros % 16 <= 15:
        return VOWEL  # 조
    return CONSONANT  # 십 백 천 만 억 경


_SHORT_VOWEL_STOP = re.compile(r"(?:^|[^aeiou])[aeiou](?:[ptkbdg]|ck)$")


def latin_sound(word: str) -> str | None:
    """Rules for a Latin word without a reading. Acronyms (all capitals, or a single letter) read letter by letter;
    other words by their spelling, which is a heuristic: a reading in the glossary always wins."""
    if not word:
        return None
    if len(word) == 1 or (word.isupper() and len(word) <= 6):
        return _LETTER_SOUND.get(word[-1].lower())
    w = word.lower()
    if w.endswith("ng") or w[-1] in "mn" or (len(w) > 2 and w[-1] == "e" and w[-2] in "mn"):
        return CONSONANT  # king → 킹, phone → 폰, game → 게임
    if w[-1] == "l" or (w.endswith("le") and len(w) > 2 and w[-3] not in "aeiou"):
        return RIEUL  # hotel → 호텔, google → 구글, apple → 애플
    if _SHORT_VOWEL_STOP.search(w):
        return CONSONANT  # cat → 캣, robot → 로봇, laptop → 랩톱
    return VOWEL


_TRAILING_NOISE = re.compile(r"(?:\s*\([^()]*\))+\s*$|[\s\"'”’」』)\]}>.,;:!?]+$")
_LAST_TOKEN = re.compile(r"(?P<hangul>[\uAC00-\uD7A3])$|(?P<num>(?P<dot>\.)?(?P<digits>[0-9]+))$|(?P<latin>[A-Za-z]+)$")


def final_sound(word: str, reading: str | None = None) -> str | None:
    """The final sound of `word` as Korean reads it: VOWEL, RIEUL, CONSONANT, or None when it cannot be told.
    `reading` (Hangul), when given, decides."""
    if reading:
        return final_sound(reading)
    text = word
    while True:  # drop closing punctuation and a trailing parenthetical: 소화전(消火栓) reads as 소화전
        stripped = _TRAILING_NOISE.sub("", text)
        if stripped == text:
            break
        text = stripped
    m = _LAST_TOKEN.search(text)
    if not m:
        return None
    if m.group("hangul"):
        return syllable_sound(m.group("hangul"))
    if m.group("digits"):
        before = text[: m.start("digits")]
        decimal = bool(m.group("dot")) and before[:-1][-1:].isdigit()
        return number_sound(m.group("digits"), decimal=decimal)
    return latin_sound(m.group("latin"))


@dataclass(frozen=True, slots=True)
class Particle:
    """One particle: its form after a batchim and after a vowel. `kind`:

    * ``"plain"``: ㄹ counts as a batchim;
    * ``"ro"``: (으)로 and its compounds, where ㄹ takes the vowel form;
    * ``"optional"``: copula forms where a vowel-final noun may keep 이 (사과이다 and 사과다 are both right);
    * ``"stem"``: a copula stem followed by more of the ending (이었다, 이라고…), matched without a boundary.
    """

    batchim: str
    vowel: str
    kind: str = "plain"

    def form(self, sound: str) -> str:
        if sound == VOWEL or (sound == RIEUL and self.kind == "ro"):
            return self.vowel
        return self.batchim


def _p(pairs: str, kind: str = "plain") -> list[Particle]:
    return [Particle(*pair.split("/"), kind=kind) for pair in pairs.split()]


# The closed list. Compounds are listed whole, so the boundary test after them still holds.
PARTICLES: list[Particle] = [
    *_p("은/는 이/가 을/를 과/와 아/야 이나/나 이랑/랑 이에요/예요 이야/야 이란/란 이든/든 이든지/든지 이나마/나마"),
    *_p("과는/와는 과도/와도 과의/와의 과만/와만 이랑은/랑은 이랑도/랑도 이나마저/나마저 이라야/라야 이여/여"),
    *_p("으로/로 으로는/로는 으로도/로도 으로만/로만 으로서/로서 으로써/로써 으로부터/로부터 으로의/로의", kind="ro"),
    *_p("이다/다 이며/며 이고/고 이지만/지만 이면/면 이자/자 이니까/니까", kind="optional"),
    *_p("이었/였 이라/라", kind="stem"),
]

# Every observed form → the particles it may belong to (야 is both the vocative and the informal copula).
_BY_FORM: dict[str, list[Particle]] = {}
for _particle in PARTICLES:
    for _form in {_particle.batchim, _particle.vowel}:
        _BY_FORM.setdefault(_form, []).append(_particle)
_FORMS_LONGEST_FIRST = sorted(_BY_FORM, key=len, reverse=True)


def _at_boundary(text: str, end: int) -> bool:
    return end >= len(text) or not is_syllable(text[end])


def match_particle(following: str) -> tuple[str, Particle] | None:
    """The particle form that `following` starts with (longest first), and the particle it is read as."""
    for form in _FORMS_LONGEST_FIRST:
        if not following.startswith(form):
            continue
        candidates = _BY_FORM[form]
        stems = [p for p in candidates if p.kind == "stem"]
        if stems:
            # 이었다, 이라고: the stem goes on with the ending, so a syllable must follow.
            if len(following) > len(form) and is_syllable(following[len(form)]):
                return form, stems[0]
            continue
        if not _at_boundary(following, len(form)):
            continue
        if len(candidates) > 1:  # 야: vocative (아/야) before a comma, else the copula (이야/야)
            vocative = following[len(form):len(form) + 1] == ","
            chosen = next(p for p in candidates if (p.batchim == "아") == vocative)
            return form, chosen
        return form, candidates[0]
    return None


def correct_particle(following: str, sound: str | None) -> str:
    """`following` (the text right after a noun) with its leading particle in the form that `sound` takes."""
    if sound is None or not following or not is_syllable(following[0]):
        return following
    found = match_particle(following)
    if found is None:
        return following
    form, particle = found
    if particle.kind == "optional" and sound == VOWEL:
        return following
    right = particle.form(sound)
    if right == form:
        return following
    return right + following[len(form):]


def attach(noun: str, particle: str, reading: str | None = None) -> str:
    """``attach("소화전", "을/를")`` → ``"소화전을"``. The particle is given as ``batchim/vowel``."""
    batchim, _, vowel = particle.partition("/")
    kind = "ro" if batchim.startswith("으로") else "plain"
    sound = final_sound(noun, reading)
    if sound is None:
        raise ValueError(f"cannot tell the final sound of {noun!r}; give a Hangul reading")
    return noun + Particle(batchim, vowel or batchim, kind).form(sound)

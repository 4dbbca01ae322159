"""Anchors per turn: units, Latin names and model numbers, URLs and emoji must match within the turn they came from.

Numbers have their own check (`number_mismatch`); this one catches what keeps the number but changes its meaning
("12 inches" → "12센티미터") and what a turn brings in from elsewhere (a swapped answer carries another turn's names
and links). Units are grouped by dimension; each has its English spellings and its Korean unit words.
"""

from __future__ import annotations

import re
from typing import Any

from translate.qc.base import Check, Target, Turn

# unit: (dimension, English pattern, Korean and symbol pattern found in a translation)
UNITS: dict[str, tuple[str, str, str]] = {
    "inch": ("length", r"inch(?:es)?|in\.|″", r"인치|inch|in\.|″"),
    "foot": ("length", r"f(?:oo|ee)t|ft\.?", r"피트|풋|ft|feet|foot"),
    "yard": ("length", r"yards?|yd", r"야드"),
    "mile": ("length", r"miles?", r"마일"),
    "mm": ("length", r"mm|millimet(?:er|re)s?", r"mm|밀리미터|밀리"),
    "cm": ("length", r"cm|centimet(?:er|re)s?", r"cm|센티미터|센티|㎝"),
    "m": ("length", r"m|met(?:er|re)s?", r"(?<![a-zA-Z])m(?![a-zA-Z])|미터"),
    "km": ("length", r"km|kilomet(?:er|re)s?", r"km|킬로미터|㎞"),
    "g": ("mass", r"g|grams?", r"(?<![a-zA-Z])g(?![a-zA-Z])|그램"),
    "kg": ("mass", r"kg|kilos?|kilograms?", r"kg|킬로그램|킬로|㎏"),
    "lb": ("mass", r"lbs?|pounds?", r"lbs?|파운드"),
    "oz": ("mass", r"oz|ounces?", r"oz|온스"),
    "ml": ("volume", r"ml|millilit(?:er|re)s?", r"ml|mL|밀리리터|㎖"),
    "l": ("volume", r"l|lit(?:er|re)s?", r"(?<![a-zA-Z])[lL](?![a-zA-Z])|리터|ℓ"),
    "gallon": ("volume", r"gallons?|gal", r"갤런"),
    "mph": ("speed", r"mph|miles per hour", r"mph|마일"),
    "kmh": ("speed", r"km/h|kph|kilomet(?:er|re)s per hour", r"km/h|킬로미터|㎞/h"),
    "f": ("temperature", r"°\s?F|degrees? Fahrenheit|Fahrenheit", r"°\s?F|화씨"),
    "c": ("temperature", r"°\s?C|degrees? Celsius|Celsius", r"°\s?C|섭씨|℃"),
}
_SOURCE_UNIT = {u: re.compile(r"(?:\d|\b)\s?(?:%s)(?![A-Za-z])" % en, re.I if u not in ("m", "g", "l") else 0)
                for u, (_, en, _) in UNITS.items()}
# In the source, one-letter units only count right after a number ("5 m", "200g"), never as words.
for _u in ("m", "g", "l"):
    _SOURCE_UNIT[_u] = re.compile(r"\d\s?(?:%s)(?![A-Za-z])" % UNITS[_u][1])
_TARGET_UNIT = {u: re.compile(r"(?:%s)" % ko) for u, (_, _, ko) in UNITS.items()}
_TARGET_NUMBER_UNIT = {u: re.compile(r"\d\s?(?:%s)" % ko) for u, (_, _, ko) in UNITS.items()}
# A source can only name a unit where a number is followed by a letter or a degree sign, or where it spells a unit
# word: tested as a plain regex plus substring tests on the lower-cased text (a case-insensitive alternation cost
# ~15 µs per answer).
_NUMBER_THEN_UNIT = re.compile(r"\d\s?[A-Za-z°″]")
_UNIT_WORDS = ("inch", "feet", "foot", "mile", "pound", "ounce", "gallon", "gram", "meter", "metre", "liter", "litre")
# Any unit after a number in a translation: one search before the per-unit ones.
_ANY_TARGET_NUMBER_UNIT = re.compile(r"\d\s?(?:%s)" % "|".join(ko for _, _, ko in UNITS.values()))

_URL = re.compile(r"\b(?:https?|ftp)://[^\s)\]>\"']+|\bwww\.[^\s)\]>\"']+")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF]")
# The UTF-8 lead bytes of those ranges (U+1F000-U+1FAFF: F0 9F; U+2600-U+27BF: E2 98-9E): searched in the encoded
# output, a byte scan several times cheaper than the character class on Korean text.
_EMOJI_BYTES = re.compile(rb"\xf0\x9f|\xe2[\x98-\x9e]")
# Latin tokens a translation keeps: names with a capital inside or a digit (iPhone, D3200, GPT-4, OpenCV). A token is
# a run of letters, digits and hyphens that starts a word; `marked_latin` keeps those with a letter and a digit or an
# inner capital. (The pattern starts with a character class so the regex engine skips ahead in C; the word start is
# the lookbehind: no word character before the first one.)
_LATIN_TOKEN = re.compile(r"[A-Za-z0-9](?<!\w[A-Za-z0-9])[A-Za-z0-9-]*")
_DIGIT_OR_INNER_CAPITAL = re.compile(r"[0-9]|[a-z][A-Z]")


def marked_latin(text: str) -> list[str]:
    """The Latin tokens of `text` that carry a letter and a digit or an inner capital, in order."""
    found = []
    for m in _LATIN_TOKEN.finditer(text):
        token = m.group()
        # A letter: something is left once digits and hyphens are stripped from both ends.
        if token.strip("0123456789-") and _DIGIT_OR_INNER_CAPITAL.search(token):
            found.append(token)
    return found


def may_name_units(text: str) -> bool:
    if _NUMBER_THEN_UNIT.search(text):
        return True
    lower = text.lower()
    return any(word in lower for word in _UNIT_WORDS)


def units_in_source(text: str) -> set[str]:
    if not may_name_units(text):
        return set()
    return {u for u, rx in _SOURCE_UNIT.items() if rx.search(text)}


def units_in_output(text: str) -> set[str]:
    if not _ANY_TARGET_NUMBER_UNIT.search(text):
        return set()
    return {u for u, rx in _TARGET_NUMBER_UNIT.items() if rx.search(text)}


class AnchorMismatch(Check):
    """A unit changed (inches → cm), or a URL, emoji or marked Latin name that does not match its source turn."""

    name = "anchor_mismatch"
    # `units`, `urls`, `emoji`, `latin`: switch each kind of anchor.
    defaults = {"units": True, "urls": True, "emoji": True, "latin": True}

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.units = bool(options["units"])
        self.urls = bool(options["urls"])
        self.emoji = bool(options["emoji"])
        self.latin = bool(options["latin"]) and target.own_script

    def __call__(self, turn: Turn) -> str | None:
        src, out = turn.source, turn.output
        # Each kind is looked at only where the output has what it would find (a digit, "://", a non-ASCII
        # character, an ASCII letter); the source side is measured once per source text.
        if self.units:
            found = units_in_output(out)  # its first search is for a digit
            if found:
                detail = self._units(turn.source_memo("units_named", lambda: units_in_source(src)), found, out)
                if detail:
                    return detail
        if self.urls and ("://" in src or "www." in src or "://" in out or "www." in out):
            a, b = set(_URL.findall(src)), set(_URL.findall(out))
            if a != b:
                return f"URLs differ: source {sorted(a)}, translation {sorted(b)}"
        if self.emoji and not out.isascii():
            a = turn.source_memo("emoji", lambda: [] if src.isascii() else sorted(_EMOJI.findall(src)))
            b = sorted(_EMOJI.findall(out)) if _EMOJI_BYTES.search(out.encode("utf-8", "surrogatepass")) else []
            if a != b:
                return f"emoji differ: source {''.join(a) or '(none)'}, translation {''.join(b) or '(none)'}"
        measured = turn.measured_script
        if self.latin and (measured is None or measured[2] > 0):  # only where the output has ASCII letters
            strays = marked_latin(out)
            if strays:
                lower = turn.source_memo("lower", src.lower)
                strays = [t for t in strays if t.lower() not in lower and t.lstrip("0123456789").lower() not in lower]
            if strays:
                return f"Latin name(s) not in the source turn: {', '.join(strays[:5])}"
        return None

    @staticmethod
    def _units(wanted: set[str], found: set[str], out: str) -> str | None:
        for unit in sorted(found - wanted):
            dimension = UNITS[unit][0]
            lost = [u for u in wanted if UNITS[u][0] == dimension and not _TARGET_UNIT[u].search(out)]
            if lost:
                return f"unit changed: the source has {', '.join(lost)}, the translation {unit}"
        return None

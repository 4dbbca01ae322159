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
_UNIT_HINT = re.compile(r"\d\s?[A-Za-z°″]|inch|feet|foot|mile|pound|ounce|gallon|gram|met(?:er|re)|lit(?:er|re)",
                        re.I)

_DIGIT = re.compile(r"\d")
_URL = re.compile(r"\b(?:https?|ftp)://[^\s)\]>\"']+|\bwww\.[^\s)\]>\"']+")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF]")
# Latin tokens a translation keeps: names with a capital inside or a digit (iPhone, D3200, GPT-4, OpenCV).
_MARKED_LATIN = re.compile(r"\b(?=[A-Za-z0-9-]*[A-Za-z])(?=[A-Za-z0-9-]*(?:[0-9]|[a-z][A-Z]))[A-Za-z0-9][A-Za-z0-9-]*")


def units_in_source(text: str) -> set[str]:
    if not _UNIT_HINT.search(text):
        return set()
    return {u for u, rx in _SOURCE_UNIT.items() if rx.search(text)}


def units_in_output(text: str) -> set[str]:
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
        if self.units and _DIGIT.search(out) and _UNIT_HINT.search(src):
            detail = self._units(src, out)
            if detail:
                return detail
        if self.urls and ("://" in src or "www." in src or "://" in out or "www." in out):
            a, b = set(_URL.findall(src)), set(_URL.findall(out))
            if a != b:
                return f"URLs differ: source {sorted(a)}, translation {sorted(b)}"
        if self.emoji and not out.isascii():
            a, b = sorted(_EMOJI.findall(src)), sorted(_EMOJI.findall(out))
            if a != b:
                return f"emoji differ: source {''.join(a) or '(none)'}, translation {''.join(b) or '(none)'}"
        measured = turn.measured_script
        if self.latin and (measured is None or measured[2] > 0):  # only where the output has ASCII letters
            lower = src.lower()
            strays = [t for t in _MARKED_LATIN.findall(out)
                      if t.lower() not in lower and t.lstrip("0123456789").lower() not in lower]
            if strays:
                return f"Latin name(s) not in the source turn: {', '.join(strays[:5])}"
        return None

    def _units(self, src: str, out: str) -> str | None:
        wanted = units_in_source(src)
        found = units_in_output(out)
        if not found:
            return None
        for unit in sorted(found - wanted):
            dimension = UNITS[unit][0]
            lost = [u for u in wanted if UNITS[u][0] == dimension and not _TARGET_UNIT[u].search(out)]
            if lost:
                return f"unit changed: the source has {', '.join(lost)}, the translation {unit}"
        return None

"""English left mid-answer: a run of 3 or more English content words inside a non-Latin translation.

`untranslated` catches whole sentences (6+ words); this catches the shorter runs an engine leaves when it gives up on
a phrase ("…소화전은 partially covered by snow 상태입니다"). Not counted: function words, do-not-translate spans and
glossary terms (`allow`, plus whatever the checker is given), LLaVA's ``person`` placeholder, and names: words that
start with a capital, carry a digit or an inner capital, and appear verbatim in the source.
"""

from __future__ import annotations

import re
from typing import Any

from translate.qc.base import Check, Target, Turn

_RUN = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ ,/&]+[A-Za-z][A-Za-z'’-]*){2,}")
_FUNCTION_WORDS = frozenset(
    "a an the of to in on at by for with from and or but as is are was were be been being it its this that these "
    "those there their his her he she they we you i not no so if than then into onto over under up down out off "
    "about very also can could will would should may might must has have had do does did".split())


class EnglishLeft(Check):
    """A run of `min_words` or more English content words left in a non-Latin-script translation."""

    name = "english_left"
    # `min_words`: content words in one run. `allow`: words or phrases never counted (glossary/dnt Latin terms;
    # case-insensitive). `placeholders`: lower-case tokens LLaVA's data uses for people ("person").
    defaults = {"min_words": 3, "allow": [], "placeholders": ["person"]}

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.active = target.own_script  # a Latin-script target shares its script with English
        self.min_words = int(options["min_words"])
        self.allow = {w.lower() for term in options["allow"] for w in str(term).split()}
        self.placeholders = {str(p).lower() for p in options["placeholders"]}

    def allow_terms(self, terms) -> None:
        """Glossary targets and do-not-translate spans that are Latin: never English left in."""
        self.allow.update(w.lower() for term in terms for w in str(term).split())

    def __call__(self, turn: Turn) -> str | None:
        out = turn.output
        if not self.active or out.isascii() and turn.source == out:
            return None
        measured = turn.measured_script
        if measured is not None and measured[2] * measured[1] < 3 * self.min_words:
            return None  # too few ASCII letters for a run
        src = turn.source
        source_words = None
        for run in _RUN.finditer(out):
            words = re.split(r"[ ,/&]+", run.group(0))
            content = [w for w in words if self._counts(w, src)]
            # min_words content words, or a longer run (two more words) with function words in it.
            if len(content) < self.min_words and (len(content) < 2 or len(words) < self.min_words + 2):
                continue
            if source_words is None:
                source_words = set(re.findall(r"[a-z'’-]+", src.lower()))
            # Mostly the source's own words: English left in (another Latin language is wrong_script's finding).
            if sum(w.lower() in source_words for w in content) * 2 >= len(content):
                return f"{len(content)} English words left in: {run.group(0)[:60]!r}"
        return None

    def _counts(self, word: str, src: str) -> bool:
        w = word.lower().strip("'’-")
        if len(w) < 2 or w in _FUNCTION_WORDS or w in self.allow:
            return False
        if w in self.placeholders and w in src.lower():
            return False
        if (word[0].isupper() or any(c.isdigit() for c in word) or any(c.isupper() for c in word[1:])) \
                and word in src:
            return False  # a name or brand kept as in the source
        return True

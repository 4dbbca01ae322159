"""Is the output in the target language? `untranslated` (source text left in) and `wrong_script` (another
language). Both read the target-script share, counted once per turn from UTF-8 bytes; langdetect runs only where the
share is ambiguous."""

from __future__ import annotations

import re
from typing import Any

from translate.errors import ConfigError
from translate.qc import scripts
from translate.qc.base import Check, Target, Turn
from translate.qc.text import WORD, is_name


class Untranslated(Check):
    """The output equals the source, copies most of its words, or leaves a run of source words in."""

    name = "untranslated"
    # Identical to the source with at least `min_words` words, or at least `max_copied` of the source's words
    # (3+ letters, of a source with `min_words` or more) found in the output.
    # In a non-Latin target, a run of `max_latin_run` or more Latin-script words in a row is a sentence left in the
    # source language (brand names and short terms are shorter).
    # `max_name_words`: an output identical to a source that reads as a proper name or title ("H. Jackson Brown",
    # "Nikon D3200", OCR-VQA's author answers) is what a good engine returns, not a failure; 0 switches this off.
    defaults = {"min_words": 3, "max_copied": 0.5, "max_latin_run": 6, "max_name_words": 8}

    @classmethod
    def defaults_for(cls, target: Target) -> dict[str, Any]:
        values = dict(cls.defaults)
        if not target.own_script:
            # Latin-script targets share their script with English, and the cognates they share with English need a
            # higher copy threshold.
            values["max_copied"] = 0.8
        return values

    @classmethod
    def validate(cls, options: dict[str, Any]) -> None:
        if int(options["max_latin_run"]) < 2:
            raise ConfigError("[qc.untranslated] max_latin_run must be at least 2 words")

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.min_words = int(options["min_words"])
        self.max_copied = float(options["max_copied"])
        self.latin_run = int(options["max_latin_run"])
        self.max_name_words = int(options["max_name_words"])
        self.latin_run_re = re.compile(
            r"[A-Za-z][A-Za-z'’-]*(?:[ ,;:]+[A-Za-z][A-Za-z'’-]*){%d,}" % (self.latin_run - 1))
        self.sure_share = 0.6  # set by the checker from wrong_script's settings (one share per turn)

    def kept_name(self, source: str, output: str) -> bool:
        """A name or title returned unchanged: right in any script, and nothing else to judge."""
        return output == source and is_name(source, self.max_name_words)

    def __call__(self, turn: Turn) -> str | None:
        src, out = turn.source, turn.output
        if out == src and len(src.split()) >= self.min_words:
            turn.settled = True
            return "the output is identical to the source"
        _, letters, ascii_share = turn.script(self.sure_share)
        latin = self.target.script.latin
        left = None
        if not latin and ascii_share * letters >= 4 * self.latin_run:
            run = self.latin_run_re.search(out)
            if run and _from_source(run.group(0), src):
                left = f"{len(run.group(0).split())} source words in a row left in: {run.group(0)[:60]!r}"
        if left is None and (latin or ascii_share >= 0.2):
            left = self._copied(src, out)
        return left

    def _copied(self, src: str, out: str) -> str | None:
        words = set(WORD.findall(src.lower()))
        if len(words) < self.min_words:
            return None
        kept = words.intersection(WORD.findall(out.lower()))
        share = len(kept) / len(words)
        if share < self.max_copied:
            return None
        return f"{share:.0%} of the source's words are still in the output (e.g. {', '.join(sorted(kept)[:5])})"


def _from_source(run: str, src: str) -> bool:
    """Whether most words of a Latin run come from the source (not another Latin-script language)."""
    words = WORD.findall(run.lower())
    if not words:
        return False
    source_words = set(WORD.findall(src.lower()))
    return sum(w in source_words for w in words) * 2 >= len(words)


_LATIN_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'’.-]*")


class WrongScript(Check):
    """The target script is too small a share of the letters; langdetect decides where the share is ambiguous."""

    name = "wrong_script"
    # Share of the target script among the letters: below `min_share` fails, at or above `sure_share` passes, in
    # between langdetect decides. Outputs with fewer than `min_letters` letters are not judged.
    defaults = {"min_share": 0.2, "sure_share": 0.6, "min_letters": 4, "langdetect": True}

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.min_share, self.sure_share = float(options["min_share"]), float(options["sure_share"])
        self.min_letters, self.use_langdetect = int(options["min_letters"]), bool(options["langdetect"])

    def __call__(self, turn: Turn) -> str | None:
        share, letters, _ = turn.script(self.sure_share)
        if share is None or letters < self.min_letters:
            return None
        text = turn.output
        if share < self.sure_share and not self.target.script.latin:
            # Names, brands and LLaVA's `person` kept from the source are right in any script: judge the rest.
            text, share, letters = self._without_source_latin(turn, share, letters)
            if share is None or letters < self.min_letters or share >= self.sure_share:
                return None
        return self._judge(text, share)

    def _without_source_latin(self, turn: Turn, share: float, letters: int) -> tuple[str, float | None, int]:
        source_tokens = set(_LATIN_TOKEN.findall(turn.source))
        kept = 0

        def drop(m: re.Match) -> str:
            nonlocal kept
            if m.group(0) in source_tokens:
                kept += 1
                return " "
            return m.group(0)

        text = _LATIN_TOKEN.sub(drop, turn.output)
        if not kept:
            return turn.output, share, letters
        reduced, n, _ = scripts.script_share(text, self.target, self.sure_share)
        return text, reduced, n

    def _judge(self, text: str, share: float) -> str | None:
        script = self.target.script
        if share >= self.sure_share and not script.latin:
            return None
        if share < self.min_share:
            return f"{script.name} is {share:.0%} of the letters (at least {self.min_share:.0%} expected)"
        if not self.use_langdetect:
            return None if share >= self.sure_share else (
                f"{script.name} is {share:.0%} of the letters (at least {self.sure_share:.0%} expected)")
        try:
            found = scripts.langdetect()(text)
        except Exception:  # langdetect raises on text without features; then the share alone decides
            return None if share >= self.sure_share else (
                f"{script.name} is {share:.0%} of the letters and the language cannot be detected")
        best = found[0] if found else None
        family = self.target.family
        if best is not None and best.lang.split("-")[0] == family:
            return None
        if best is None:
            return None
        return (f"{script.name} is {share:.0%} of the letters and langdetect reads "
                f"{best.lang!r} ({best.prob:.2f}), not {family!r}")

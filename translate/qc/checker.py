"""`QualityChecker`: runs the enabled checks of the registry on each turn.

`check_turn(source, output, role, field)` returns the reasons a turn fails (empty when it passes); `inspect` returns
the same reasons with the measurements behind them (lengths, ratio, target-script share), which the pipeline writes to
the per-turn QC log. A record with any reason gets a verdict of "rejected"; the policy (`--on-reject`) decides where
it goes. The checks, their codes and thresholds: `translate.qc.registry` and docs/quality.md.
"""

from __future__ import annotations

from typing import Any, Iterable

from translate.protect import IMAGE_TOKEN, image_layout
from translate.qc.base import Target, Turn
from translate.qc.cache import TextCache
from translate.qc.english_left import EnglishLeft
from translate.qc.form import EmptyOutput
from translate.qc.language import Untranslated, WrongScript
from translate.qc.registry import BY_NAME, RECORD_CHECKS, TURN_CHECKS
from translate.qc.speech_level import SpeechLevel, turn_levels
from translate.qc.settings import parse_settings
from translate.qc.text import strip_image
from translate.qc.verdict import TurnCheck
from translate.reasons import Reason


class QualityChecker:
    """Runs the enabled checks on one turn. `settings` is the config's ``[qc]`` table: ``{"empty_output": False,
    "length_ratio": {"gpt": [0.3, 1.2]}, ...}``; unknown names raise `ConfigError`. `keep_terms`: Latin terms that
    are right in a translation (glossary targets, do-not-translate spans), never counted as English left in.
    `text_cache`: how many source texts to keep measurements of (sentence units, negation, units), since sources
    recur; 0 keeps nothing (what bench/qc_throughput.py's cold figures measure). Results never depend on it."""

    def __init__(self, target_lang: str, settings: dict[str, Any] | None = None, keep_terms: Iterable[str] = (),
                 text_cache: int = 4096):
        self.target_lang = target_lang
        self.settings = dict(settings or {})
        parsed = parse_settings(target_lang, self.settings)
        self.target = target = Target.of(target_lang)
        built = {name: cls(target, parsed.values[name]) for name, cls in BY_NAME.items()}
        self._enabled = parsed.enabled
        self._empty_on = parsed.enabled[EmptyOutput.name]
        # The untranslated check's name rule applies even with the check off (a kept name is simply right).
        self._names: Untranslated = built[Untranslated.name]
        wrong_script: WrongScript = built[WrongScript.name]
        self._names.sure_share = wrong_script.sure_share
        self._sure_share = wrong_script.sure_share
        self._share_on = parsed.enabled[WrongScript.name]
        built[EnglishLeft.name].allow_terms(keep_terms)
        turn_names = [c.name for c in TURN_CHECKS]
        # The loop: every enabled check but empty_output, which is settled before it; (check, warn only).
        self._checks = [(built[name], parsed.severity[name] == "warn") for name in turn_names
                        if parsed.enabled[name] and name != EmptyOutput.name]
        self._levels_on = parsed.enabled[SpeechLevel.name] and target.family == "ko"
        # Where the speech levels are measured in the loop: they go to the QC log only when that check ran.
        self._levels_at = next((i for i, (c, _) in enumerate(self._checks) if c.name == SpeechLevel.name), -1)
        # Measurements of a text alone, kept by text: sources recur (LLaVA's prompt templates, repeated questions),
        # and the record checks read again the outputs of the turns just checked.
        self._sources = TextCache(text_cache)
        self._outputs = TextCache(min(text_cache, 64))
        self._record_checks = [(built[c.name], parsed.severity[c.name] == "warn") for c in RECORD_CHECKS
                               if parsed.enabled[c.name]]

    def check_turn(self, source: str, output: str, role: str, field: str) -> list[Reason]:
        return self.inspect(source, output, role, field).reasons

    def inspect(self, source: str, output: str, role: str, field: str) -> TurnCheck:
        reasons: list[Reason] = []
        # The <image> check cannot be switched off: a lost token silently turns an image record into a text one.
        if IMAGE_TOKEN in source or IMAGE_TOKEN in output:
            if image_layout(source) != image_layout(output):
                reasons.append(Reason("image_token", field,
                                      f"<image> layout {image_layout(source)} became {image_layout(output)}"))
        src = strip_image(source)
        out = strip_image(output)
        n_src, n_out = len(src), len(out)
        result = TurnCheck(reasons, n_src, n_out, round(n_out / n_src, 4) if n_src else None)
        if not src:
            return result
        if not out:
            if self._empty_on:
                reasons.append(Reason(EmptyOutput.name, field, EmptyOutput.DETAIL))
            return result
        if self._names.kept_name(src, out):
            return result
        turn = self._turn(src, out, role)
        ran = len(self._checks)
        for index, (check, warn) in enumerate(self._checks):
            detail = check(turn)
            if detail is not None:
                (result.warnings if warn else reasons).append(Reason(check.name, field, detail))
                if turn.settled:
                    ran = index + 1
                    break
        measured = turn.measured_script
        if measured is None and self._share_on:
            measured = turn.script(self._sure_share)
        result.script_share = measured[0] if measured is not None else None
        if self._levels_on and self._levels_at < ran:
            found = turn_levels(turn)  # measured by the speech_level check, which ran
            if found:
                result.levels = dict(found)
        return result

    def _turn(self, source: str, output: str, role: str) -> Turn:
        return Turn(source, output, role, self.target, self._sources.facts(source), self._outputs.facts(output))

    def inspect_record(self, sources: list[str], outputs: list[str], roles: list[str], fields: list[str],
                       warnings: list[Reason] | None = None) -> list[Reason]:
        """Record-level findings over the translated turns of one record (answers swapped between turns, one answer in
        another speech level): reasons whose `field` is the turn concerned; empty when no record check is on or
        nothing is found. Findings of checks set to severity "warn" go to `warnings` (when given), never to the
        result."""
        if not self._record_checks:
            return []
        turns = [self._turn(strip_image(s), strip_image(o), r) for s, o, r in zip(sources, outputs, roles)]
        reasons: list[Reason] = []
        for check, warn in self._record_checks:
            for index, detail in check(turns):
                finding = Reason(check.name, fields[index], detail)
                if not warn:
                    reasons.append(finding)
                elif warnings is not None:
                    warnings.append(finding)
        return reasons

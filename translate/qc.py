"""Quality checks on each translated turn, giving reason codes.

`QualityChecker.check_turn(source, output, role, field)` returns the reasons a turn fails (empty when it passes);
`inspect` returns the same reasons with the measurements behind them (lengths, ratio, target-script share), which
the pipeline writes to the per-turn QC log. A record with any reason gets a verdict of "rejected"; the policy
(`--on-reject`) decides where it goes.

Checks and their reason codes (each one is a key of the config's ``[qc]`` table; ``true``/``false`` switches it, a
table sets its thresholds, see `DEFAULTS` and docs/quality.md):

==================  =====================================================================================
``image_token``     the count or position of ``<image>`` changed. Cannot be switched off.
``empty_output``    the translation is empty (or only ``<image>``) where the source is not.
``untranslated``    the output equals the source, or copies most of its words.
``wrong_script``    the target language's script is too small a share of the letters (langdetect, seeded,
                    decides only where the share is ambiguous).
``length_ratio``    output/source length in characters is outside the bounds for the turn's role.
``repetition``      a stretch of the output repeats over and over (the decoding loops of NLLB and friends).
``number_mismatch`` a number in the source is missing from the output.
``truncated``       the source ends a sentence, the output stops mid-sentence.
==================  =====================================================================================

``span_lost`` (a protected span or placeholder did not come back) is raised by the pipeline's assembler, before
these checks run.

Speed matters (the checks run on every turn of a 600K-record file), so the hot path works on the UTF-8 bytes with
``bytes.translate``/``bytes.count``, which run in C: the target-script share is counted from UTF-8 lead bytes, not
with a per-character loop or a Unicode regex. Anything slower (word sets, langdetect) runs only when a cheap test
says it might matter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from translate.errors import ConfigError
from translate.formats.writers import dumps
from translate.protect import IMAGE_TOKEN, image_layout


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    field: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "detail": self.detail}


@dataclass(slots=True)
class TurnCheck:
    """The reasons for one turn plus what was measured: the row behind the QC log."""

    reasons: list[Reason]
    source_chars: int = 0
    output_chars: int = 0
    ratio: float | None = None
    script_share: float | None = None

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


# Reasons that mean the candidate is broken. `--on-reject keep` still never writes such a candidate:
# a lost <image> silently turns an image record into a text one, a lost span corrupts code or coordinates.
# backend_failed: the candidate holds the untranslated source for that turn.
HARD_REASONS = frozenset({"image_token", "span_lost", "backend_failed"})

CHECKS = ("empty_output", "untranslated", "wrong_script", "length_ratio", "repetition", "number_mismatch",
          "truncated")

# Length-ratio bounds (output chars / source chars) per role, by target family. The Korean bounds are calibrated
# on the hand-translated parallel fixture (tests/fixtures/parallel_ko): over 44 turns whose source has at least
# 20 characters the ratio runs 0.32-0.68 (median 0.47; long answers 0.43-0.48), so [0.2, 1.4]/[0.2, 1.6] leave
# room for terse or wordy but sound translations and still catch loops (ratio > 2) and heavy truncation.
# docs/quality.md shows how to recalibrate from a run's QC log with `translate report`.
_RATIO_KO = {"human": [0.2, 1.6], "gpt": [0.2, 1.4], "bench": [0.2, 1.6], "default": [0.2, 1.6]}
_RATIO_CJK = {"human": [0.12, 1.4], "gpt": [0.12, 1.2], "bench": [0.12, 1.4], "default": [0.12, 1.4]}
_RATIO_OTHER = {"human": [0.4, 2.6], "gpt": [0.4, 2.4], "bench": [0.4, 2.6], "default": [0.4, 2.6]}

DEFAULTS: dict[str, dict[str, Any]] = {
    "empty_output": {},
    # Identical to the source with at least `min_words` words, or at least `max_copied` of the source's words
    # (3+ letters, of a source with `min_words` or more) found in the output.
    # In a non-Latin target, a run of `max_latin_run` or more Latin-script words in a row is a sentence left in the
    # source language (brand names and short terms are shorter).
    # `max_name_words`: an output identical to a source that reads as a proper name or title ("H. Jackson Brown",
    # "Nikon D3200", OCR-VQA's author answers) is what a good engine returns, not a failure; 0 switches this off.
    "untranslated": {"min_words": 3, "max_copied": 0.5, "max_latin_run": 6, "max_name_words": 8},
    # Share of the target script among the letters: below `min_share` fails, at or above `sure_share` passes, in
    # between langdetect decides. Outputs with fewer than `min_letters` letters are not judged.
    "wrong_script": {"min_share": 0.2, "sure_share": 0.6, "min_letters": 4, "langdetect": True},
    "length_ratio": {"min_source_chars": 20},  # plus per-role [low, high] bounds, by target (see above)
    # A window of the output that occurs at least `min_repeats` times and, with its period, covers at least
    # `min_coverage` of the output, where the source shows no such loop.
    "repetition": {"min_chars": 24, "min_repeats": 4, "min_coverage": 0.3},
    "number_mismatch": {},
    # Only judged where the source has at least `min_source_chars` characters and ends a sentence.
    "truncated": {"min_source_chars": 20},
}


@dataclass(frozen=True)
class ScriptSpec:
    """A target script, as UTF-8 byte prefixes: one-byte prefixes are lead bytes, two-byte ones narrow a block."""

    name: str
    prefixes: tuple[bytes, ...]
    latin: bool = False


_LATIN = ScriptSpec("Latin", (), latin=True)
_SCRIPTS: dict[str, ScriptSpec] = {
    "ko": ScriptSpec("Hangul", (b"\xea", b"\xeb", b"\xec", b"\xed")),  # U+A000-U+DFFF: Hangul syllables
    # Kana and Han (U+3000-U+9FFF, CJK punctuation U+3000-U+303F is subtracted).
    "ja": ScriptSpec("Japanese (kana/kanji)", (b"\xe3", b"\xe4", b"\xe5", b"\xe6", b"\xe7", b"\xe8", b"\xe9")),
    "zh": ScriptSpec("Han", (b"\xe3", b"\xe4", b"\xe5", b"\xe6", b"\xe7", b"\xe8", b"\xe9")),
    "ru": ScriptSpec("Cyrillic", (b"\xd0", b"\xd1", b"\xd2", b"\xd3")),
    "el": ScriptSpec("Greek", (b"\xce", b"\xcf")),
    "ar": ScriptSpec("Arabic", (b"\xd8", b"\xd9", b"\xda", b"\xdb")),
    "he": ScriptSpec("Hebrew", (b"\xd7", b"\xd6")),
    "hi": ScriptSpec("Devanagari", (b"\xe0\xa4", b"\xe0\xa5")),
    "bn": ScriptSpec("Bengali", (b"\xe0\xa6", b"\xe0\xa7")),
    "ta": ScriptSpec("Tamil", (b"\xe0\xae", b"\xe0\xaf")),
    "te": ScriptSpec("Telugu", (b"\xe0\xb0", b"\xe0\xb1")),
    "th": ScriptSpec("Thai", (b"\xe0\xb8", b"\xe0\xb9")),
    "lo": ScriptSpec("Lao", (b"\xe0\xba", b"\xe0\xbb")),
    "km": ScriptSpec("Khmer", (b"\xe1\x9e", b"\xe1\x9f")),
    "my": ScriptSpec("Myanmar", (b"\xe1\x80", b"\xe1\x81")),
    "ka": ScriptSpec("Georgian", (b"\xe1\x82", b"\xe1\x83")),
}
for _code in ("uk", "bg", "be", "kk", "mn", "sr", "mk", "ky", "tg"):
    _SCRIPTS[_code] = _SCRIPTS["ru"]
for _code in ("fa", "ur", "ps"):
    _SCRIPTS[_code] = _SCRIPTS["ar"]
for _code in ("mr", "ne"):
    _SCRIPTS[_code] = _SCRIPTS["hi"]
_SCRIPTS["yi"] = _SCRIPTS["he"]

# Byte tables for bytes.translate(None, delete): what remains is what we count.
_ALL = bytes(range(256))
_KEEP_ASCII_ALPHA = bytes(b for b in range(256) if not (65 <= b <= 90 or 97 <= b <= 122))
_KEEP_LEADS = bytes(range(0xC0))  # one lead byte per non-ASCII character
# Non-ASCII characters that are not letters: U+0080-U+00BF (C2), U+2000-U+2FFF punctuation and symbols (E2),
# U+F000-U+FFFF private use, fullwidth and specials (EF), everything above U+FFFF (F0-F4: emoji and the like).
_KEEP_SYMBOL_LEADS = bytes(b for b in range(256) if b not in (0xC2, 0xE2, 0xEF, 0xF0, 0xF1, 0xF2, 0xF3, 0xF4))
_CJK_PUNCT = b"\xe3\x80"  # U+3000-U+303F
_KANA = (b"\xe3\x81", b"\xe3\x82", b"\xe3\x83")  # U+3040-U+30FF
# Latin letters beyond ASCII: U+00C0-U+027F (C3-C9) and U+1E00-U+1EFF (Vietnamese and friends).
_KEEP_LATIN_EXTRA = bytes(b for b in range(256) if not (0xC3 <= b <= 0xC9))
_LATIN_EXTENDED_ADDITIONAL = (b"\xe1\xb8", b"\xe1\xb9", b"\xe1\xba", b"\xe1\xbb")

_SPANS_IN_TEXT = re.compile(r"```.*?```|`[^`\n]+`|\b(?:https?|ftp)://\S+|\bwww\.\S+", re.S)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[a-z][a-z'’-]{2,}")
_SENTENCE_END = frozenset(".!?")
_CLOSERS = "\"'”’)]}»」』"
_TERMINALS = frozenset(".!?。！？…:;~" + _CLOSERS)
# Korean sentence-final syllables: a translation that drops the final period still ends a sentence.
_KO_FINALS = frozenset("다요까죠니네음함임오")

_LANGDETECT = None


def _langdetect():
    """langdetect, loaded on first use and seeded so its answers are reproducible."""
    global _LANGDETECT
    if _LANGDETECT is None:
        from langdetect import DetectorFactory, detect_langs

        DetectorFactory.seed = 0
        _LANGDETECT = detect_langs
    return _LANGDETECT


def _strip_image(text: str) -> str:
    if IMAGE_TOKEN in text:
        text = text.replace(IMAGE_TOKEN, "")
    return text.strip()


def _numbers(text: str) -> list[str]:
    out = []
    for n in _NUMBER.findall(text):
        if "," in n:
            if _THOUSANDS.match(n):
                n = n.replace(",", "")
            else:
                out.extend(n.split(","))
                continue
        out.append(n)
    return out


@dataclass
class _Settings:
    enabled: dict[str, bool] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


def parse_settings(target_lang: str, settings: dict[str, Any] | None) -> _Settings:
    """Defaults for `target_lang` overlaid with the ``[qc]`` table. Unknown checks or thresholds are errors."""
    family = target_lang.split("-")[0].lower()
    ratio = _RATIO_KO if family == "ko" else _RATIO_CJK if family in ("ja", "zh") else _RATIO_OTHER
    values = {name: dict(defaults) for name, defaults in DEFAULTS.items()}
    values["length_ratio"].update({role: list(bounds) for role, bounds in ratio.items()})
    if family not in _SCRIPTS:
        # Latin-script targets share their script with English, so only langdetect can tell them apart, and the
        # cognates they share with English need a higher copy threshold.
        values["untranslated"]["max_copied"] = 0.8
    enabled = {name: True for name in CHECKS}
    for key, value in (settings or {}).items():
        name = key.replace("-", "_")
        if name == "image_token":
            if value is False or (isinstance(value, dict) and value.get("enabled") is False):
                raise ConfigError("[qc] image_token cannot be switched off: a lost <image> is silent data loss")
            continue
        if name not in CHECKS:
            raise ConfigError(f"[qc] unknown check {key!r}; known: {', '.join(CHECKS)}")
        if isinstance(value, bool):
            enabled[name] = value
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"[qc] {key} must be true, false or a table of thresholds, not {value!r}")
        for option, setting in value.items():
            option = option.replace("-", "_")
            if option == "enabled":
                enabled[name] = bool(setting)
                continue
            if name == "length_ratio" and option not in values[name]:
                values[name][option] = setting  # a role of its own
            elif option not in values[name]:
                known = ", ".join(["enabled", *values[name]])
                raise ConfigError(f"[qc.{key}] unknown threshold {option!r}; known: {known}")
            else:
                values[name][option] = setting
        if name == "length_ratio":
            for role, bounds in values[name].items():
                if role == "min_source_chars":
                    continue
                if (not isinstance(bounds, (list, tuple)) or len(bounds) != 2
                        or not all(isinstance(b, (int, float)) for b in bounds) or bounds[0] >= bounds[1]):
                    raise ConfigError(f"[qc.length_ratio] {role} must be [low, high] with low < high, not {bounds!r}")
    return _Settings(enabled, values)


class QualityChecker:
    """Runs the enabled checks on one turn. `settings` is the config's ``[qc]`` table: ``{"empty_output": False,
    "length_ratio": {"gpt": [0.3, 1.2]}, ...}``; unknown names raise `ConfigError`."""

    def __init__(self, target_lang: str, settings: dict[str, Any] | None = None):
        self.target_lang = target_lang
        self.settings = dict(settings or {})
        parsed = parse_settings(target_lang, self.settings)
        self._enabled = parsed.enabled
        self._values = parsed.values
        family = target_lang.split("-")[0].lower()
        self._family = family
        self._script = _SCRIPTS.get(family, _LATIN)
        self._ko = family == "ko"
        v = parsed.values
        self._min_words = int(v["untranslated"]["min_words"])
        self._max_copied = float(v["untranslated"]["max_copied"])
        self._latin_run = int(v["untranslated"]["max_latin_run"])
        self._max_name_words = int(v["untranslated"]["max_name_words"])
        if self._latin_run < 2:
            raise ConfigError("[qc.untranslated] max_latin_run must be at least 2 words")
        self._latin_run_re = re.compile(
            r"[A-Za-z][A-Za-z'’-]*(?:[ ,;:]+[A-Za-z][A-Za-z'’-]*){%d,}" % (self._latin_run - 1))
        ws = v["wrong_script"]
        self._min_share, self._sure_share = float(ws["min_share"]), float(ws["sure_share"])
        self._min_letters, self._use_langdetect = int(ws["min_letters"]), bool(ws["langdetect"])
        lr = v["length_ratio"]
        self._ratio_min_chars = int(lr["min_source_chars"])
        self._bounds = {role: (float(b[0]), float(b[1])) for role, b in lr.items() if role != "min_source_chars"}
        rp = v["repetition"]
        self._rep_min_chars, self._rep_min_repeats = int(rp["min_chars"]), int(rp["min_repeats"])
        self._rep_coverage = float(rp["min_coverage"])
        self._trunc_min_chars = int(v["truncated"]["min_source_chars"])
        self._on = {name: self._enabled[name] for name in CHECKS}

    def enabled(self, name: str) -> bool:
        return name == "image_token" or self._enabled.get(name, True)

    def check_turn(self, source: str, output: str, role: str, field: str) -> list[Reason]:
        return self.inspect(source, output, role, field).reasons

    # -- the checks ---------------------------------------------------------------------------------------------

    def inspect(self, source: str, output: str, role: str, field: str) -> TurnCheck:
        reasons: list[Reason] = []
        on = self._on
        # The <image> check cannot be switched off: a lost token silently turns an image record into a text one.
        if IMAGE_TOKEN in source or IMAGE_TOKEN in output:
            if image_layout(source) != image_layout(output):
                reasons.append(Reason("image_token", field,
                                      f"<image> layout {image_layout(source)} became {image_layout(output)}"))
        src = _strip_image(source)
        out = _strip_image(output)
        n_src, n_out = len(src), len(out)
        result = TurnCheck(reasons, n_src, n_out, round(n_out / n_src, 4) if n_src else None)
        if not src:
            return result
        if not out:
            if on["empty_output"]:
                reasons.append(Reason("empty_output", field, "the translation is empty"))
            return result
        if out == src and self._is_name(src):
            return result  # a name or title kept as it is: right in any script, and nothing else to judge
        if on["untranslated"] and out == src and len(src.split()) >= self._min_words:
            reasons.append(Reason("untranslated", field, "the output is identical to the source"))
            result.script_share = self._script_share(out)[0] if on["wrong_script"] else None
            return result

        if on["wrong_script"] or on["untranslated"]:
            share, letters, ascii_share = self._script_share(out)
            result.script_share = share
            if on["untranslated"]:
                left = None
                if not self._script.latin and ascii_share * letters >= 4 * self._latin_run:
                    run = self._latin_run_re.search(out)
                    if run and self._from_source(run.group(0), src):
                        left = f"{len(run.group(0).split())} source words in a row left in: {run.group(0)[:60]!r}"
                if left is None and (self._script.latin or ascii_share >= 0.2):
                    left = self._copied(src, out)
                if left is not None:
                    reasons.append(Reason("untranslated", field, left))
            if on["wrong_script"] and share is not None and letters >= self._min_letters:
                detail = self._judge_script(out, share)
                if detail:
                    reasons.append(Reason("wrong_script", field, detail))

        if on["length_ratio"] and n_src >= self._ratio_min_chars:
            low, high = self._bounds.get(role) or self._bounds["default"]
            ratio = n_out / n_src
            if not low <= ratio <= high:
                reasons.append(Reason("length_ratio", field,
                                      f"{role} output/source length {ratio:.2f} ({n_out}/{n_src} chars) is outside "
                                      f"[{low}, {high}]"))

        if on["repetition"] and n_out >= self._rep_min_chars:
            loop = self._loop(out)
            if loop and not self._loop(src):
                reasons.append(Reason("repetition", field, loop))

        if on["number_mismatch"] and _DIGIT.search(src):
            missing = self._missing_numbers(src, out)
            if missing:
                reasons.append(Reason("number_mismatch", field, missing))

        if on["truncated"] and n_src >= self._trunc_min_chars:
            detail = self._truncated(src, out)
            if detail:
                reasons.append(Reason("truncated", field, detail))
        return result

    def _script_share(self, text: str) -> tuple[float | None, int, float]:
        """(share of the target script among letters, letter count, ASCII-letter share), from UTF-8 bytes."""
        if "`" in text or "://" in text or "www." in text:
            text = _SPANS_IN_TEXT.sub(" ", text)  # code and URLs are Latin whatever the target
        b = text.encode("utf-8", "surrogatepass")
        ascii_letters = len(b.translate(None, _KEEP_ASCII_ALPHA))
        if text.isascii():
            letters = ascii_letters
            target = ascii_letters if self._script.latin else 0
        else:
            symbols = len(b.translate(None, _KEEP_SYMBOL_LEADS)) + b.count(_CJK_PUNCT)
            letters = ascii_letters + len(b.translate(None, _KEEP_LEADS)) - symbols
            if self._script.latin:
                target = (ascii_letters + len(b.translate(None, _KEEP_LATIN_EXTRA))
                          + sum(b.count(p) for p in _LATIN_EXTENDED_ADDITIONAL))
            else:
                target = sum(b.count(p) for p in self._script.prefixes)
                if self._family in ("ja", "zh"):
                    target -= b.count(_CJK_PUNCT)
                    kana = sum(b.count(p) for p in _KANA)
                    if self._family == "ja" and target >= 8 and kana == 0:
                        target = min(target, int(letters * self._sure_share) - 1)  # Han alone: maybe Chinese
                    elif self._family == "zh" and kana * 5 > target:
                        target -= kana  # kana: Japanese
        if letters <= 0:
            return None, 0, 0.0
        return round(target / letters, 4), letters, ascii_letters / letters

    def _judge_script(self, text: str, share: float) -> str | None:
        if share >= self._sure_share and not self._script.latin:
            return None
        if share < self._min_share:
            return f"{self._script.name} is {share:.0%} of the letters (at least {self._min_share:.0%} expected)"
        if not self._use_langdetect:
            return None if share >= self._sure_share else (
                f"{self._script.name} is {share:.0%} of the letters (at least {self._sure_share:.0%} expected)")
        try:
            found = _langdetect()(text)
        except Exception:  # langdetect raises on text without features; then the share alone decides
            return None if share >= self._sure_share else (
                f"{self._script.name} is {share:.0%} of the letters and the language cannot be detected")
        best = found[0] if found else None
        if best is not None and best.lang.split("-")[0] == self._family:
            return None
        if best is None:
            return None
        return (f"{self._script.name} is {share:.0%} of the letters and langdetect reads "
                f"{best.lang!r} ({best.prob:.2f}), not {self._family!r}")

    def _is_name(self, text: str) -> bool:
        """A short phrase whose words all start with a capital or a digit (lower-case connectors such as "of" or
        "van" allowed inside): a person, a product, a book title."""
        words = text.split()
        if not words or len(words) > self._max_name_words or not _NAME_START.match(words[0]):
            return False
        return all(_NAME_START.match(w) or w.lower() in _NAME_CONNECTORS for w in words[1:])

    def _copied(self, src: str, out: str) -> str | None:
        words = set(_WORD.findall(src.lower()))
        if len(words) < self._min_words:
            return None
        kept = words.intersection(_WORD.findall(out.lower()))
        share = len(kept) / len(words)
        if share < self._max_copied:
            return None
        return f"{share:.0%} of the source's words are still in the output (e.g. {', '.join(sorted(kept)[:5])})"

    @staticmethod
    def _from_source(run: str, src: str) -> bool:
        """Whether most words of a Latin run come from the source (not another Latin-script language)."""
        words = _WORD.findall(run.lower())
        if not words:
            return False
        source_words = set(_WORD.findall(src.lower()))
        return sum(w in source_words for w in words) * 2 >= len(words)

    def _loop(self, text: str) -> str | None:
        """A window that recurs `min_repeats` times and, with its period, covers `min_coverage` of the text."""
        n = len(text)
        if n < self._rep_min_chars:
            return None
        width = min(16, max(4, n // 10))
        for pos in (n - width - 1, (3 * n) // 4, n // 2, n // 4):
            window = text[pos: pos + width]
            if len(window) < width or not window.strip():
                continue
            count = text.count(window)
            if count < self._rep_min_repeats:
                continue
            first = text.find(window)
            period = text.find(window, first + 1) - first
            covered = count * max(period, width)
            if covered >= self._rep_coverage * n:
                return f"{window!r} repeats {count} times ({min(covered, n) / n:.0%} of the output)"
        return None

    def _missing_numbers(self, src: str, out: str) -> str | None:
        wanted = _numbers(src)
        if not wanted:
            return None
        found = set(_numbers(out)) if _DIGIT.search(out) else set()
        missing = [n for n in dict.fromkeys(wanted) if n not in found]
        if not missing:
            return None
        extra = sorted(found.difference(wanted))
        return f"number(s) {', '.join(missing)} from the source are missing" + (
            f" (the output has {', '.join(extra)})" if extra else "")

    def _truncated(self, src: str, out: str) -> str | None:
        s = src.rstrip(_CLOSERS + " ")
        if not s or s[-1] not in _SENTENCE_END:
            return None
        last = out[-1]
        if last in _TERMINALS:
            return None
        if self._ko and last in _KO_FINALS:
            return None
        return f"the output stops mid-sentence ({out[-20:]!r}) where the source ends a sentence"


# -- the QC log: one JSON line per checked turn, beside the outputs, read by `translate report` -------------------

_NAME_START = re.compile(r"[\"'(]?[A-Z0-9]")
_NAME_CONNECTORS = {"of", "the", "and", "a", "an", "in", "on", "for", "to", "with", "de", "da", "del", "van", "von",
                    "la", "le", "du", "&", "-", "vs.", "at", "by"}

QC_LOG_SUFFIX = ".qc.jsonl"
# Record verdicts in the log: written as translated, rejected (not written), or written despite reasons under
# --on-reject keep-source (the source record) or keep (the candidate).
VERDICTS = ("kept", "rejected", "kept-source", "kept-flagged")


def qc_row(file: str, index: int, rid: Any, role: str | None, field: str, check: TurnCheck,
           verdict: str) -> dict[str, Any]:
    return {
        "file": file, "index": index, "id": None if rid is None else str(rid), "role": role, "field": field,
        "src_chars": check.source_chars, "out_chars": check.output_chars, "ratio": check.ratio,
        "script": check.script_share, "reasons": check.codes, "verdict": verdict,
    }


def write_qc_rows(log: Any, file: str | Any, index: int, rid: Any,
                  turns: list[tuple[str | None, str, TurnCheck]], verdict: str) -> None:
    """Write one row per checked turn (or one record-level row when `turns` is a single (None, field, check)).
    `log` is a JsonLinesWriter or None (no log wanted)."""
    if log is None:
        return
    # One row per turn of every record: formatted directly rather than through json.dumps (3x faster); the line is
    # the same JSON that `qc_row` describes, and the strings that need escaping still go through the JSON encoder.
    head = f'{{"file": {dumps(str(file))}, "index": {index:d}, "id": {dumps(None if rid is None else str(rid))}, '
    tail = f', "verdict": {_json_text(verdict)}}}\n'
    log.write_text("".join(
        f'{head}"role": {_json_text(role)}, "field": {_json_text(field)}, "src_chars": {check.source_chars:d}, '
        f'"out_chars": {check.output_chars:d}, "ratio": {_json_number(check.ratio)}, '
        f'"script": {_json_number(check.script_share)}, "reasons": [{", ".join(_json_text(c) for c in check.codes)}]'
        f'{tail}'
        for role, field, check in turns))


_TEXT_CACHE: dict[str | None, str] = {None: "null"}


def _json_text(value: str | None) -> str:
    """JSON for a short string (role, field, code, verdict repeat endlessly, so they are encoded once)."""
    cached = _TEXT_CACHE.get(value)
    if cached is None:
        cached = dumps(value)
        if len(_TEXT_CACHE) < 1024:
            _TEXT_CACHE[value] = cached
    return cached


def _json_number(value: float | None) -> str:
    return "null" if value is None else repr(float(value))


def record_check(codes: list[str], field: str = "") -> TurnCheck:
    """A record-level entry for the QC log (an invalid or unmatched record): reasons without measurements."""
    return TurnCheck([Reason(code, field, "") for code in codes])

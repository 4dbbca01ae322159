"""Target scripts and the target-script share of a text, counted from UTF-8 bytes.

Speed matters (the checks run on every turn of a 600K-record file), so the share is counted with
``bytes.translate``/``bytes.count``, which run in C, from UTF-8 lead bytes: no per-character loop, no Unicode regex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass



@dataclass(frozen=True)
class ScriptSpec:
    """A target script, as UTF-8 byte prefixes: one-byte prefixes are lead bytes, two-byte ones narrow a block."""

    name: str
    prefixes: tuple[bytes, ...]
    latin: bool = False


LATIN = ScriptSpec("Latin", (), latin=True)
SCRIPTS: dict[str, ScriptSpec] = {
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
    SCRIPTS[_code] = SCRIPTS["ru"]
for _code in ("fa", "ur", "ps"):
    SCRIPTS[_code] = SCRIPTS["ar"]
for _code in ("mr", "ne"):
    SCRIPTS[_code] = SCRIPTS["hi"]
SCRIPTS["yi"] = SCRIPTS["he"]

# Byte tables for bytes.translate(None, delete): what remains is what we count.
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

SPANS_IN_TEXT = re.compile(r"```.*?```|`[^`\n]+`|\b(?:https?|ftp)://\S+|\bwww\.\S+", re.S)


@dataclass(frozen=True)
class Target:
    """The target language as the checks need it: its family ("ko" for "ko-KR") and its script."""

    lang: str
    family: str
    script: ScriptSpec

    @classmethod
    def of(cls, lang: str) -> "Target":
        family = lang.split("-")[0].lower()
        return cls(lang, family, SCRIPTS.get(family, LATIN))

    @property
    def own_script(self) -> bool:
        """Whether the target has a script of its own (not Latin, which it would share with English)."""
        return self.family in SCRIPTS


def script_share(text: str, target: Target, sure_share: float) -> tuple[float | None, int, float]:
    """(share of the target script among letters, letter count, ASCII-letter share), from UTF-8 bytes.
    `sure_share` caps the share of Han-only text for Japanese (it may be Chinese: langdetect decides)."""
    script = target.script
    family = target.family
    if "`" in text or "://" in text or "www." in text:
        text = SPANS_IN_TEXT.sub(" ", text)  # code and URLs are Latin whatever the target
    b = text.encode("utf-8", "surrogatepass")
    ascii_letters = len(b.translate(None, _KEEP_ASCII_ALPHA))
    if text.isascii():
        letters = ascii_letters
        found = ascii_letters if script.latin else 0
    else:
        symbols = len(b.translate(None, _KEEP_SYMBOL_LEADS)) + b.count(_CJK_PUNCT)
        letters = ascii_letters + len(b.translate(None, _KEEP_LEADS)) - symbols
        if script.latin:
            found = (ascii_letters + len(b.translate(None, _KEEP_LATIN_EXTRA))
                     + sum(b.count(p) for p in _LATIN_EXTENDED_ADDITIONAL))
        else:
            found = sum(b.count(p) for p in script.prefixes)
            if family in ("ja", "zh"):
                found -= b.count(_CJK_PUNCT)
                kana = sum(b.count(p) for p in _KANA)
                if family == "ja" and found >= 8 and kana == 0:
                    found = min(found, int(letters * sure_share) - 1)  # Han alone: maybe Chinese
                elif family == "zh" and kana * 5 > found:
                    found -= kana  # kana: Japanese
    if letters <= 0:
        return None, 0, 0.0
    return round(found / letters, 4), letters, ascii_letters / letters


_LANGDETECT = None


def langdetect():
    """langdetect, loaded on first use and seeded so its answers are reproducible."""
    global _LANGDETECT
    if _LANGDETECT is None:
        from langdetect import DetectorFactory, detect_langs

        DetectorFactory.seed = 0
        _LANGDETECT = detect_langs
    return _LANGDETECT

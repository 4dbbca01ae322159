"""The languages the backends know, and one function that turns what a user typed into the code a run uses.

A run names its languages in ISO 639-1 (``ko``, ``ja``, ``vi``; a region or script where it matters: ``pt-BR``,
``zh-Hant``). That code keys the translation memory and is the output prefix (``ko_detail_23k.json``), so it must be
one spelling per language and must never hold a path separator: ``--target ../../escape`` would otherwise write
outside ``--out``.

The codes of the engines are accepted too and mapped to ISO: NLLB's FLORES-200 codes (``kor_Hang`` → ``ko``) and
DeepL's upper-case codes (``KO`` → ``ko``, ``EN-US`` → ``en-US``). A FLORES-200 code with no ISO 639-1 equivalent in
the table passes through unchanged for the nllb backend only (the model's vocabulary check then has the last word).
Anything else is refused (exit 2) with the close matches, so ``--target kor`` or ``--target xx`` stops before a single
record is read instead of rejecting every record as "wrong script".
"""

from __future__ import annotations

import difflib
import re

from translate.errors import ConfigError

# ISO 639-1 (plus the few ISO 639-2/3 codes an engine uses where no 639-1 code exists: fil, yue) → English name.
# The union of what NLLB-200 (translate.nllb_models.ISO_TO_NLLB), DeepL and googletrans translate.
LANGUAGES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "as": "Assamese", "ay": "Aymara", "az": "Azerbaijani",
    "be": "Belarusian", "bg": "Bulgarian", "bm": "Bambara", "bn": "Bengali", "bo": "Tibetan", "bs": "Bosnian",
    "ca": "Catalan", "co": "Corsican", "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German",
    "dv": "Dhivehi", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fil": "Filipino", "fr": "French", "fy": "Frisian",
    "ga": "Irish", "gd": "Scottish Gaelic", "gl": "Galician", "gn": "Guarani", "gu": "Gujarati", "ha": "Hausa",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole", "hu": "Hungarian", "hy": "Armenian",
    "id": "Indonesian", "ig": "Igbo", "is": "Icelandic", "it": "Italian", "ja": "Japanese", "jv": "Javanese",
    "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada", "ko": "Korean", "ku": "Kurdish",
    "ky": "Kyrgyz", "la": "Latin", "lb": "Luxembourgish", "lg": "Luganda", "ln": "Lingala", "lo": "Lao",
    "lt": "Lithuanian", "lv": "Latvian", "mg": "Malagasy", "mi": "Maori", "mk": "Macedonian", "ml": "Malayalam",
    "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese", "nb": "Norwegian Bokmål",
    "ne": "Nepali", "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian", "ny": "Chichewa", "om": "Oromo",
    "or": "Odia", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "qu": "Quechua",
    "ro": "Romanian", "ru": "Russian", "rw": "Kinyarwanda", "sa": "Sanskrit", "sd": "Sindhi", "si": "Sinhala",
    "sk": "Slovak", "sl": "Slovenian", "sm": "Samoan", "sn": "Shona", "so": "Somali", "sq": "Albanian",
    "sr": "Serbian", "st": "Sesotho", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "tg": "Tajik", "th": "Thai", "ti": "Tigrinya", "tk": "Turkmen", "tl": "Tagalog",
    "tr": "Turkish", "ts": "Tsonga", "tt": "Tatar", "ug": "Uyghur", "uk": "Ukrainian", "ur": "Urdu",
    "uz": "Uzbek", "vi": "Vietnamese", "xh": "Xhosa", "yi": "Yiddish", "yo": "Yoruba", "yue": "Cantonese",
    "zh": "Chinese", "zu": "Zulu",
}

# Regional and script variants the engines distinguish (DeepL's EN-GB/PT-PT/ZH-HANT, googletrans' zh-tw, NLLB's
# zho_Hant), in their canonical spelling: language lower case, script title case, region upper case.
VARIANTS: tuple[str, ...] = ("en-GB", "en-US", "es-419", "pt-BR", "pt-PT", "zh-CN", "zh-HK", "zh-Hans", "zh-Hant",
                             "zh-MO", "zh-SG", "zh-TW")

# FLORES-200 codes whose ISO code is not the plain primary one (everything else maps through ISO_TO_NLLB).
_NLLB_EXCEPTIONS = {"zho_Hant": "zh-Hant", "tgl_Latn": "tl", "nob_Latn": "nb"}
NLLB_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")

# Country codes often typed for a language code.
_COUNTRY_MIXUPS = {"jp": "ja", "kr": "ko", "cn": "zh", "tw": "zh-TW", "vn": "vi", "gr": "el", "dk": "da", "se": "sv",
                   "cz": "cs", "ua": "uk", "br": "pt-BR", "ir": "fa", "il": "he", "in": "hi", "us": "en", "gb": "en"}

_BY_LOWER = {code.lower(): code for code in (*LANGUAGES, *VARIANTS)}


def _nllb_to_iso() -> dict[str, str]:
    from translate.nllb_models import ISO_TO_NLLB

    out: dict[str, str] = {}
    for iso, flores in ISO_TO_NLLB.items():
        if "-" not in iso and iso in LANGUAGES:
            out.setdefault(flores, iso)
    out.update(_NLLB_EXCEPTIONS)
    return out


_FROM_NLLB: dict[str, str] | None = None


def from_nllb(code: str) -> str | None:
    """The ISO code of a FLORES-200 code (``kor_Hang`` → ``ko``), or None when the table has none."""
    global _FROM_NLLB
    if _FROM_NLLB is None:
        _FROM_NLLB = _nllb_to_iso()
    return _FROM_NLLB.get(code)


def language_code(value: object, option: str = "--target", backend: str | None = None) -> str:
    """The canonical code for `value` (ISO, NLLB or DeepL spelling), or a ConfigError naming `option` with the close
    matches. `backend`: the run's backend; only nllb takes a FLORES-200 code the table does not know."""
    if not isinstance(value, str):
        raise ConfigError(f"{option} must be a language code (a string such as 'ko'), got {type(value).__name__}")
    text = value.strip()
    if NLLB_CODE.match(text):
        iso = from_nllb(text)
        if iso is not None:
            return iso
        if backend == "nllb":
            return text  # a FLORES-200 language the ISO table lacks: the model's vocabulary decides
    canonical = _BY_LOWER.get(text.lower().replace("_", "-"))
    if canonical is not None:
        return canonical
    raise ConfigError(f"{option} {value!r} is not a language the backends know.{_suggest(text)} Use an ISO 639-1 "
                      "code (ko, ja, vi, zh-Hant, …); NLLB codes (kor_Hang) and DeepL codes (KO) are accepted too")


def _suggest(text: str) -> str:
    """' Close matches: ko (Korean).' from country codes people type for languages, the NLLB codes' three-letter
    stems, the names and the codes themselves."""
    low = text.lower()
    found: list[str] = [_COUNTRY_MIXUPS[low]] if low in _COUNTRY_MIXUPS else []
    stems = {flores.split("_")[0]: iso for flores, iso in _stems().items()}
    if low in stems:
        found.append(stems[low])
    names = {name.lower(): code for code, name in LANGUAGES.items()}
    for match in difflib.get_close_matches(low, list(names), n=3, cutoff=0.75):
        found.append(names[match])
    for match in difflib.get_close_matches(low, list(_BY_LOWER), n=3, cutoff=0.6):
        found.append(_BY_LOWER[match])
    found = list(dict.fromkeys(found))[:4]
    if not found:
        return ""
    return " Close matches: " + ", ".join(f"{code} ({describe(code)})" for code in found) + "."


def _stems() -> dict[str, str]:
    from_nllb("eng_Latn")  # fills the table
    assert _FROM_NLLB is not None
    return _FROM_NLLB


def describe(code: str) -> str:
    """'Korean' for 'ko', 'Chinese (Hant)' for 'zh-Hant'; the code itself when the table has no name."""
    primary, _, rest = code.partition("-")
    name = LANGUAGES.get(primary, code)
    return f"{name} ({rest})" if rest else name

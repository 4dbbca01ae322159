"""TMX 1.4 (the exchange format of translation tools: OmegaT, Trados, memoQ, ...), written and read as a stream.

Written: ``<tmx version="1.4">``, a ``<header>`` with every attribute 1.4 requires, and a ``<body>`` with one ``<tu>``
per memory segment, one ``<tuv xml:lang>`` per side, each holding a ``<seg>`` of plain text (the real text: placeholders
already restored). Origin, key and dates ride along as ``<prop>`` and ``<tu>`` attributes. Carriage returns are written
as ``&#13;`` because XML parsers turn a literal one into a newline.

Read: the file is first checked whole for well-formedness (fast, in C), so a broken file is refused before anything
is imported; then each ``<tu>`` is yielded with the ``<seg>`` text of the two languages asked for, or with the reason
it cannot be used (a language missing, inline markup this tool cannot map back).
"""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from translate import __version__
from translate.errors import InputFileError

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Characters XML 1.0 cannot carry at all (not even as references): a segment holding one is not exported.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def tmx_date(timestamp: float) -> str:
    """TMX's date form: YYYYMMDDThhmmssZ (UTC)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(timestamp))


def xml_safe(text: str) -> bool:
    return _NOT_XML.search(text) is None


def _text(text: str) -> str:
    return escape(text).replace("\r", "&#13;")


class TmxWriter:
    """Streams a TMX 1.4 document to an open text file."""

    def __init__(self, out, source_lang: str, *, segtype: str = "paragraph"):
        self.out = out
        self.source_lang = source_lang
        self.segtype = segtype

    def start(self) -> None:
        header = {"creationtool": "llava-translate", "creationtoolversion": __version__, "segtype": self.segtype,
                  "o-tmf": "llava-translate-sqlite", "adminlang": "en", "srclang": self.source_lang,
                  "datatype": "plaintext", "creationdate": tmx_date(time.time())}
        attrs = " ".join(f"{name}={quoteattr(value)}" for name, value in header.items())
        self.out.write('<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4">\n'
                       f"<header {attrs}/>\n<body>\n")

    def tu(self, tuid: str, langs: list[tuple[str, str]], props: list[tuple[str, str]], created: float,
           changed: float | None = None) -> None:
        attrs = f"tuid={quoteattr(tuid)} creationdate={quoteattr(tmx_date(created))}"
        if changed:
            attrs += f" changedate={quoteattr(tmx_date(changed))}"
        parts = [f"<tu {attrs}>"]
        parts += [f"<prop type={quoteattr(kind)}>{_text(value)}</prop>" for kind, value in props]
        parts += [f"<tuv xml:lang={quoteattr(lang)}><seg>{_text(text)}</seg></tuv>" for lang, text in langs]
        parts.append("</tu>\n")
        self.out.write("".join(parts))

    def end(self) -> None:
        self.out.write("</body>\n</tmx>\n")


@dataclass(slots=True)
class TmxUnit:
    """One ``<tu>``: its position (1-based), id, the source and target text, and its props; or `problem` (a reason
    code and a detail) when it cannot be used."""

    index: int
    tuid: str | None
    source: str | None = None
    target: str | None = None
    props: dict[str, str] = field(default_factory=dict)
    problem: tuple[str, str] | None = None


def _lang_matches(tag: str | None, want: str) -> bool:
    """``en``, ``EN``, ``en-US`` and ``en_GB`` all match ``en``."""
    if not tag:
        return False
    return re.split(r"[-_]", tag.strip().lower())[0] == want.lower()


def check_well_formed(path: Path) -> None:
    """Refuse a file that is not well-formed XML, or not TMX, naming the file, line and column."""
    parser = expat.ParserCreate()
    seen: list[str] = []

    def start(name: str, attrs: dict) -> None:
        if len(seen) < 3:
            seen.append(name)
            if len(seen) == 1 and (name != "tmx"):
                raise InputFileError(str(path), f"not a TMX file: the root element is <{name}>, not <tmx>")

    parser.StartElementHandler = start
    try:
        with open(path, "rb") as fh:
            parser.ParseFile(fh)
    except expat.ExpatError as exc:
        raise InputFileError(str(path), f"not well-formed XML: {expat.errors.messages[exc.code]} at line "
                             f"{exc.lineno}, column {exc.offset + 1}") from None
    except OSError as exc:
        raise InputFileError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if seen[:2] != ["tmx", "header"]:
        raise InputFileError(str(path), "not a TMX file: <tmx> must start with <header>")


def read_tmx(path: str | Path, source_lang: str, target_lang: str) -> Iterator[TmxUnit]:
    """Every ``<tu>`` of the file, in order, holding the `source_lang` and `target_lang` segments (matched on the
    primary language subtag). Memory use stays flat: each ``<tu>`` is dropped once read."""
    path = Path(path)
    check_well_formed(path)
    index = 0
    saw_body = False
    for event, elem in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            if elem.tag == "body":
                saw_body = True
            continue
        if elem.tag != "tu":
            continue
        index += 1
        unit = TmxUnit(index, elem.get("tuid"))
        unit.props = {p.get("type", ""): p.text or "" for p in elem.findall("prop")}
        found: dict[str, str] = {}
        langs = []
        for tuv in elem.findall("tuv"):
            lang = tuv.get(XML_LANG) or tuv.get("lang")  # TMX 1.1 wrote plain lang=
            langs.append(lang or "?")
            seg = tuv.find("seg")
            if seg is None:
                unit.problem = ("tmx_bad_tu", f"<tuv xml:lang={lang!r}> has no <seg>")
                break
            if len(seg):
                unit.problem = ("tmx_inline_markup", (f"<seg> of {lang!r} holds inline elements "
                                                      f"(<{seg[0].tag}>); only plain text can be mapped back to a "
                                                      "segment"))
                break
            for want in (source_lang, target_lang):
                if _lang_matches(lang, want) and want not in found:
                    found[want] = seg.text or ""
        if unit.problem is None:
            missing = [lang for lang in (source_lang, target_lang) if lang not in found]
            if missing:
                unit.problem = ("tmx_language_missing", (f"no <tuv> for {', '.join(missing)} (languages here: "
                                                         f"{', '.join(langs) or 'none'})"))
            else:
                unit.source, unit.target = found[source_lang], found[target_lang]
        elem.clear()
        yield unit
    if not saw_body:
        raise InputFileError(str(path), "not a TMX file: there is no <body>")

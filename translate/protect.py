"""Protected spans: what a translator must never touch, and how it comes back.

A conversation value is split into three parts:

* a *shell* that never reaches the translator: a leading ``"<image>\\n"`` or trailing ``"\\n<image>"`` and the outer
  whitespace;
* a *body* in which every protected span (code, bounding boxes, URLs, do-not-translate terms, an ``<image>`` in the
  middle of the text, glossary terms) is replaced by a placeholder in the style the backend declares;
* the list of spans, in order.

`restore` puts the spans back. A placeholder that is missing, duplicated, unknown, or whose carried content changed
raises `SpanLost`: the record is rejected, never patched silently.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import unescape as xml_unescape

IMAGE_TOKEN = "<image>"

# Leading "<image>" plus the newline after it, and trailing newline plus "<image>": LLaVA writes exactly these two
# shapes, and its loader looks for the token, so they are kept byte for byte outside the translated body.
_LEADING_IMAGE = re.compile(r"\A<image>[ \t]*\n?")
_TRAILING_IMAGE = re.compile(r"\n?[ \t]*<image>\Z")


@dataclass(frozen=True, slots=True)
class Span:
    """A protected piece of source text. `restore` is what goes back (the source itself, or a glossary target)."""

    kind: str
    source: str
    restore: str


class SpanLost(Exception):
    """A placeholder did not come back exactly. `detail` says which one and how."""

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(detail)


class PlaceholderStyle(Protocol):
    """How a backend wants spans marked. `pattern` finds placeholders in output; group ``i`` is the index and the
    optional group ``body`` is carried content that must come back byte for byte."""

    name: str
    pattern: re.Pattern[str]

    def render(self, index: int, span: Span) -> str: ...

    def carried(self, match: re.Match[str]) -> str | None: ...


class BracketStyle:
    """``⟦0⟧``: short, rare in real text, and left alone by pseudo-localisation and most engines."""

    name = "bracket"
    pattern = re.compile(r"⟦(?P<i>\d+)⟧")

    def render(self, index: int, span: Span) -> str:
        return f"⟦{index}⟧"

    def carried(self, match: re.Match[str]) -> str | None:
        return None


class XmlKeepStyle:
    """``<x i="0">span</x>``: for engines with XML tag handling that can be told to leave a tag's content alone
    (DeepL's ``ignore_tags``). The span travels inside the tag and must come back unchanged."""

    name = "xml"
    tag = "x"
    pattern = re.compile(r"<x\s+i\s*=\s*\"(?P<i>\d+)\"\s*>(?P<body>.*?)</x\s*>", re.S)

    def render(self, index: int, span: Span) -> str:
        return f'<x i="{index}">{xml_escape(span.source)}</x>'

    def carried(self, match: re.Match[str]) -> str | None:
        return xml_unescape(match.group("body"))


BRACKETS = BracketStyle()
XML_KEEP = XmlKeepStyle()
STYLES: dict[str, PlaceholderStyle] = {BRACKETS.name: BRACKETS, XML_KEEP.name: XML_KEEP}

# Spans found by pattern. Order matters: earlier alternatives win where they overlap (a URL inside inline code is code).
_BUILTIN_PATTERNS: list[tuple[str, str]] = [
    ("placeholder", r"⟦\d+⟧"),  # text that already looks like our placeholder must not be confused with one
    ("code", r"```.*?```"),
    ("code", r"`[^`\n]+`"),
    ("url", r"\b(?:https?|ftp)://[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]]"),
    ("url", r"\bwww\.[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]]"),
    # Bounding boxes and coordinate lists: [0.12, 0.34, 0.56, 0.78], [12, 34], [-1.5, 2]
    ("bbox", r"\[\s*-?\d+(?:\.\d+)?(?:\s*,\s*-?\d+(?:\.\d+)?){1,7}\s*\]"),
    ("image", re.escape(IMAGE_TOKEN)),
]


@dataclass(slots=True)
class Protected:
    """A value ready for translation: `body` holds placeholders; `prefix` and `suffix` never leave the process."""

    prefix: str
    body: str
    suffix: str
    spans: tuple[Span, ...] = ()

    @property
    def needs_translation(self) -> bool:
        return bool(self.body)


# A glossary term hook: given the matched source text, returns the target text to restore.
TermLookup = Callable[[str], str]


@dataclass
class Protector:
    """Finds protected spans. `dnt` are literal do-not-translate strings; `terms` maps a source term (matched
    case-insensitively on word boundaries) to its target, restored in place of the placeholder."""

    style: PlaceholderStyle = field(default_factory=lambda: BRACKETS)
    dnt: Iterable[str] = ()
    terms: dict[str, str] | None = None
    term_case_sensitive: dict[str, bool] | None = None

    def __post_init__(self) -> None:
        parts = [f"(?P<{kind}_{n}>{pattern})" for n, (kind, pattern) in enumerate(_BUILTIN_PATTERNS)]
        dnt = sorted({d for d in self.dnt if d}, key=len, reverse=True)
        if dnt:
            parts.insert(1, "(?P<dnt_x>" + "|".join(re.escape(d) for d in dnt) + ")")
        self._term_targets: dict[str, str] = {}
        if self.terms:
            sensitive = self.term_case_sensitive or {}
            alts = []
            for source in sorted(self.terms, key=len, reverse=True):
                flag = "" if sensitive.get(source) else "(?i:"
                alts.append((flag + re.escape(source) + ")") if flag else re.escape(source))
                self._term_targets[source.lower()] = self.terms[source]
                self._term_targets[source] = self.terms[source]
            parts.append(r"(?P<term_x>(?<!\w)(?:" + "|".join(alts) + r")(?!\w))")
        self._regex = re.compile("|".join(parts), re.S)

    def protect(self, value: str) -> Protected:
        prefix = suffix = ""
        m = _LEADING_IMAGE.match(value)
        if m:
            prefix, value = m.group(0), value[m.end():]
        m = _TRAILING_IMAGE.search(value)
        if m:
            suffix, value = m.group(0), value[: m.start()]
        stripped = value.strip()
        if not stripped:
            return Protected(prefix + value + suffix, "", "")
        lead = value[: len(value) - len(value.lstrip())]
        trail = value[len(value.rstrip()):]
        # Spans are cut from the text as given, so they come back byte for byte; only the prose between them is
        # NFC-normalised (the same sentence typed two ways is one memory entry).
        body = stripped
        spans: list[Span] = []
        out: list[str] = []
        last = 0
        for match in self._regex.finditer(body):
            kind = match.lastgroup.rsplit("_", 1)[0]  # type: ignore[union-attr]
            text = match.group(0)
            restore = text
            if kind == "term":
                restore = self._term_targets.get(text, self._term_targets.get(text.lower(), text))
            span = Span(kind, text, restore)
            out.append(unicodedata.normalize("NFC", body[last: match.start()]))
            out.append(self.style.render(len(spans), span))
            spans.append(span)
            last = match.end()
        out.append(unicodedata.normalize("NFC", body[last:]))
        return Protected(prefix + lead, "".join(out), trail + suffix, tuple(spans))

    def restore(self, protected: Protected, translated: str) -> str:
        """Put the spans back into `translated` and the shell around it. Raises `SpanLost`."""
        if not protected.body:
            return protected.prefix + protected.body + protected.suffix
        text = restore_spans(self.style, protected.spans, translated.strip())
        return protected.prefix + text + protected.suffix


def restore_spans(style: PlaceholderStyle, spans: tuple[Span, ...], translated: str) -> str:
    seen: set[int] = set()
    out: list[str] = []
    last = 0
    for match in style.pattern.finditer(translated):
        index = int(match.group("i"))
        if index >= len(spans):
            raise SpanLost(f"unknown placeholder {match.group(0)!r} in the translation")
        if index in seen:
            raise SpanLost(f"placeholder {index} ({spans[index].source!r}) appears twice in the translation")
        carried = style.carried(match)
        if carried is not None and carried != spans[index].source:
            raise SpanLost(f"{spans[index].kind} span {spans[index].source!r} came back as {carried!r}")
        seen.add(index)
        out.append(translated[last: match.start()])
        out.append(spans[index].restore)
        last = match.end()
    out.append(translated[last:])
    if len(seen) != len(spans):
        missing = [spans[i].source for i in range(len(spans)) if i not in seen]
        raise SpanLost(f"protected span(s) missing from the translation: {missing!r}")
    return "".join(out)


def image_layout(value: str) -> tuple[int, bool, bool]:
    """(count of <image>, leading, trailing): the facts about the token that must survive translation."""
    return value.count(IMAGE_TOKEN), value.startswith(IMAGE_TOKEN), value.endswith(IMAGE_TOKEN)

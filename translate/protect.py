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


_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9A-Fa-f]+);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def xml_unescape(text: str) -> str:
    """The five XML entities and numeric character references, nothing else (no HTML named entities)."""

    def one(m: re.Match[str]) -> str:
        e = m.group(0)[1:-1]
        if e.startswith("#x"):
            return chr(int(e[2:], 16))
        if e.startswith("#"):
            return chr(int(e[1:]))
        return _NAMED[e]

    return _ENTITY.sub(one, text)


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class XmlKeepStyle:
    """``<x i="0">span</x>``: for engines with XML tag handling that can be told to leave a tag's content alone
    (DeepL's ``ignore_tags``). The span travels inside the tag and must come back unchanged. Read back tolerantly:
    either quote style around the index, spaces inside the tags, and any XML entity or character reference in the
    carried content (compared after decoding, so the span must still come back byte for byte)."""

    name = "xml"
    tag = "x"
    pattern = re.compile(r"<x\s+i\s*=\s*([\"'])(?P<i>\d+)\1\s*>(?P<body>.*?)</x\s*>", re.S)

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
# Every character a built-in span can start with (placeholder, code, URL schemes and www, bbox, <image>).
_BUILTIN_FIRST_CHARS = "⟦`hHfFwW[<"


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
    # Called on restore with each span and the translated text that follows it (up to the next placeholder); returns
    # that text, e.g. with the Korean particle after a glossary term fitted to the term (translate.particles).
    after_span: Callable[[Span, str], str] | None = None

    def __post_init__(self) -> None:
        parts = [f"(?P<{kind}_{n}>{pattern})" for n, (kind, pattern) in enumerate(_BUILTIN_PATTERNS)]
        dnt = sorted({d for d in self.dnt if d}, key=len, reverse=True)
        if dnt:
            parts.insert(1, "(?P<dnt_x>" + "|".join(re.escape(d) for d in dnt) + ")")
        # A one-character lookahead lets the engine skip, at C speed, every position where no span can start;
        # without it each alternative is tried at every character (3x slower on LLaVA text).
        firsts = set(_BUILTIN_FIRST_CHARS) | {d[0] for d in dnt}
        self._regex = re.compile(_lookahead(firsts) + "(?:" + "|".join(parts) + ")", re.S)
        # Terms are matched on their own, in lower-cased text, by a prefix-factored (trie) pattern: a
        # case-insensitive alternation of every term costs 6x more on each value.
        self._terms: dict[str, tuple[str, str, bool]] = {}  # lower-cased source -> (source, target, case sensitive)
        self._term_regex: re.Pattern[str] | None = None
        if self.terms:
            sensitive = self.term_case_sensitive or {}
            for source, target in self.terms.items():
                self._terms.setdefault(source.lower(), (source, target, bool(sensitive.get(source))))
            lowered = sorted(self._terms)
            self._term_regex = re.compile(
                r"(?<!\w)" + _lookahead({t[0] for t in lowered}) + _trie_pattern(lowered) + r"(?!\w)", re.S)

    def _term_matches(self, body: str) -> list[tuple[int, int, Span]]:
        if self._term_regex is None:
            return []
        lowered = body.lower()
        if len(lowered) != len(body):  # a few non-ASCII letters change length when lower-cased; keep offsets right
            lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in body)
        found = []
        for match in self._term_regex.finditer(lowered):
            source, target, case_sensitive = self._terms[match.group(0)]
            text = body[match.start(): match.end()]
            if case_sensitive and text != source:
                continue
            found.append((match.start(), match.end(), Span("term", text, target)))
        return found

    def protect(self, value: str) -> Protected:
        prefix = suffix = ""
        m = _LEADING_IMAGE.match(value)
        if m:
            prefix, value = m.group(0), value[m.end():]
        m = _TRAILING_IMAGE.search(value) if value.endswith(IMAGE_TOKEN) else None  # search() scans the whole value
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
        found = [(m.start(), m.end(), Span(m.lastgroup.rsplit("_", 1)[0], m.group(0), m.group(0)))  # type: ignore
                 for m in self._regex.finditer(body)]
        terms = self._term_matches(body)
        if terms:
            # Code, URLs, boxes and do-not-translate spans win over a term that overlaps them.
            taken = found
            found = sorted(taken + [t for t in terms if not any(t[0] < e and s < t[1] for s, e, _ in taken)],
                           key=lambda f: f[0])
        spans: list[Span] = []
        out: list[str] = []
        last = 0
        for start, end, span in found:
            out.append(unicodedata.normalize("NFC", body[last:start]))
            out.append(self.style.render(len(spans), span))
            spans.append(span)
            last = end
        out.append(unicodedata.normalize("NFC", body[last:]))
        return Protected(prefix + lead, "".join(out), trail + suffix, tuple(spans))

    def restore(self, protected: Protected, translated: str) -> str:
        """Put the spans back into `translated` and the shell around it. Raises `SpanLost`."""
        if not protected.body:
            return protected.prefix + protected.body + protected.suffix
        text = restore_spans(self.style, protected.spans, translated.strip(), self.after_span)
        return protected.prefix + text + protected.suffix


def restore_spans(style: PlaceholderStyle, spans: tuple[Span, ...], translated: str,
                  after_span: Callable[[Span, str], str] | None = None) -> str:
    seen: set[int] = set()
    out: list[str] = []
    last = 0
    previous: Span | None = None
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
        gap = translated[last: match.start()]
        out.append(after_span(previous, gap) if after_span and previous else gap)
        out.append(spans[index].restore)
        previous = spans[index]
        last = match.end()
    gap = translated[last:]
    out.append(after_span(previous, gap) if after_span and previous else gap)
    if len(seen) != len(spans):
        missing = [spans[i].source for i in range(len(spans)) if i not in seen]
        raise SpanLost(f"protected span(s) missing from the translation: {missing!r}")
    return "".join(out)


def image_layout(value: str) -> tuple[int, bool, bool]:
    """(count of <image>, leading, trailing): the facts about the token that must survive translation."""
    return value.count(IMAGE_TOKEN), value.startswith(IMAGE_TOKEN), value.endswith(IMAGE_TOKEN)


def _lookahead(first_chars: set[str]) -> str:
    return "(?=[" + "".join(re.escape(c) for c in sorted(first_chars)) + "])"


def _trie_pattern(words: list[str]) -> str:
    """One regex for many literal words, with common prefixes factored out ("fire hydrant|fire hydrants" becomes
    "fire\\ hydrant(?:s)?"): the engine then tries each prefix once instead of once per word."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)

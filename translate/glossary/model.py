"""The glossary model: terms, do-not-translate spans and curated templates, read from reviewable TSV files.

A glossary is a folder, one per target language (``glossaries/ko/``), holding three tab-separated files, each with a
header row; blank lines and lines starting with ``#`` are ignored, and columns may come in any order:

* ``terms.tsv``: ``source  target  case_sensitive  reading  note``. A source term found on word boundaries
  (case-insensitively unless ``case_sensitive`` is yes) becomes a placeholder and is restored as `target`; the
  Korean particle after it is then corrected (`translate.particles`). `reading` is a Hangul reading for a target
  that ends in Latin letters or digits.
* ``dnt.tsv``: ``text  reading  note``. Literal, case-sensitive spans never sent to the engine (model names, special
  tokens). `reading` serves the particle after them (``LLaVA`` → 라바).
* ``templates.tsv``: ``source  target  set  note``. Curated translations of fixed instruction prompts, written
  without ``<image>``. They are resolved without the engine and cost nothing.

This module holds the model: reading the files into a `Glossary`, and building a run's protector and templates
from it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import translate
from translate.errors import ConfigError
from translate.particles import correct_particle, final_sound
from translate.protect import BRACKETS, IMAGE_TOKEN, PlaceholderStyle, Protector, Span

TERMS_FILE = "terms.tsv"
DNT_FILE = "dnt.tsv"
TEMPLATES_FILE = "templates.tsv"

# kind → (file, required columns, optional columns). The first required column is the entry's key.
KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "terms": (TERMS_FILE, ("source", "target"), ("case_sensitive", "reading", "note")),
    "dnt": (DNT_FILE, ("text",), ("reading", "note")),
    "templates": (TEMPLATES_FILE, ("source", "target"), ("set", "note")),
}

_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0", ""}

# Where the glossaries shipped with the tool live: glossaries/ at the root of a source checkout (also what an editable
# install sees), or translate/glossaries inside an installed wheel (package data).
SHIPPED_ROOTS = (
    Path(translate.__file__).resolve().parent / "glossaries",
    Path(translate.__file__).resolve().parent.parent / "glossaries",
)

# Letters each target language may use; a target whose letters fall outside is flagged by lint. Latin is allowed
# beside the main script (USB 포트) but a target must hold at least one letter of the main script.
SCRIPTS: dict[str, tuple[str, set[str]]] = {
    "ko": ("HANGUL", {"HANGUL", "LATIN", "CJK"}),
    "ja": ("HIRAGANA KATAKANA CJK", {"HIRAGANA", "KATAKANA", "CJK", "LATIN"}),
    "zh": ("CJK", {"CJK", "LATIN"}),
    "vi": ("LATIN", {"LATIN"}),
    "ru": ("CYRILLIC", {"CYRILLIC", "LATIN"}),
    "th": ("THAI", {"THAI", "LATIN"}),
    "ar": ("ARABIC", {"ARABIC", "LATIN"}),
    "hi": ("DEVANAGARI", {"DEVANAGARI", "LATIN"}),
}


class GlossaryError(ConfigError):
    """A glossary file that cannot be read or holds broken entries; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Term:
    source: str
    target: str
    case_sensitive: bool = False
    reading: str = ""
    note: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class DntEntry:
    text: str
    reading: str = ""
    note: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    target: str
    set: str = ""
    note: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One finding: where it is, a short code, and what to do. `severity` is ``error`` or ``warning``."""

    file: str
    line: int
    code: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.severity}: {self.code}: {self.message}"


def script_of(ch: str) -> str:
    """The first word of a letter's Unicode name: HANGUL, LATIN, CJK, HIRAGANA, CYRILLIC, …"""
    try:
        return unicodedata.name(ch).split()[0]
    except ValueError:
        return "UNKNOWN"


def _parse_bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return None


@dataclass
class TsvRow:
    line: int
    cells: dict[str, str]


def read_tsv(path: Path, required: tuple[str, ...], optional: tuple[str, ...],
             problems: list[LintFinding]) -> list[TsvRow]:
    """Rows of one glossary file, cells verbatim (whitespace kept so lint can see it). Broken rows go to
    `problems` and are skipped."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise GlossaryError(f"cannot read glossary file {path}: {exc}") from None
    header: list[str] | None = None
    rows: list[TsvRow] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            header = [c.strip().lower() for c in cells]
            unknown = [c for c in header if c not in required + optional]
            missing = [c for c in required if c not in header]
            if unknown or missing or len(set(header)) != len(header):
                detail = []
                if missing:
                    detail.append(f"missing column(s) {', '.join(missing)}")
                if unknown:
                    detail.append(f"unknown column(s) {', '.join(unknown)}")
                if len(set(header)) != len(header):
                    detail.append("a column is named twice")
                raise GlossaryError(
                    f"{path}:{number}: bad header ({'; '.join(detail)}); expected tab-separated columns "
                    f"{', '.join(required)} and optionally {', '.join(optional)}"
                )
            continue
        if len(cells) > len(header):
            problems.append(LintFinding(name, number, "columns", f"{len(cells)} tab-separated cells but the header has "
                                    f"{len(header)} columns (a stray tab?)"))
            continue
        row = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        empty = [c for c in required if not row[c].strip()]
        if empty:
            problems.append(LintFinding(name, number, "empty", f"empty {', '.join(empty)}"))
            continue
        rows.append(TsvRow(number, row))
    return rows


@dataclass
class Glossary:
    """The entries of one glossary folder. `problems` holds rows that could not be read (see `load`)."""

    lang: str = "ko"
    folder: Path | None = None
    terms: list[Term] = field(default_factory=list)
    dnt: list[DntEntry] = field(default_factory=list)
    templates: list[Template] = field(default_factory=list)
    problems: list[LintFinding] = field(default_factory=list)

    # ---- loading ---------------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, folder: str | Path, lang: str | None = None, strict: bool = True) -> "Glossary":
        """Read a glossary folder. `strict`: a broken row raises `GlossaryError` (runs); otherwise it is kept in
        `problems` (lint)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise GlossaryError(f"glossary folder {folder} does not exist")
        g = cls(lang=lang or folder.name, folder=folder)
        problems: list[LintFinding] = []
        file, req, opt = KINDS["terms"]
        for row in read_tsv(folder / file, req, opt, problems):
            c = row.cells
            sensitive = _parse_bool(c.get("case_sensitive", ""))
            if sensitive is None:
                problems.append(LintFinding(file, row.line, "case_sensitive",
                                        f"case_sensitive is {c['case_sensitive']!r}; write yes or no"))
                continue
            g.terms.append(Term(c["source"], c["target"], sensitive, c.get("reading", ""), c.get("note", ""),
                                row.line))
        file, req, opt = KINDS["dnt"]
        for row in read_tsv(folder / file, req, opt, problems):
            c = row.cells
            g.dnt.append(DntEntry(c["text"], c.get("reading", ""), c.get("note", ""), row.line))
        file, req, opt = KINDS["templates"]
        for row in read_tsv(folder / file, req, opt, problems):
            c = row.cells
            g.templates.append(Template(c["source"], c["target"], c.get("set", ""), c.get("note", ""), row.line))
        g.problems = problems
        if strict and problems:
            shown = "; ".join(str(p) for p in problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise GlossaryError(f"glossary {folder}: {shown}{more}. Run `python -m translate glossary lint`.")
        return g

    # ---- use in a run ----------------------------------------------------------------------------------------------

    def protector(self, style: PlaceholderStyle = BRACKETS, use_terms: bool = True) -> Protector:
        """A protector with the dnt spans and (unless the engine applies its own glossary) the terms, plus the
        particle correction for Korean."""
        dnt = [d.text for d in self.dnt if d.text != IMAGE_TOKEN]  # <image> is always protected already
        terms = {t.source: t.target for t in self.terms} if use_terms and self.terms else None
        sensitive = {t.source: t.case_sensitive for t in self.terms} if terms else None
        hook = self.particle_hook() if self.lang == "ko" else None
        return Protector(style=style, dnt=dnt, terms=terms, term_case_sensitive=sensitive, after_span=hook)

    def term_dict(self) -> dict[str, str]:
        """source → target, as an engine's own glossary takes them (the first entry wins for a repeated source)."""
        out: dict[str, str] = {}
        for t in self.terms:
            out.setdefault(t.source.strip(), t.target.strip())
        return out

    def particle_hook(self) -> ParticleHook:
        """Corrects the Korean particle after a restored term or dnt span (see `translate.particles`)."""
        return ParticleHook({t.target: t.reading for t in self.terms if t.reading},
                            {d.text: d.reading for d in self.dnt if d.reading})

    def template_map(self, protector: Protector, problems: list[LintFinding] | None = None) -> dict[str, str]:
        """Protected body → curated translation, for `translate.pipeline.Segmenter`. A template whose source holds
        protected spans (a term, a dnt span) gets the same placeholders in its translation, found by the span's
        target text; a translation lacking one is reported in `problems` (or raises when `problems` is None)."""
        out: dict[str, str] = {}
        for t in self.templates:
            protected = protector.protect(t.source)
            if not protected.needs_translation:
                continue
            target = unicodedata.normalize("NFC", t.target.strip())
            if protected.spans:
                placed = _place_spans(target, protected.spans, protector.style)
                if isinstance(placed, str) and placed.startswith("\0"):
                    problem = LintFinding(TEMPLATES_FILE, t.line, "template-span",
                                      f"the source holds {placed[1:]!r} but the translation does not hold its "
                                      f"target; write it into the translation or drop the glossary entry")
                    if problems is None:
                        raise GlossaryError(str(problem))
                    problems.append(problem)
                    continue
                target = placed
            out[protected.body] = target
        return out

    # ---- editing ---------------------------------------------------------------------------------------------------

    def path(self, kind: str) -> Path:
        if self.folder is None:
            raise GlossaryError("this glossary has no folder")
        return self.folder / KINDS[kind][0]

    def entries(self, kind: str) -> list[Any]:
        return {"terms": self.terms, "dnt": self.dnt, "templates": self.templates}[kind]


def _place_spans(target: str, spans: tuple[Span, ...], style: PlaceholderStyle) -> str:
    """`target` with each span's restored text replaced by its placeholder; "\\0<source>" when one is missing."""
    pieces: list[tuple[int, int, str]] = []
    for i, span in enumerate(spans):
        needle = span.restore
        start = 0
        while True:
            pos = target.find(needle, start)
            if pos < 0:
                return "\0" + span.source
            if all(pos >= e or pos + len(needle) <= s for s, e, _ in pieces):
                break
            start = pos + 1
        pieces.append((pos, pos + len(needle), style.render(i, span)))
    out, last = [], 0
    for s, e, rendered in sorted(pieces):
        out.append(target[last:s])
        out.append(rendered)
        last = e
    out.append(target[last:])
    return "".join(out)


@dataclass(frozen=True)
class ParticleHook:
    """The protector's `after_span` hook: the Korean particle after a restored term or dnt span, fixed for the
    span's final sound. A class rather than a closure, so a protector can be pickled into a worker process."""

    term_readings: dict[str, str]
    dnt_readings: dict[str, str]

    def __call__(self, span: Span, following: str) -> str:
        if span.kind == "term":
            reading = self.term_readings.get(span.restore)
        elif span.kind == "dnt":
            reading = self.dnt_readings.get(span.source)
            # A tag such as <im_start> is not a noun; only word-like spans take particles.
            if not reading and not (span.source[-1:].isalnum()):
                return following
        else:
            return following
        return correct_particle(following, final_sound(span.restore, reading))

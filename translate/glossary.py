"""Glossaries: terms, do-not-translate spans and curated templates, kept as reviewable TSV files.

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

`lint` finds what would make a glossary misbehave; `coverage` checks a finished run against it.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import translate
from translate.errors import ConfigError
from translate.particles import correct_particle, final_sound, is_syllable
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
_SHIPPED_ROOTS = (
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
class Problem:
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
             problems: list[Problem]) -> list[TsvRow]:
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
            problems.append(Problem(name, number, "columns", f"{len(cells)} tab-separated cells but the header has "
                                    f"{len(header)} columns (a stray tab?)"))
            continue
        row = dict(zip(header, cells + [""] * (len(header) - len(cells))))
        empty = [c for c in required if not row[c].strip()]
        if empty:
            problems.append(Problem(name, number, "empty", f"empty {', '.join(empty)}"))
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
    problems: list[Problem] = field(default_factory=list)

    # ---- loading ---------------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, folder: str | Path, lang: str | None = None, strict: bool = True) -> "Glossary":
        """Read a glossary folder. `strict`: a broken row raises `GlossaryError` (runs); otherwise it is kept in
        `problems` (lint)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise GlossaryError(f"glossary folder {folder} does not exist")
        g = cls(lang=lang or folder.name, folder=folder)
        problems: list[Problem] = []
        file, req, opt = KINDS["terms"]
        for row in read_tsv(folder / file, req, opt, problems):
            c = row.cells
            sensitive = _parse_bool(c.get("case_sensitive", ""))
            if sensitive is None:
                problems.append(Problem(file, row.line, "case_sensitive",
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

    def particle_hook(self) -> Callable[[Span, str], str]:
        """Corrects the Korean particle after a restored term or dnt span (see `translate.particles`)."""
        term_readings = {t.target: t.reading for t in self.terms if t.reading}
        dnt_readings = {d.text: d.reading for d in self.dnt if d.reading}

        def after_span(span: Span, following: str) -> str:
            if span.kind == "term":
                reading = term_readings.get(span.restore)
            elif span.kind == "dnt":
                reading = dnt_readings.get(span.source)
                # A tag such as <im_start> is not a noun; only word-like spans take particles.
                if not reading and not (span.source[-1:].isalnum()):
                    return following
            else:
                return following
            return correct_particle(following, final_sound(span.restore, reading))

        return after_span

    def template_map(self, protector: Protector, problems: list[Problem] | None = None) -> dict[str, str]:
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
                    problem = Problem(TEMPLATES_FILE, t.line, "template-span",
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


# ---- finding the glossary for a run ------------------------------------------------------------------------------

NO_GLOSSARY = ("", "none", "off", "no")


def find_glossary_dir(explicit: str | None, target: str, cwd: Path | None = None) -> Path | None:
    """The glossary folder for a run: `explicit` (a path, or "none" for no glossary); else ``glossaries/<target>``
    in the current directory; else the one shipped with the tool; else None."""
    if explicit is not None:
        if explicit.strip().lower() in NO_GLOSSARY:
            return None
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise GlossaryError(f"--glossary {explicit}: no such folder (expected a folder holding {TERMS_FILE}, "
                                f"{DNT_FILE}, {TEMPLATES_FILE})")
        return path
    local = (cwd or Path.cwd()) / "glossaries" / target
    if local.is_dir():
        return local
    for root in _SHIPPED_ROOTS:
        if (root / target).is_dir():
            return root / target
    return None


def load_for_run(explicit: str | None, target: str) -> Glossary:
    folder = find_glossary_dir(explicit, target)
    if folder is None:
        return Glossary(lang=target)
    return Glossary.load(folder, lang=target)


def deepl_glossary_name(source_lang: str, target_lang: str) -> str:
    """The name under which the terms are kept on the DeepL account (one per language pair)."""
    return f"llava-translate {source_lang}-{target_lang}"


def uses_native_glossary(backend: Any) -> bool:
    """Whether the engine applies glossaries itself (DeepL). Looked up on the backend's class by name when the
    object is a stand-in (the cluster's assemble), so plan, shards and assemble protect text the same way."""
    native = getattr(backend, "native_glossary", None)
    if native is None:
        from translate.backends.base import load_backend_class

        try:
            native = getattr(load_backend_class(backend.name), "native_glossary", False)
        except ConfigError:
            native = False
    return bool(native)


def protection_for_run(explicit: str | None, source_lang: str, target_lang: str,
                       backend: Any) -> tuple[Protector, dict[str, str]]:
    """The protector and the templates (protected body → curated translation) for a run.

    Engines with a native glossary (DeepL) get no term placeholders: the terms are synced to a glossary on the
    account (reused when identical) unless a `glossary_id` was given, and the engine applies it, with its own
    grammar around each term. Every other engine gets term placeholders restored to the target term, followed by
    the particle correction."""
    glossary = load_for_run(explicit, target_lang)
    native = uses_native_glossary(backend)
    if native and glossary.terms and hasattr(backend, "sync_glossary") and not getattr(backend, "glossary_id", None):
        backend.sync_glossary(glossary.term_dict(), deepl_glossary_name(source_lang, target_lang))
    protector = glossary.protector(style=backend.placeholder, use_terms=not native)
    return protector, glossary.template_map(protector)


# ---- lint --------------------------------------------------------------------------------------------------------


def _whitespace_problem(value: str) -> str | None:
    if value != value.strip():
        return "leading or trailing whitespace"
    if "  " in value or any(c in value for c in "\t\r\n\u00a0"):
        return "a double space, tab, newline or no-break space inside"
    return None


def _script_problem(value: str, lang: str) -> str | None:
    if lang not in SCRIPTS:
        return None
    main, allowed = SCRIPTS[lang]
    letters = [c for c in value if c.isalpha()]
    scripts = Counter(script_of(c) for c in letters)
    foreign = sorted(s for s in scripts if s not in allowed)
    if foreign:
        return f"holds {', '.join(foreign).lower()} letters, not written in the {lang} script"
    if not any(s in main.split() for s in scripts):
        return f"has no {main.split()[0].lower()} letters: not written in the {lang} script"
    return None


def _needs_reading(target: str) -> bool:
    """True when the particle after `target` would rest on the spelling heuristic for a Latin word."""
    word = target.rstrip(" )]}'\".,")
    tail = ""
    for ch in reversed(word):
        if ch.isascii() and ch.isalpha():
            tail = ch + tail
        else:
            break
    if not tail or not word.endswith(tail):
        return False
    return not (len(tail) == 1 or (tail.isupper() and len(tail) <= 6))


def lint(g: Glossary) -> list[Problem]:
    """Every defect found: unreadable rows, duplicates, conflicts, entries that can never match (whitespace, case,
    shadowed by a dnt span), targets outside the target script, bad readings, templates that cannot be used."""
    problems = list(g.problems)
    problems += _lint_terms(g)
    problems += _lint_dnt(g)
    problems += _lint_templates(g)
    return sorted(problems, key=lambda p: (p.file, p.line, p.code))


def _lint_reading(file: str, line: int, reading: str) -> list[Problem]:
    if reading and not all(is_syllable(c) or c == " " for c in reading):
        return [Problem(file, line, "reading", f"reading {reading!r} must be written in Hangul syllables")]
    return []


def _lint_terms(g: Glossary) -> list[Problem]:
    f = TERMS_FILE
    out: list[Problem] = []
    by_fold: dict[str, list[Term]] = defaultdict(list)
    dnt_texts = {d.text for d in g.dnt}
    for t in g.terms:
        for col, value in (("source", t.source), ("target", t.target)):
            ws = _whitespace_problem(value)
            if ws:
                what = "can never match the source text" if col == "source" else "would be written into the output"
                out.append(Problem(f, t.line, "whitespace", f"{col} {value!r} has {ws}; it {what}"))
        if "⟦" in t.target or "<x " in t.target:
            out.append(Problem(f, t.line, "placeholder", f"target {t.target!r} looks like a placeholder"))
        sp = _script_problem(t.target, g.lang)
        if sp:
            hint = "; if it must stay as it is, list it in dnt.tsv" if t.target.isascii() else ""
            out.append(Problem(f, t.line, "script", f"target {t.target!r} {sp}{hint}"))
        out += _lint_reading(f, t.line, t.reading)
        if g.lang == "ko" and not sp and not t.reading and _needs_reading(t.target):
            out.append(Problem(f, t.line, "no-reading", f"target {t.target!r} ends in a Latin word; add a Hangul "
                               "reading so the particle after it is right", "warning"))
        shadow = t.source if t.source in dnt_texts else None
        if shadow is None and not t.case_sensitive:
            shadow = next((d for d in dnt_texts if d.casefold() == t.source.casefold()), None)
        if shadow is not None:
            out.append(Problem(f, t.line, "shadowed", f"source {t.source!r} is also a dnt span ({shadow!r}); the dnt "
                               "span wins and this term can never match"))
        by_fold[t.source.strip().casefold()].append(t)
    for group in by_fold.values():
        first = group[0]
        for t in group[1:]:
            same_source = t.source == first.source
            if same_source and t.target == first.target:
                out.append(Problem(f, t.line, "duplicate", f"{t.source!r} → {t.target!r} repeats line {first.line}"))
            elif same_source:
                out.append(Problem(f, t.line, "conflict", f"{t.source!r} → {t.target!r} conflicts with line "
                                   f"{first.line} ({first.source!r} → {first.target!r})"))
            elif not (t.case_sensitive and first.case_sensitive):
                loose = first if not first.case_sensitive else t
                other = t if loose is first else first
                out.append(Problem(f, t.line, "case", f"{other.source!r} (line {other.line}) differs from "
                                   f"{loose.source!r} (line {loose.line}) only in case, and {loose.source!r} is "
                                   "case-insensitive, so the two compete for the same text; keep one, or mark both "
                                   "case_sensitive"))
    return out


def _lint_dnt(g: Glossary) -> list[Problem]:
    f = DNT_FILE
    out: list[Problem] = []
    seen: dict[str, DntEntry] = {}
    for d in g.dnt:
        ws = _whitespace_problem(d.text)
        if ws:
            out.append(Problem(f, d.line, "whitespace", f"text {d.text!r} has {ws}; it can never match the source "
                               "text"))
        out += _lint_reading(f, d.line, d.reading)
        if d.text in seen:
            first = seen[d.text]
            code = "duplicate" if d.reading == first.reading else "conflict"
            out.append(Problem(f, d.line, code, f"{d.text!r} repeats line {first.line}"
                               + ("" if code == "duplicate" else f" with another reading ({first.reading!r})")))
        else:
            seen[d.text] = d
    return out


def _lint_templates(g: Glossary) -> list[Problem]:
    f = TEMPLATES_FILE
    out: list[Problem] = []
    protector = g.protector()
    seen: dict[str, Template] = {}
    for t in g.templates:
        if IMAGE_TOKEN in t.source or IMAGE_TOKEN in t.target:
            out.append(Problem(f, t.line, "image", "write templates without <image>: the token stays outside the "
                               "translated text"))
        if t.source != t.source.strip():
            out.append(Problem(f, t.line, "whitespace", f"source {t.source!r} has leading or trailing whitespace",
                               "warning"))
        elif "  " in t.source or "\t" in t.source:
            out.append(Problem(f, t.line, "whitespace", f"source {t.source!r} has a double space inside; it can "
                               "never match a prompt"))
        sp = _script_problem(t.target, g.lang)
        if sp:
            out.append(Problem(f, t.line, "script", f"target {t.target!r} {sp}"))
        body = protector.protect(t.source).body
        if body in seen:
            first = seen[body]
            if unicodedata.normalize("NFC", t.target.strip()) == unicodedata.normalize("NFC", first.target.strip()):
                out.append(Problem(f, t.line, "duplicate", f"{t.source!r} repeats line {first.line}"))
            else:
                out.append(Problem(f, t.line, "conflict", f"{t.source!r} has another translation on line "
                                   f"{first.line}"))
        else:
            seen[body] = t
    g.template_map(protector, out)
    return out


# ---- coverage ----------------------------------------------------------------------------------------------------


@dataclass
class TermCount:
    source: str
    target: str
    segments: int = 0
    covered: int = 0


@dataclass
class Coverage:
    """What a finished run did with the glossary. A "hit" is a (segment, term) pair whose output holds the target."""

    records_source: int = 0
    records_output: int = 0
    segments: int = 0
    segments_with_terms: int = 0
    term_pairs: int = 0
    term_pairs_covered: int = 0
    segments_fully_covered: int = 0
    dnt_pairs: int = 0
    dnt_pairs_kept: int = 0
    terms: dict[str, TermCount] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.term_pairs_covered / self.term_pairs if self.term_pairs else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "records_source": self.records_source, "records_output": self.records_output,
            "segments": self.segments, "segments_with_terms": self.segments_with_terms,
            "segments_fully_covered": self.segments_fully_covered,
            "term_pairs": self.term_pairs, "term_pairs_covered": self.term_pairs_covered,
            "term_pairs_missing": self.term_pairs - self.term_pairs_covered, "rate": round(self.rate, 4),
            "dnt_pairs": self.dnt_pairs, "dnt_pairs_kept": self.dnt_pairs_kept,
            "terms": {k: {"target": v.target, "segments": v.segments, "covered": v.covered}
                      for k, v in sorted(self.terms.items())},
            "misses": self.misses,
        }


def _aligned(source: Path, output: Path) -> Iterator[tuple[Any, Any]]:
    """(source record, output record) pairs. The output keeps the source's order and drops rejected records, so
    one pass over both files aligns them by id."""
    from translate.formats.readers import RecordReader
    from translate.formats.records import record_id, validate

    def shape(record: Any) -> tuple[Any, Any, int]:
        # id, image and number of turns: enough to tell apart records that share an id (LLaVA's files have some)
        turns = record.get("conversations") if isinstance(record, dict) else None
        return record_id(record), record.get("image") if isinstance(record, dict) else None, \
            len(turns) if isinstance(turns, list) else -1

    src_iter = iter(RecordReader(source))
    for out_item in RecordReader(output):
        if out_item.record is None or validate(out_item.record):
            raise GlossaryError(f"{output}: record {out_item.index} is not a valid record")
        want = record_id(out_item.record)
        for src_item in src_iter:
            if (src_item.record is not None and not validate(src_item.record)
                    and shape(src_item.record) == shape(out_item.record)):
                yield src_item.record, out_item.record
                break
        else:
            raise GlossaryError(f"{output}: record {out_item.index} (id {want!r}) has no counterpart in {source} at "
                                "or after the previous one; is this the output of that source?")


def coverage(g: Glossary, source: str | Path, output: str | Path, max_misses: int = 10) -> Coverage:
    """Walk a finished run: for each source segment holding a glossary term, does its output hold the target?
    Do-not-translate spans are counted too (kept byte for byte or not)."""
    from translate.formats.readers import RecordReader
    from translate.formats.records import field_name, translatable_fields

    source, output = Path(source), Path(output)
    finder = Glossary(lang=g.lang, terms=g.terms, dnt=g.dnt).protector()
    cov = Coverage()
    for t in g.terms:
        cov.terms.setdefault(t.source, TermCount(t.source, t.target))
    for src_rec, out_rec in _aligned(source, output):
        cov.records_output += 1
        src_fields = translatable_fields(src_rec)
        out_fields = translatable_fields(out_rec)
        for (path, _, value), (_, _, translated) in zip(src_fields, out_fields):
            cov.segments += 1
            spans = finder.protect(value).spans
            wanted: dict[str, str] = {}
            for span in spans:
                if span.kind == "term":
                    key = next((t.source for t in g.terms if t.target == span.restore
                                and t.source.casefold() == span.source.casefold()), span.source)
                    wanted.setdefault(key, span.restore)
                elif span.kind == "dnt":
                    cov.dnt_pairs += 1
                    cov.dnt_pairs_kept += span.source in translated
            if not wanted:
                continue
            cov.segments_with_terms += 1
            all_hit = True
            for key, target in wanted.items():
                count = cov.terms.setdefault(key, TermCount(key, target))
                count.segments += 1
                cov.term_pairs += 1
                if target in translated:
                    count.covered += 1
                    cov.term_pairs_covered += 1
                else:
                    all_hit = False
                    if len(cov.misses) < max_misses:
                        cov.misses.append({"id": src_rec.get("id"), "field": field_name(path), "term": key,
                                           "target": target, "source": value, "output": translated})
            cov.segments_fully_covered += all_hit
    cov.records_source = sum(1 for _ in RecordReader(source))
    return cov


# ---- editing the files -------------------------------------------------------------------------------------------


def _header(path: Path) -> tuple[int, list[str]] | None:
    """(index of the header line, its columns) of an existing glossary file, or None when it has none."""
    if not path.exists():
        return None
    for i, raw in enumerate(path.read_text(encoding="utf-8-sig").split("\n")):
        line = raw.rstrip("\r")
        if line.strip() and not line.lstrip().startswith("#"):
            return i, [c.strip().lower() for c in line.split("\t")]
    return None


def _check_cell(name: str, value: str) -> None:
    if any(c in value for c in "\t\r\n"):
        raise GlossaryError(f"{name} {value!r} holds a tab or a line break, which a TSV cell cannot hold")


def write_entry(g: Glossary, kind: str, cells: dict[str, str], replace_line: int | None = None) -> int:
    """Append a row to the kind's file (creating it with a header), or replace the row on `replace_line`. Comments,
    order and every other line are kept, so the change reads as a one-line diff. Returns the row's line number."""
    from translate.formats.writers import AtomicFile

    file, required, optional = KINDS[kind]
    path = g.path(kind)
    for name, value in cells.items():
        _check_cell(name, value)
    found = _header(path)
    if found is None:
        columns = list(required + optional)
        lines = ["\t".join(columns)]
    else:
        columns = found[1]
        lines = path.read_text(encoding="utf-8-sig").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    unknown = [k for k, v in cells.items() if v and k not in columns]
    if unknown:
        raise GlossaryError(f"{path} has no column(s) {', '.join(unknown)}; add them to its header first")
    row = [cells.get(c, "") for c in columns]
    while len(row) > len(required) and row[-1] == "":
        row.pop()
    text = "\t".join(row)
    if replace_line is not None:
        lines[replace_line - 1] = text
        number = replace_line
    else:
        lines.append(text)
        number = len(lines)
    with AtomicFile(path) as fh:
        fh.write("\n".join(lines) + "\n")
    return number


def remove_lines(g: Glossary, kind: str, numbers: Iterable[int]) -> None:
    from translate.formats.writers import AtomicFile

    path = g.path(kind)
    drop = set(numbers)
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    kept = [line for i, line in enumerate(lines, start=1) if i not in drop]
    with AtomicFile(path) as fh:
        fh.write("\n".join(kept))

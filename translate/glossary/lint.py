"""`lint`: what would make a glossary misbehave (duplicates, scripts, whitespace, templates that don't parse)."""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict

from translate.particles import is_syllable
from translate.protect import IMAGE_TOKEN
from translate.glossary.model import (
    DNT_FILE,
    DntEntry,
    Glossary,
    LintFinding,
    SCRIPTS,
    TEMPLATES_FILE,
    TERMS_FILE,
    Template,
    Term,
    script_of,
)

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


def lint(g: Glossary) -> list[LintFinding]:
    """Every defect found: unreadable rows, duplicates, conflicts, entries that can never match (whitespace, case,
    shadowed by a dnt span), targets outside the target script, bad readings, templates that cannot be used."""
    problems = list(g.problems)
    problems += _lint_terms(g)
    problems += _lint_dnt(g)
    problems += _lint_templates(g)
    return sorted(problems, key=lambda p: (p.file, p.line, p.code))


def _lint_reading(file: str, line: int, reading: str) -> list[LintFinding]:
    if reading and not all(is_syllable(c) or c == " " for c in reading):
        return [LintFinding(file, line, "reading", f"reading {reading!r} must be written in Hangul syllables")]
    return []


def _lint_terms(g: Glossary) -> list[LintFinding]:
    f = TERMS_FILE
    out: list[LintFinding] = []
    by_fold: dict[str, list[Term]] = defaultdict(list)
    dnt_texts = {d.text for d in g.dnt}
    for t in g.terms:
        for col, value in (("source", t.source), ("target", t.target)):
            ws = _whitespace_problem(value)
            if ws:
                what = "can never match the source text" if col == "source" else "would be written into the output"
                out.append(LintFinding(f, t.line, "whitespace", f"{col} {value!r} has {ws}; it {what}"))
        if "⟦" in t.target or "<x " in t.target:
            out.append(LintFinding(f, t.line, "placeholder", f"target {t.target!r} looks like a placeholder"))
        sp = _script_problem(t.target, g.lang)
        if sp:
            hint = "; if it must stay as it is, list it in dnt.tsv" if t.target.isascii() else ""
            out.append(LintFinding(f, t.line, "script", f"target {t.target!r} {sp}{hint}"))
        out += _lint_reading(f, t.line, t.reading)
        if g.lang == "ko" and not sp and not t.reading and _needs_reading(t.target):
            out.append(LintFinding(f, t.line, "no-reading", f"target {t.target!r} ends in a Latin word; add a Hangul "
                               "reading so the particle after it is right", "warning"))
        shadow = t.source if t.source in dnt_texts else None
        if shadow is None and not t.case_sensitive:
            shadow = next((d for d in dnt_texts if d.casefold() == t.source.casefold()), None)
        if shadow is not None:
            out.append(LintFinding(f, t.line, "shadowed", f"source {t.source!r} is also a dnt span ({shadow!r}); the dnt "
                               "span wins and this term can never match"))
        by_fold[t.source.strip().casefold()].append(t)
    for group in by_fold.values():
        first = group[0]
        for t in group[1:]:
            same_source = t.source == first.source
            if same_source and t.target == first.target:
                out.append(LintFinding(f, t.line, "duplicate", f"{t.source!r} → {t.target!r} repeats line {first.line}"))
            elif same_source:
                out.append(LintFinding(f, t.line, "conflict", f"{t.source!r} → {t.target!r} conflicts with line "
                                   f"{first.line} ({first.source!r} → {first.target!r})"))
            elif not (t.case_sensitive and first.case_sensitive):
                loose = first if not first.case_sensitive else t
                other = t if loose is first else first
                out.append(LintFinding(f, t.line, "case", f"{other.source!r} (line {other.line}) differs from "
                                   f"{loose.source!r} (line {loose.line}) only in case, and {loose.source!r} is "
                                   "case-insensitive, so the two compete for the same text; keep one, or mark both "
                                   "case_sensitive"))
    return out


def _lint_dnt(g: Glossary) -> list[LintFinding]:
    f = DNT_FILE
    out: list[LintFinding] = []
    seen: dict[str, DntEntry] = {}
    for d in g.dnt:
        ws = _whitespace_problem(d.text)
        if ws:
            out.append(LintFinding(f, d.line, "whitespace", f"text {d.text!r} has {ws}; it can never match the source "
                               "text"))
        out += _lint_reading(f, d.line, d.reading)
        if d.text in seen:
            first = seen[d.text]
            code = "duplicate" if d.reading == first.reading else "conflict"
            out.append(LintFinding(f, d.line, code, f"{d.text!r} repeats line {first.line}"
                               + ("" if code == "duplicate" else f" with another reading ({first.reading!r})")))
        else:
            seen[d.text] = d
    return out


def _lint_templates(g: Glossary) -> list[LintFinding]:
    f = TEMPLATES_FILE
    out: list[LintFinding] = []
    protector = g.protector()
    seen: dict[str, Template] = {}
    for t in g.templates:
        if IMAGE_TOKEN in t.source or IMAGE_TOKEN in t.target:
            out.append(LintFinding(f, t.line, "image", "write templates without <image>: the token stays outside the "
                               "translated text"))
        if t.source != t.source.strip():
            out.append(LintFinding(f, t.line, "whitespace", f"source {t.source!r} has leading or trailing whitespace",
                               "warning"))
        elif "  " in t.source or "\t" in t.source:
            out.append(LintFinding(f, t.line, "whitespace", f"source {t.source!r} has a double space inside; it can "
                               "never match a prompt"))
        sp = _script_problem(t.target, g.lang)
        if sp:
            out.append(LintFinding(f, t.line, "script", f"target {t.target!r} {sp}"))
        body = protector.protect(t.source).body
        if body in seen:
            first = seen[body]
            if unicodedata.normalize("NFC", t.target.strip()) == unicodedata.normalize("NFC", first.target.strip()):
                out.append(LintFinding(f, t.line, "duplicate", f"{t.source!r} repeats line {first.line}"))
            else:
                out.append(LintFinding(f, t.line, "conflict", f"{t.source!r} has another translation on line "
                                   f"{first.line}"))
        else:
            seen[body] = t
    g.template_map(protector, out)
    return out



"""``python -m translate glossary list|add|remove|lint|sync-deepl|coverage``: keep a glossary healthy.

See docs/glossary.md for the file format and how a run uses it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from translate.cli.app import app
from translate.cli.options import OptOpt, SourceLangOpt, TargetOpt
from translate.config import parse_pairs
from translate.glossary import (
    KINDS,
    Glossary,
    GlossaryError,
    coverage,
    deepl_glossary_name,
    find_glossary_dir,
    lint,
    remove_lines,
    write_entry,
)

glossary_app = typer.Typer(
    name="glossary",
    help="Keep the glossary healthy: terms, do-not-translate spans and curated prompt templates.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(glossary_app, name="glossary")

GlossaryOpt = typer.Option(None, "--glossary", "-g", help="Glossary folder. Default: ./glossaries/<target>, else "
                                                         "the one shipped with the tool.")
KindOpt = typer.Option("terms", "--kind", "-k", help="terms | dnt | templates.")

# Singular spellings are accepted too: --kind term, --kind template.
_KIND_ALIASES = {"term": "terms", "terms": "terms", "dnt": "dnt", "template": "templates", "templates": "templates"}


def _out() -> Console:
    # Plain, unwrapped lines on stdout: the output is for people and for grep.
    return Console(soft_wrap=True, highlight=False, width=max(120, Console().width))


def _kind(kind: str) -> str:
    k = _KIND_ALIASES.get(kind.strip().lower())
    if k is None:
        raise GlossaryError(f"--kind must be terms, dnt or templates, not {kind!r}")
    return k


def _target(target: Optional[str]) -> str:
    return target or "ko"


def _open(glossary: Optional[str], target: Optional[str], strict: bool = False, create: bool = False) -> Glossary:
    lang = _target(target)
    folder = find_glossary_dir(glossary, lang) if glossary is None or Path(glossary).is_dir() else None
    if folder is None:
        if glossary is not None and glossary.strip().lower() in ("none", "off", "no", ""):
            raise GlossaryError("--glossary none: there is no glossary to work on")
        if not create:
            where = glossary or f"./glossaries/{lang}"
            raise GlossaryError(f"no glossary folder at {where}; create one with `glossary add`, or pass --glossary")
        folder = Path(glossary) if glossary else Path("glossaries") / lang
        folder.mkdir(parents=True, exist_ok=True)
    return Glossary.load(folder, lang=lang, strict=strict)


@glossary_app.command("list")
def list_(
    kind: str = typer.Option("all", "--kind", "-k", help="terms | dnt | templates | all."),
    glossary: Optional[str] = GlossaryOpt,
    target: Optional[str] = TargetOpt,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per entry, for scripts."),
) -> None:
    """Show the entries of the glossary."""
    g = _open(glossary, target)
    kinds = list(KINDS) if kind == "all" else [_kind(kind)]
    out = _out()
    if as_json:
        for k in kinds:
            for e in g.entries(k):
                row = {"kind": k, **{name: getattr(e, name) for name in e.__slots__}}
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    out.print(f"glossary {g.folder} ({g.lang}): {len(g.terms)} terms, {len(g.dnt)} dnt spans, "
              f"{len(g.templates)} templates")
    for k in kinds:
        _, required, optional = KINDS[k]
        table = Table(title=f"{k} ({g.path(k).name})", title_justify="left")
        table.add_column("line", justify="right")
        columns = [c for c in required + optional]
        for c in columns:
            table.add_column(c)
        for e in g.entries(k):
            cells = []
            for c in columns:
                v = getattr(e, c)
                cells.append(("yes" if v else "") if isinstance(v, bool) else repr(v) if v != v.strip() else v)
            table.add_row(str(e.line), *cells)
        out.print(table)


@glossary_app.command()
def add(
    source: str = typer.Argument(..., help="The source term, dnt text, or template prompt (without <image>)."),
    target_text: Optional[str] = typer.Argument(None, metavar="[TARGET]", help="Its translation (not for dnt)."),
    kind: str = KindOpt,
    reading: str = typer.Option("", "--reading", help="Hangul reading of a target (or dnt span) ending in Latin "
                                                     "letters or digits, for the particle after it."),
    case_sensitive: bool = typer.Option(False, "--case-sensitive", help="Terms: match the exact case only."),
    note: str = typer.Option("", "--note", help="A note for reviewers."),
    set_: str = typer.Option("", "--set", help="Templates: where the prompt comes from."),
    replace: bool = typer.Option(False, "--replace", help="Replace an entry with the same source in place."),
    glossary: Optional[str] = GlossaryOpt,
    target: Optional[str] = TargetOpt,
) -> None:
    """Add an entry (checked by lint before it is written)."""
    k = _kind(kind)
    if k == "dnt" and target_text is not None:
        raise GlossaryError("a dnt span has no translation: pass only its text")
    if k != "dnt" and not target_text:
        raise GlossaryError(f"a {k[:-1]} needs a translation: glossary add SOURCE TARGET --kind {k}")
    g = _open(glossary, target, create=True)
    key = "text" if k == "dnt" else "source"
    same = [e for e in g.entries(k) if getattr(e, key) == source]
    if same and not replace:
        raise GlossaryError(f"{source!r} is already in {g.path(k)} on line {same[0].line}; pass --replace to "
                            "change it")
    cells = {key: source, "note": note}
    if k == "terms":
        cells.update(target=target_text or "", case_sensitive="yes" if case_sensitive else "no", reading=reading)
    elif k == "dnt":
        cells.update(reading=reading)
    else:
        cells.update(target=target_text or "", set=set_)
    # Lint the glossary as it would be, and refuse an entry that brings an error of its own.
    from dataclasses import replace as dc_replace

    from translate.glossary import DntEntry, Template, Term

    line = same[0].line if same else 10**9
    if k == "terms":
        entry = Term(source, cells["target"], case_sensitive, reading, note, line)
    elif k == "dnt":
        entry = DntEntry(source, reading, note, line)
    else:
        entry = Template(source, cells["target"], set_, note, line)
    trial = dc_replace(g, terms=list(g.terms), dnt=list(g.dnt), templates=list(g.templates), problems=[])
    entries = trial.entries(k)
    entries[:] = [e for e in entries if getattr(e, key) != source] + [entry]
    own = [p for p in lint(trial) if p.line == line and p.file == KINDS[k][0] and p.severity == "error"]
    if own:
        details = "; ".join(f"{p.code}: {p.message}" for p in own)
        raise GlossaryError(f"not added: {details}")
    number = write_entry(g, k, cells, replace_line=same[0].line if same else None)
    if same[1:]:
        remove_lines(g, k, [e.line for e in same[1:]])
    verb = "replaced" if same else "added"
    _out().print(f"{verb} {k[:-1] if k != 'dnt' else 'dnt span'} {source!r}"
                 + (f" → {target_text!r}" if target_text else "") + f" in {g.path(k)}:{number}")


@glossary_app.command()
def remove(
    source: str = typer.Argument(..., help="The source (terms, templates) or text (dnt) of the entry."),
    kind: str = KindOpt,
    glossary: Optional[str] = GlossaryOpt,
    target: Optional[str] = TargetOpt,
) -> None:
    """Remove an entry (every row with exactly this source)."""
    k = _kind(kind)
    g = _open(glossary, target)
    key = "text" if k == "dnt" else "source"
    rows = [e for e in g.entries(k) if getattr(e, key) == source]
    if not rows:
        close = [getattr(e, key) for e in g.entries(k) if getattr(e, key).strip().casefold() == source.casefold()]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise GlossaryError(f"{source!r} is not in {g.path(k)}{hint}")
    remove_lines(g, k, [e.line for e in rows])
    where = ", ".join(str(e.line) for e in rows)
    _out().print(f"removed {source!r} from {g.path(k)} (line{'s' if len(rows) > 1 else ''} {where})")


@glossary_app.command("lint")
def lint_(
    glossary: Optional[str] = GlossaryOpt,
    target: Optional[str] = TargetOpt,
    strict: bool = typer.Option(False, "--strict", help="Fail on warnings too."),
) -> None:
    """Find duplicates, conflicts, entries that can never match (whitespace, case), targets not in the target
    script, and templates that cannot be used. Exits 1 when it finds an error."""
    g = _open(glossary, target)
    problems = lint(g)
    out = _out()
    for p in problems:
        out.print(str(p), markup=False)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    out.print(f"{g.folder}: {len(g.terms)} terms, {len(g.dnt)} dnt spans, {len(g.templates)} templates; "
              f"{errors} error(s), {warnings} warning(s)")
    if errors or (strict and warnings):
        raise typer.Exit(1)


@glossary_app.command("sync-deepl")
def sync_deepl(
    name: Optional[str] = typer.Option(None, "--name", help="Glossary name on the DeepL account. Default: "
                                                           "'llava-translate <source>-<target>'."),
    server_url: Optional[str] = typer.Option(None, "--deepl-server-url", help="A proxy or DeepL-compatible server."),
    opt: Optional[list[str]] = OptOpt,
    glossary: Optional[str] = GlossaryOpt,
    target: Optional[str] = TargetOpt,
    source_lang: Optional[str] = SourceLangOpt,
) -> None:
    """Create or replace the DeepL glossary from terms.tsv (key: DEEPL_AUTH_KEY). An identical glossary already on
    the account is kept; older ones with the same name are deleted. Runs with --backend deepl do this by
    themselves; use this to check the glossary in advance or to get its id for --opt glossary_id=ID."""
    from translate.backends.base import create_backend

    lang, src = _target(target), source_lang or "en"
    g = _open(glossary, target, strict=True)
    terms = g.term_dict()
    if not terms:
        raise GlossaryError(f"{g.path('terms')} holds no terms to send")
    errors = [p for p in lint(g) if p.severity == "error" and p.file == KINDS["terms"][0]]
    if errors:
        raise GlossaryError(f"terms.tsv has {len(errors)} lint error(s) (first: {errors[0]}); fix them first")
    options = parse_pairs(opt)
    if server_url:
        options["server_url"] = server_url
    backend = create_backend("deepl", src, lang, options)
    try:
        glossary_id = backend.sync_glossary(terms, name or deepl_glossary_name(src, lang))
    finally:
        backend.close()
    _out().print(f"DeepL glossary {name or deepl_glossary_name(src, lang)!r} ({src}→{lang}, {len(terms)} entries): "
                 f"{glossary_id}")


@glossary_app.command("coverage")
def coverage_(
    source: str = typer.Argument(..., help="The source file of the run."),
    output: str = typer.Argument(..., help="The run's output file, or its output folder."),
    glossary: Optional[str] = GlossaryOpt,
    target: Optional[str] = TargetOpt,
    examples: int = typer.Option(10, "--examples", help="Misses to show."),
    as_json: bool = typer.Option(False, "--json", help="The counts as JSON."),
    min_rate: Optional[float] = typer.Option(None, "--min-rate", help="Exit 1 when fewer than this share (0-1) of "
                                                                     "term occurrences are covered."),
) -> None:
    """Walk a finished run: for each source segment that holds a term, does the output hold the target term?"""
    lang = _target(target)
    g = _open(glossary, target)
    out_path = Path(output)
    if out_path.is_dir():
        stem = Path(source).stem
        candidates = [out_path / f"{lang}_{stem}.json", out_path / f"{lang}_{stem}.jsonl"]
        found = [c for c in candidates if c.exists()]
        if not found:
            raise GlossaryError(f"{output} holds no {candidates[0].name} or {candidates[1].name}")
        out_path = found[0]
    for p in (Path(source), out_path):
        if not p.is_file():
            raise GlossaryError(f"{p}: no such file")
    cov = coverage(g, source, out_path, max_misses=examples)
    out = _out()
    if as_json:
        sys.stdout.write(json.dumps(cov.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        missing = cov.term_pairs - cov.term_pairs_covered
        out.print(f"coverage of {g.folder} on {out_path} (source {source})", markup=False)
        out.print(f"records: {cov.records_source:,} in the source, {cov.records_output:,} in the output")
        out.print(f"segments: {cov.segments:,}; holding a term: {cov.segments_with_terms:,}; every term covered: "
                  f"{cov.segments_fully_covered:,}")
        out.print(f"term occurrences (segment, term): {cov.term_pairs:,}; target in the output: "
                  f"{cov.term_pairs_covered:,} ({cov.rate:.1%}); missing: {missing:,}")
        out.print(f"dnt spans: {cov.dnt_pairs:,}; kept byte for byte: {cov.dnt_pairs_kept:,}")
        used = [t for t in cov.terms.values() if t.segments]
        if used:
            out.print("per term (covered/segments):")
            for t in sorted(used, key=lambda t: (-t.segments, t.source)):
                out.print(f"  {t.source} → {t.target}: {t.covered}/{t.segments}", markup=False)
        if cov.misses:
            out.print(f"misses (first {len(cov.misses)}):")
            for m in cov.misses:
                out.print(f"  id {m['id']!r} {m['field']}: {m['term']!r} → {m['target']!r} not in "
                          f"{m['output']!r}", markup=False)
    if min_rate is not None and cov.rate < min_rate:
        raise typer.Exit(1)

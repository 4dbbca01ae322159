"""``memory import | export | stats``: fill the translation memory from published translations or TMX, write it
out for translation tools, and see what it holds. See docs/memory.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from translate.cli.app import app, console
from translate.cli.options import JobFlags, job_options
from translate.errors import ConfigError

memory_app = typer.Typer(
    help="The translation memory: import published translations or TMX, export TMX / JSONL / Parquet, stats.",
    no_args_is_help=True,
)
app.add_typer(memory_app, name="memory")

# Options a command that only reads or writes the memory has no use for.
_RUN_ONLY = ("window", "on_reject")
_BACKEND = ("backend", "opt", "model", "device", "device_index", "compute_type", "beam_size", "deepl_server_url")


def _memory_path(cfg, what: str) -> Path:
    """The memory a run with these options would use; export and stats need one that exists."""
    if not (cfg.memory or cfg.out or cfg.src):
        raise ConfigError(f"give --memory FILE: the translation memory to {what}")
    path = cfg.memory_path()
    if not path.exists():
        raise ConfigError(f"--memory {path}: no such translation memory")
    return path


@memory_app.command("import")
@job_options(exclude=_RUN_ONLY)
def import_command(
    job: JobFlags,
    translated: Optional[str] = typer.Option(None, "--translated", help="The published translation of --src (same "
                                             "records, aligned by id, else by position)."),
    tmx: Optional[str] = typer.Option(None, "--tmx", help="A TMX file instead (e.g. a reviewer's corrections)."),
    origin: Optional[str] = typer.Option(None, "--origin", help="Name kept on every imported row, e.g. kollava "
                                         "(stored as import:kollava). Default: the file's name."),
    prefer: str = typer.Option("existing", "--prefer", help="existing (default): a segment already in the memory "
                               "keeps its translation; import: the imported one replaces it. Counted either way."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Store published translations (or a TMX) in the memory under the keys a later `run` with the same --backend
    and options computes, so it sends nothing for them. Only turns that pass QC go in; the rest are listed with
    their reasons in <name>.skipped.jsonl."""
    from translate.memory import TranslationMemory
    from translate.tm.importer import PREFER, import_published, origin_name
    from translate.tm.pairs import open_pair_maker

    if prefer not in PREFER:
        raise ConfigError(f"--prefer must be one of {', '.join(PREFER)}, not {prefer!r}")
    if (translated is None) == (tmx is None):
        raise ConfigError("give either --translated FILE (with --src FILE) or --tmx FILE")
    cfg = job.load()
    if translated is not None:
        sources = cfg.sources()
        if len(sources) != 1:
            raise ConfigError(f"--translated pairs with exactly one --src file, not {len(sources)}")
        source, given = sources[0], Path(translated)
        if not given.is_file():
            raise ConfigError(f"--translated {translated}: no such file")
    else:
        given = Path(tmx)
        if not given.is_file():
            raise ConfigError(f"--tmx {tmx}: no such file")
        if not (cfg.memory or cfg.out or cfg.src):
            raise ConfigError("give --memory FILE: the translation memory to import into")
    maker, backend = open_pair_maker(cfg)
    info = {"backend": cfg.backend, "fingerprint": backend.fingerprint(), "source_lang": cfg.source,
            "target_lang": cfg.target}
    out_dir = Path(cfg.out) if cfg.out else given.parent
    try:
        with TranslationMemory(cfg.memory_path()) as memory:
            if translated is not None:
                stats, paths = import_published(source, given, memory, maker, origin=origin_name(origin, given),
                                                prefer=prefer, out_dir=out_dir, info=info)
            else:
                from translate.tm.tmx_import import import_tmx

                stats, paths = import_tmx(given, memory, maker, origin=origin_name(origin, given, "tmx"),
                                          prefer=prefer, out_dir=out_dir, info=info)
    finally:
        backend.close()
    counts = stats.as_dict()
    if as_json:
        typer.echo(json.dumps({"counts": counts, **{k: str(v) for k, v in paths.items()}}, indent=2,
                              ensure_ascii=False))
        return
    Console().print(_import_table(counts, given))
    console.print(f"skipped turns and records with their reasons: {paths['skipped']}", highlight=False)


def _import_table(c: dict, given: Path) -> Table:
    table = Table(title=f"memory import · {given.name}", title_justify="left")
    table.add_column("", style="bold")
    table.add_column("count", justify="right")
    for name in ("records_source", "records_translated", "matched_by_id", "matched_by_position", "records_skipped",
                 "turns", "imported", "same", "kept_existing", "replaced", "repeated", "repeated_differently",
                 "templates", "no_segment", "normalised", "turns_skipped"):
        if name in c:
            table.add_row(name.replace("_", " "), f"{c[name]:,}")
    for code, n in c["reasons"].items():
        table.add_row(f"  skipped: {code}", f"{n:,}")
    if c.get("records_per_second"):
        table.add_row("records/s", f"{c['records_per_second']:,.0f}")
    return table


@memory_app.command("export")
@job_options(exclude=_RUN_ONLY + _BACKEND + ("src", "out"))
def export_command(
    job: JobFlags,
    fmt: str = typer.Option("tmx", "--format", help="tmx (TMX 1.4) | jsonl | parquet."),
    out: str = typer.Option(..., "--out", help="The file to write."),
) -> None:
    """Write the memory's segments of one language pair (--source-lang, --target) with the real text in place of
    placeholders: TMX 1.4 for translation tools, JSONL or Parquet for analysis."""
    from translate.glossary import load_for_run
    from translate.memory import TranslationMemory
    from translate.tm.export import export_memory

    cfg = job.load()
    path = _memory_path(cfg, "export")
    glossary = load_for_run(cfg.glossary, cfg.target)
    # The target side is written as a run writes it: the particle after a glossary term corrected for the term.
    after_span = glossary.particle_hook() if cfg.target == "ko" else None
    with TranslationMemory(path) as memory:
        stats = export_memory(memory, fmt, out, cfg.source, cfg.target, after_span)
    skipped = sum(stats.skipped.values())
    console.print(f"[green]✓[/] {stats.exported:,} segments → {out}", highlight=False)
    for reason, n in sorted(stats.skipped.items()):
        console.print(f"  left out: {n:,} ({reason}: {_SKIP_HELP.get(reason, '')})", highlight=False)
    if stats.unrestored:
        console.print(f"  {stats.unrestored:,} rows keep their placeholders: their spans are unknown (written "
                      "before this version stored them)", highlight=False)
    if skipped and not stats.exported:
        raise typer.Exit(1)


_SKIP_HELP = {
    "spans_unknown": "placeholders whose text this memory does not know: written before spans were stored",
    "spans_mismatch": "the stored spans do not fit the placeholders",
    "not_xml_safe": "a control character XML cannot carry",
}


@memory_app.command("stats")
@job_options(exclude=_RUN_ONLY + _BACKEND + ("glossary",))
def stats_command(job: JobFlags, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Segments by origin and language pair, and the size of the file."""
    from dataclasses import asdict

    from translate.memory import TranslationMemory

    cfg = job.load()
    path = _memory_path(cfg, "describe")
    with TranslationMemory(path) as memory:
        stats = memory.stats()
    if as_json:
        typer.echo(json.dumps(asdict(stats), indent=2, ensure_ascii=False))
        return
    table = Table(title=f"memory · {path} · {_size(stats.bytes)} · {stats.segments:,} segments · schema {stats.schema}",
                  title_justify="left")
    table.add_column("origin", style="bold")
    table.add_column("languages")
    table.add_column("segments", justify="right")
    for origin, pair, n in stats.by_origin_and_pair:
        table.add_row(origin, pair, f"{n:,}")
    Console().print(table)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GB"

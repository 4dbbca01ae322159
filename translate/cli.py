"""The command line: ``python -m translate run|…``.

Commands stay thin: they read options into a `RunConfig`, build the pieces, and hand over to the pipeline. Every
`TranslateError` becomes a one-line message and its own exit code; no traceback reaches the user for expected
failures.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from translate.config import RunConfig, load_config, parse_pairs, redact
from translate.errors import TranslateError

app = typer.Typer(
    name="translate",
    help="Translate LLaVA visual-instruction data (JSON/JSONL) into Korean and other languages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Translate LLaVA visual-instruction data (JSON/JSONL) into Korean and other languages."""


# Shared option definitions: every command that takes sources and a backend spells them the same way.
SrcOpt = typer.Option(None, "--src", help="Source file(s) or glob(s): JSON array or JSONL. Repeatable.")
OutOpt = typer.Option(None, "--out", help="Output folder (default: beside each source).")
TargetOpt = typer.Option(None, "--target", help="Target language (ISO code); also the output prefix. Default: ko.")
SourceLangOpt = typer.Option(None, "--source-lang", help="Source language (ISO code). Default: en.")
BackendOpt = typer.Option(None, "--backend", help="pseudo | nllb | deepl | google | an installed plug-in. Default: nllb.")
MemoryOpt = typer.Option(None, "--memory", help="Translation memory (SQLite). Default: OUT/translation_memory.sqlite.")
ConfigOpt = typer.Option(None, "--config", help="TOML file with the same options.")
OptOpt = typer.Option(None, "--opt", help="Backend option KEY=VALUE (e.g. beam_size=4). Repeatable.")
ModelOpt = typer.Option(None, "--model", help="Model: a local folder or a hub id (nllb).")
DeviceOpt = typer.Option(None, "--device", help="auto | cpu | cuda (nllb).")
DeviceIndexOpt = typer.Option(None, "--device-index", help="GPUs to use, e.g. 0,1 (nllb; one model per GPU).")
ComputeTypeOpt = typer.Option(None, "--compute-type", help="auto (int8_float16 on CUDA, int8 on CPU) or a "
                              "CTranslate2 type (nllb).")
BeamSizeOpt = typer.Option(None, "--beam-size", help="Beam size (nllb). Default 2.")


def common_flags(src, out, target, source_lang, backend, memory, opt, model=None, device=None,
                 deepl_server_url=None, device_index=None, compute_type=None, beam_size=None) -> dict[str, Any]:
    backend_options = parse_pairs(opt)
    for key, value in (("device_index", device_index), ("compute_type", compute_type), ("beam_size", beam_size)):
        if value is not None:
            backend_options[key] = value
    if deepl_server_url is not None:
        backend_options["server_url"] = deepl_server_url
    if model is not None:
        backend_options["model"] = model
    if device is not None:
        backend_options["device"] = device
    return {
        "src": src, "out": out, "target": target, "source": source_lang, "backend": backend, "memory": memory,
        "backend_options": backend_options,
    }


class RateColumn(ProgressColumn):
    """Records done and segments per second, from the pipeline's counters."""

    def render(self, task) -> Text:
        records = task.fields.get("records", 0)
        elapsed = task.elapsed or 0.0
        rate = task.fields.get("segments", 0) / elapsed if elapsed > 0 else 0.0
        return Text(f"{records:,} records · {rate:,.0f} seg/s", style="cyan")


def make_progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=False,
    )


def build_pipeline(cfg: RunConfig, backend=None):
    """The backend, memory and pipeline for a config. The caller closes backend and memory. `backend`: one already
    built (the cluster assemble passes a stand-in that sends nothing)."""
    from translate.backends.base import create_backend
    from translate.memory import TranslationMemory
    from translate.pipeline import Pipeline, RunOptions

    options = RunOptions(source_lang=cfg.source, target_lang=cfg.target, window=cfg.window,
                         on_reject=cfg.on_reject, qc=cfg.qc)
    if backend is None:
        backend = create_backend(cfg.backend, cfg.source, cfg.target, cfg.backend_options)
    memory = TranslationMemory(cfg.memory_path())
    protector, templates = load_protection(cfg, backend)
    return backend, memory, Pipeline(backend, memory, options, protector=protector, templates=templates)


def load_protection(cfg: RunConfig, backend):
    """The protector (placeholders, do-not-translate spans, glossary terms) and curated templates for a run, from the
    glossary folder (`cfg.glossary`, else ./glossaries/<target>, else the one shipped with the tool)."""
    from translate.glossary import protection_for_run

    return protection_for_run(cfg.glossary, cfg.source, cfg.target, backend)


@app.command()
def run(
    src: Optional[list[str]] = SrcOpt,
    out: Optional[str] = OutOpt,
    target: Optional[str] = TargetOpt,
    source_lang: Optional[str] = SourceLangOpt,
    backend: Optional[str] = BackendOpt,
    memory: Optional[str] = MemoryOpt,
    config: Optional[str] = ConfigOpt,
    opt: Optional[list[str]] = OptOpt,
    model: Optional[str] = ModelOpt,
    device: Optional[str] = DeviceOpt,
    device_index: Optional[str] = DeviceIndexOpt,
    compute_type: Optional[str] = ComputeTypeOpt,
    beam_size: Optional[int] = BeamSizeOpt,
    window: Optional[int] = typer.Option(None, "--window", help="Records per window (bounds memory). Default 1024."),
    on_reject: Optional[str] = typer.Option(None, "--on-reject", help="drop (default) | keep-source | keep."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    engine: str = typer.Option("local", "--engine", help="local | ray (the translate stage on Ray Data actors)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", help="Ray: actors (default: one per GPU)."),
    deepl_server_url: Optional[str] = typer.Option(
        None, "--deepl-server-url", help="deepl: a proxy or DeepL-compatible server (same as --opt server_url=URL)."),
    glossary: Optional[str] = typer.Option(
        None, "--glossary", help="Glossary folder (terms/dnt/templates TSV); 'none' for none. Default: "
        "./glossaries/<target>, else the one shipped with the tool."),
) -> None:
    """Translate LLaVA file(s) end to end: plan, translate, assemble. Writes <target>_<name>.json beside a
    .rejected.jsonl and a .manifest.json."""
    flags = common_flags(src, out, target, source_lang, backend, memory, opt, model, device,
                         deepl_server_url=deepl_server_url, device_index=device_index, compute_type=compute_type,
                         beam_size=beam_size)
    flags.update(window=window, on_reject=on_reject, glossary=glossary)
    cfg = load_config(config, flags)
    sources = cfg.sources()
    if engine != "local":
        from translate.cli_cluster import run_with_ray
        from translate.executors import check_engine

        check_engine(engine)
        return run_with_ray(cfg, quiet, concurrency)
    backend_obj, memory_obj, pipeline = build_pipeline(cfg)
    totals = None
    try:
        total_bytes = sum(p.stat().st_size for p in sources)
        done_bytes = 0
        with make_progress(quiet) as progress:
            task = progress.add_task("translating", total=total_bytes, records=0, segments=0)
            from translate.pipeline import Stats

            totals = Stats()
            for path in sources:
                progress.update(task, description=path.name)

                def on_progress(bytes_read: int, stats: Stats, _base=done_bytes) -> None:
                    progress.update(task, completed=_base + bytes_read, records=totals.records_in + stats.records_in,
                                    segments=totals.segments_total + stats.segments_total)

                stats = pipeline.run_file(path, cfg.out_dir(path), progress=on_progress,
                                          manifest_extra={"options": {**_manifest_options(cfg)}})
                totals.add(stats)
                done_bytes += path.stat().st_size
                progress.update(task, completed=done_bytes)
                if quiet:
                    continue
                console.print(f"[green]✓[/] {path} → {cfg.out_dir(path)}: {stats.records_kept:,} kept, "
                              f"{stats.records_rejected:,} rejected, {stats.segments_sent:,} segments sent "
                              f"({stats.characters_sent:,} chars), {stats.memory_hits:,} from memory")
    finally:
        backend_obj.close()
        memory_obj.close()
    if not quiet and totals is not None and len(sources) > 1:
        print_totals(totals)


def _manifest_options(cfg: RunConfig) -> dict[str, Any]:
    return {
        "target": cfg.target, "source": cfg.source, "backend": cfg.backend, "window": cfg.window,
        "on_reject": cfg.on_reject, "qc": cfg.qc, "backend_options": redact(cfg.backend_options),
    }


def print_totals(stats) -> None:
    table = Table(title="run totals")
    table.add_column("counter")
    table.add_column("value", justify="right")
    for name, value in stats.as_dict().items():
        if name != "reasons":
            table.add_row(name, f"{value:,}")
    for code, count in stats.reasons.items():
        table.add_row(f"reason: {code}", f"{count:,}")
    console.print(table)


# Other commands live in their own modules and register themselves on `app` when imported.
_COMMAND_MODULES: list[str] = ["translate.cli_cluster", "translate.cli_estimate", "translate.cli_prompts",
                               "translate.cli_glossary", "translate.cli_check", "translate.cli_report"]


def _register_commands() -> None:
    import importlib

    for name in _COMMAND_MODULES:
        importlib.import_module(name)


def main(argv: list[str] | None = None) -> None:
    _register_commands()
    try:
        app(args=argv, prog_name="python -m translate")
    except TranslateError as exc:
        # One line, never wrapped: messages name files and byte offsets that people grep for. markup=False: a
        # message quoting input text (e.g. "[/x]") must print as is, not be read as rich markup.
        console.print("[red]error:[/] ", end="", highlight=False)
        console.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted.[/] Everything translated so far is in the memory; rerun to resume.")
        sys.exit(130)
    except SystemExit as exc:
        if exc.code == 130:  # typer turns Ctrl-C into a silent exit 130; say what was kept and how to go on
            console.print("[yellow]interrupted.[/] Everything translated so far is in the memory; rerun to resume.")
        raise

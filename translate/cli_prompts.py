"""``python -m translate prompts``: translate LLaVA's GPT-4 prompt folders."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from translate.cli import (
    BackendOpt,
    ConfigOpt,
    DeviceOpt,
    MemoryOpt,
    ModelOpt,
    OptOpt,
    SourceLangOpt,
    TargetOpt,
    _manifest_options,
    app,
    build_pipeline,
    common_flags,
    console,
)
from translate.config import load_config
from translate.errors import ConfigError


@app.command("prompts")
def prompts(
    src: Optional[list[str]] = typer.Option(
        None, "--src", help="A prompt folder (system_message.txt, NNN_caps.txt, NNN_conv.txt) or a folder of them. "
        "Repeatable."),
    out: Optional[str] = typer.Option(None, "--out", help="Output folder (required; never the source folder)."),
    target: Optional[str] = TargetOpt,
    source_lang: Optional[str] = SourceLangOpt,
    backend: Optional[str] = BackendOpt,
    memory: Optional[str] = MemoryOpt,
    config: Optional[str] = ConfigOpt,
    opt: Optional[list[str]] = OptOpt,
    model: Optional[str] = ModelOpt,
    device: Optional[str] = DeviceOpt,
    labels: str = typer.Option("keep", "--labels", help="Box labels in NNN_caps.txt: keep (COCO category names, "
                               "default) | translate."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
) -> None:
    """Translate GPT-4 prompt folders: system message, captions and few-shot conversations, keeping the
    Question:/===/Answer: structure and box coordinates byte for byte. Exits 1 when a file was rejected."""
    from translate.prompts import translate_prompts

    flags = common_flags(src, out, target, source_lang, backend, memory, opt, model, device)
    cfg = load_config(config, flags)
    if not cfg.out:
        raise ConfigError("prompts needs --out DIR (the translated folders are written there, never over the source)")
    sources = cfg.sources()
    backend_obj, memory_obj, pipeline = build_pipeline(cfg)
    try:
        result = translate_prompts(pipeline, sources, Path(cfg.out), labels=labels,
                                   manifest_extra={"options": {**_manifest_options(cfg), "labels": labels}})
    finally:
        backend_obj.close()
        memory_obj.close()
    stats = result.stats
    if not quiet:
        for folder in result.folders:
            console.print(f"[green]✓[/] {folder.source} → {folder.output}: {len(folder.written)} written, "
                          f"{len(folder.rejected)} rejected", highlight=False, soft_wrap=True)
        console.print(f"{stats.segments_total:,} lines, {stats.segments_sent:,} sent "
                      f"({stats.characters_sent:,} chars), {stats.memory_hits:,} from memory; "
                      f"manifest {result.manifest}", highlight=False, soft_wrap=True)
    if result.rejected:
        console.print(f"[red]{result.rejected} prompt file(s) rejected[/]; reasons in "
                      f"{Path(cfg.out) / 'prompts.rejected.jsonl'}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)

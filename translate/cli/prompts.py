"""``python -m translate prompts``: translate LLaVA's GPT-4 prompt folders."""

from __future__ import annotations

from pathlib import Path

import typer

from translate.cli.app import app, console
from translate.cli.options import JobFlags, job_options
from translate.errors import ConfigError


@app.command("prompts")
@job_options(exclude=("window", "on_reject"))
def prompts(
    job: JobFlags,
    labels: str = typer.Option("keep", "--labels", help="Box labels in NNN_caps.txt: keep (COCO category names, "
                               "default) | translate."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
) -> None:
    """Translate GPT-4 prompt folders: system message, captions and few-shot conversations, keeping the
    Question:/===/Answer: structure and box coordinates byte for byte. Exits 1 when a file was rejected."""
    from translate.prompt_folders import translate_prompts
    from translate.runtime import manifest_options, open_job

    cfg = job.load()
    if not cfg.out:
        raise ConfigError("prompts needs --out DIR (the translated folders are written there, never over the source)")
    sources = cfg.sources()
    with open_job(cfg) as opened:
        result = translate_prompts(opened.pipeline, sources, Path(cfg.out), labels=labels,
                                   manifest_extra={"options": {**manifest_options(cfg), "labels": labels}})
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

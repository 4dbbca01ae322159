"""``run``: plan, translate and assemble one or more files in one process (or, with --engine ray, on Ray)."""

from __future__ import annotations

from typing import Optional

import typer

from translate.cli.app import app
from translate.cli.options import JobFlags, QuietOpt, job_options
from translate.cli.progress import FileBar, print_totals


@app.command()
@job_options(outputs=True)
def run(
    job: JobFlags,
    quiet: bool = QuietOpt,
    engine: str = typer.Option("local", "--engine", help="local | ray (the translate stage on Ray Data actors)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", help="Ray: actors (default: one per GPU)."),
) -> None:
    """Translate LLaVA file(s) end to end: plan, translate, assemble. Writes <target>_<name>.json beside a
    .rejected.jsonl and a .manifest.json."""
    from translate.errors import ConfigError
    from translate.executors import get_executor
    from translate.runtime import open_job, plan_outputs, run_files

    cfg = job.load()
    sources = cfg.sources()
    # Every output is planned (collisions, sources, files we did not write) before a backend or memory is opened.
    plan_outputs(cfg, sources)
    if engine != "local":
        if cfg.partial:
            raise ConfigError("--limit and --sample preview a run on this machine; drop --engine for the preview")
        from translate.cluster.oneshot import run_on_cluster

        executor = get_executor(engine, concurrency=concurrency, quiet=quiet)
        with FileBar(quiet, "assembling", detail=False) as bar:
            totals = run_on_cluster(cfg, executor, progress=bar)
    else:
        with open_job(cfg) as opened, FileBar(quiet) as bar:
            totals = run_files(opened, sources, progress=bar)
    if not quiet and len(sources) > 1:
        print_totals(totals)

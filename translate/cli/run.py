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
    engine: str = typer.Option("local", "--engine", help="local | ray | slurm (where the translate stage runs)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", help="Ray: actors (default: one per GPU); "
                                              "slurm: array tasks."),
    qe: Optional[str] = typer.Option(None, "--qe", help="Quality estimation: a scorer (e.g. roundtrip-chrf) whose "
                                     "score per turn goes into the QC log (same as [qc.qe] scorer = NAME)."),
    qe_threshold: Optional[float] = typer.Option(None, "--qe-threshold", help="Reject a turn scored below this "
                                                 "(reason qe_low)."),
) -> None:
    """Translate LLaVA file(s) end to end: plan, translate, assemble. Writes <target>_<name>.json beside a
    .rejected.jsonl and a .manifest.json."""
    from translate.errors import ConfigError
    from translate.executors import get_executor
    from translate.runtime import open_job, plan_outputs, run_files

    cfg = job.load()
    if qe is not None or qe_threshold is not None:
        table = dict(cfg.qc.get("qe") or {})
        table.update({k: v for k, v in (("scorer", qe), ("threshold", qe_threshold)) if v is not None})
        cfg.qc = {**cfg.qc, "qe": table}
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

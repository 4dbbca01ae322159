"""Cluster commands: ``plan`` (once), ``work`` (once per shard: a Slurm array task, or all shards on an executor)
and ``assemble`` (once, after every shard). See docs/cluster.md."""

from __future__ import annotations

import shutil
from typing import Optional

import typer

from translate.cli.app import app, console
from translate.cli.options import JobFlags, QuietOpt, job_options
from translate.cli.progress import FileBar, make_progress, print_totals
from translate.config import parse_pairs
from translate.formats.sources import source_label, source_size

WorkdirOpt = typer.Option(..., "--workdir", help="Work folder shared by plan, the shards and assemble.")


@app.command()
@job_options()
def plan(
    job: JobFlags,
    shards: int = typer.Option(..., "--shards", help="Number of work units (e.g. the Slurm array size)."),
    workdir: str = WorkdirOpt,
    rate: Optional[float] = typer.Option(None, "--rate", help="Characters per second of one worker, to estimate "
                                                              "the time per shard."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier plan in WORKDIR (its results are first "
                                                      "merged into the memory)."),
    quiet: bool = QuietOpt,
) -> None:
    """Find the unique segments the memory lacks and split them into N balanced work units (Parquet) in WORKDIR.
    Takes the same options as `run`; the shards and assemble reuse them."""
    from translate.cluster import make_plan
    from translate.executors.slurm import submit_commands

    cfg = job.load()
    sources = cfg.sources()
    sizes = [source_size(p) for p in sources]
    total = sum(sizes)
    offsets = {source_label(p): sum(sizes[:i]) for i, p in enumerate(sources)}
    with make_progress(quiet) as progress:
        task = progress.add_task("planning", total=total, records=0, segments=0)

        def planned(path, done: int) -> None:
            progress.update(task, completed=offsets[source_label(path)] + done)

        manifest = make_plan(cfg, workdir, shards, force=force, chars_per_second=rate, progress=planned)
    if quiet:
        return
    counts, est = manifest["counts"], manifest["estimate"]
    console.print(f"[green]✓[/] plan in {workdir}: {counts['records']:,} records, {counts['segments_unique']:,} "
                  f"unique segments, {counts['segments_in_memory']:,} already in memory, "
                  f"{counts['segments_missing']:,} to translate ({counts['characters_missing']:,} chars) "
                  f"in {shards} shard(s); largest {est['largest_shard_characters']:,} chars "
                  f"(imbalance {est['imbalance']:.3f})" + (f", about {est['seconds_per_shard']:,.0f} s per shard"
                                                           if "seconds_per_shard" in est else ""))
    console.print("Slurm: " + "; ".join(submit_commands(workdir, shards)), highlight=False, soft_wrap=True)


@app.command()
def work(
    workdir: str = WorkdirOpt,
    shard: Optional[int] = typer.Option(None, "--shard", help="Shard to translate. Default: $SLURM_ARRAY_TASK_ID "
                                                              "(local engine); all unfinished shards (ray, slurm)."),
    opt: Optional[list[str]] = typer.Option(None, "--opt", help="Backend option KEY=VALUE for this stage only "
                                                                "(a secret, a device); never written down."),
    engine: str = typer.Option("local", "--engine", help="local (this process) | ray (Ray Data actors) | slurm "
                                                          "(one array job, sbatch --wait)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", help="Ray: number of actors (default: one "
                                                                          "per GPU, else 1)."),
    gpus_per_worker: Optional[float] = typer.Option(None, "--gpus-per-worker", help="Ray: GPUs per actor (default: "
                                                    "1 for a backend that wants a GPU when the cluster has GPUs)."),
    flush_rows: int = typer.Option(2048, "--flush-rows", help="Write results at least every N segments."),
    flush_seconds: float = typer.Option(60.0, "--flush-seconds", help="… and at least every S seconds."),
    quiet: bool = QuietOpt,
) -> None:
    """Translate one work unit (or, with --engine ray|slurm, every unfinished one). A finished shard is skipped; a
    partial one resumes after its last written results."""
    from translate.cluster import load_plan, shard_index
    from translate.executors import get_executor
    from translate.executors.slurm import array_task_id

    executor = get_executor(engine, concurrency=concurrency, gpus_per_worker=gpus_per_worker, flush_rows=flush_rows,
                            flush_seconds=flush_seconds, quiet=quiet)
    extra = parse_pairs(opt)
    plan_data = load_plan(workdir)
    if engine == "local":
        # One process works on one shard: the one named, or this Slurm array task's.
        shards = [shard_index(shard if shard is not None else array_task_id(), plan_data)]
        total = plan_data["shards"]["segments"][shards[0]]
        label = f"shard {shards[0]}"
    else:
        shards, total, label = (None if shard is None else [shard]), None, engine
    with make_progress(quiet) as progress:
        task = progress.add_task(label, total=total, records=0, segments=0)
        summary = executor.run(workdir, shards, extra,
                               progress=lambda d, t: progress.update(task, completed=d, total=t, segments=d))
    if not quiet:
        _print_work_summary(engine, shards, summary)


def _print_work_summary(engine: str, shards: list[int] | None, summary: dict) -> None:
    if engine != "local":
        console.print(f"[green]✓[/] {engine}: {len(summary['shards'])} shard(s) translated "
                      f"({summary['translated']:,} segments), {summary['skipped']} already done")
        return
    index = shards[0] if shards else 0
    if not summary["shards"]:
        console.print(f"shard {index}: already done, skipped")
        return
    result = summary["results"][0]
    resumed = result["resumed_from"]
    console.print(f"[green]✓[/] shard {index}: {result['translated']:,} segments "
                  f"({result['characters']:,} chars) in {result['timing']['seconds']:.1f} s"
                  + (f", {resumed:,} kept from an earlier attempt" if resumed else "")
                  + (f"; the backend gave up on {result['given_up']:,} (`plan --force` retries them)"
                     if result["given_up"] else ""))


@app.command()
def assemble(
    workdir: str = WorkdirOpt,
    keep_workdir: bool = typer.Option(True, "--keep-workdir/--remove-workdir",
                                      help="Remove WORKDIR after a successful assemble (default: keep)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=0, help="Worker processes for rebuilding and "
                                          "checking records (0: none). Default: one per core, for files of "
                                          "8 MiB or more."),
    quiet: bool = QuietOpt,
) -> None:
    """Merge every shard's results into the memory, then rebuild, check and write each file as `run` does (QC,
    <target>_*.json, .rejected.jsonl, .manifest.json). Nothing is translated here."""
    from translate.cluster import assemble_workdir, load_plan

    shard_count = load_plan(workdir)["shards"]["count"]
    with FileBar(quiet, "assembling", detail=False) as bar:
        totals, merged, files = assemble_workdir(workdir, progress=bar, workers=workers)
    if not quiet:
        console.print(f"merged {merged['rows']:,} translated segments from {shard_count} shard(s) "
                      f"({merged['added']:,} new in the memory)")
        if files > 1:
            print_totals(totals)
    if not keep_workdir:
        shutil.rmtree(workdir, ignore_errors=True)

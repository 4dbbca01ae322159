"""Cluster commands: ``plan`` (once), ``work`` (once per shard: a Slurm array task, or all shards on Ray) and
``assemble`` (once, after every shard). See docs/cluster.md."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional

import typer

from translate.cli import (
    BackendOpt,
    ConfigOpt,
    DeviceOpt,
    MemoryOpt,
    ModelOpt,
    OptOpt,
    OutOpt,
    SourceLangOpt,
    SrcOpt,
    TargetOpt,
    _manifest_options,
    app,
    common_flags,
    console,
    make_progress,
    print_totals,
)
from translate.config import RunConfig, load_config, parse_pairs, redact

WorkdirOpt = typer.Option(..., "--workdir", help="Work folder shared by plan, the shards and assemble.")
EngineOpt = typer.Option("local", "--engine", help="local (this process) | ray (Ray Data actors).")
ConcurrencyOpt = typer.Option(None, "--concurrency", help="Ray: number of actors (default: one per GPU, else 1).")
GpusOpt = typer.Option(None, "--gpus-per-worker", help="Ray: GPUs per actor (default: 1 for nllb when the cluster "
                                                         "has GPUs, else 0).")


@app.command()
def plan(
    src: Optional[list[str]] = SrcOpt,
    shards: int = typer.Option(..., "--shards", help="Number of work units (e.g. the Slurm array size)."),
    workdir: str = WorkdirOpt,
    out: Optional[str] = OutOpt,
    target: Optional[str] = TargetOpt,
    source_lang: Optional[str] = SourceLangOpt,
    backend: Optional[str] = BackendOpt,
    memory: Optional[str] = MemoryOpt,
    config: Optional[str] = ConfigOpt,
    opt: Optional[list[str]] = OptOpt,
    model: Optional[str] = ModelOpt,
    device: Optional[str] = DeviceOpt,
    window: Optional[int] = typer.Option(None, "--window", help="Records per window (bounds memory). Default 1024."),
    on_reject: Optional[str] = typer.Option(None, "--on-reject", help="drop (default) | keep-source | keep."),
    glossary: Optional[str] = typer.Option(None, "--glossary", help="Glossary folder, as for `run`."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Characters per second of one worker, to estimate "
                                                              "the time per shard."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier plan in WORKDIR (its results are first "
                                                      "merged into the memory)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Find the unique segments the memory lacks and split them into N balanced work units (Parquet) in WORKDIR.
    Takes the same options as `run`; the shards and assemble reuse them."""
    from translate.cluster import make_plan
    from translate.executors.slurm import submit_commands

    flags = common_flags(src, out, target, source_lang, backend, memory, opt, model, device)
    flags.update(window=window, on_reject=on_reject, glossary=glossary)
    cfg = load_config(config, flags)
    sources = cfg.sources()
    total = sum(p.stat().st_size for p in sources)
    offsets = {p: sum(q.stat().st_size for q in sources[:i]) for i, p in enumerate(sources)}
    with make_progress(quiet) as progress:
        task = progress.add_task("planning", total=total, records=0, segments=0)
        manifest = make_plan(cfg, workdir, shards, force=force, chars_per_second=rate,
                             progress=lambda path, done: progress.update(task, completed=offsets[path] + done))
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
                                                              "(local engine); all unfinished shards (ray)."),
    opt: Optional[list[str]] = typer.Option(None, "--opt", help="Backend option KEY=VALUE for this stage only "
                                                                "(a secret, a device); never written down."),
    engine: str = EngineOpt,
    concurrency: Optional[int] = ConcurrencyOpt,
    gpus_per_worker: Optional[float] = GpusOpt,
    flush_rows: int = typer.Option(2048, "--flush-rows", help="Write results at least every N segments."),
    flush_seconds: float = typer.Option(60.0, "--flush-seconds", help="… and at least every S seconds."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Translate one work unit (or, with --engine ray, every unfinished one). A finished shard is skipped; a partial
    one resumes after its last written results."""
    from translate.cluster import load_plan, shard_index, work_shard
    from translate.executors import check_engine

    check_engine(engine)
    extra = parse_pairs(opt)
    plan_data = load_plan(workdir)
    if engine == "ray":
        from translate.executors.ray import work_ray

        with make_progress(quiet) as progress:
            task = progress.add_task("ray", total=None, records=0, segments=0)
            summary = work_ray(workdir, extra, shards=None if shard is None else [shard], concurrency=concurrency,
                               gpus_per_worker=gpus_per_worker, flush_rows=flush_rows, flush_seconds=flush_seconds,
                               quiet=quiet, progress=lambda d, t: progress.update(task, completed=d, total=t,
                                                                                   segments=d))
        if not quiet:
            console.print(f"[green]✓[/] ray: {len(summary['shards'])} shard(s) translated "
                          f"({summary['translated']:,} segments), {summary['skipped']} already done")
        return
    index = shard_index(shard, plan_data)
    with make_progress(quiet) as progress:
        task = progress.add_task(f"shard {index}", total=plan_data["shards"]["segments"][index], records=0,
                                 segments=0)
        result = work_shard(workdir, index, extra, flush_rows=flush_rows, flush_seconds=flush_seconds,
                            progress=lambda d, t: progress.update(task, completed=d, total=t, segments=d))
    if quiet:
        return
    if result["state"] == "skipped":
        console.print(f"shard {index}: already done, skipped")
    else:
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
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Merge every shard's results into the memory, then rebuild, check and write each file as `run` does (QC,
    <target>_*.json, .rejected.jsonl, .manifest.json). Nothing is translated here."""
    assemble_workdir(workdir, quiet)
    if not keep_workdir:
        shutil.rmtree(workdir, ignore_errors=True)


def assemble_workdir(workdir: str | Path, quiet: bool) -> None:
    from translate.cluster import cluster_manifest, load_plan, open_assembly, plan_folder
    from translate.pipeline import Stats

    plan_data = load_plan(workdir)
    workdir_abs = str(Path(workdir).resolve())
    with plan_folder(plan_data):
        cfg, backend_obj, memory_obj, pipeline, merged = open_assembly(workdir_abs, plan_data)
        extra: dict[str, Any] = {"options": _manifest_options(cfg), **cluster_manifest(workdir_abs, plan_data, merged)}
        totals = Stats()
        sources = cfg.sources()
        try:
            with make_progress(quiet) as progress:
                task = progress.add_task("assembling", total=sum(p.stat().st_size for p in sources), records=0,
                                         segments=0)
                done_bytes = 0
                for path in sources:
                    progress.update(task, description=path.name)

                    def on_progress(bytes_read: int, stats: Stats, _base=done_bytes) -> None:
                        progress.update(task, completed=_base + bytes_read, records=totals.records_in
                                        + stats.records_in, segments=totals.segments_total + stats.segments_total)

                    stats = pipeline.run_file(path, cfg.out_dir(path), progress=on_progress, manifest_extra=extra)
                    totals.add(stats)
                    done_bytes += path.stat().st_size
                    if not quiet:
                        console.print(f"[green]✓[/] {path} → {cfg.out_dir(path)}: {stats.records_kept:,} kept, "
                                      f"{stats.records_rejected:,} rejected")
        finally:
            backend_obj.close()
            memory_obj.close()
    if not quiet:
        console.print(f"merged {merged['rows']:,} translated segments from {plan_data['shards']['count']} shard(s) "
                      f"({merged['added']:,} new in the memory)")
        if len(sources) > 1:
            print_totals(totals)


def run_with_ray(cfg: RunConfig, quiet: bool, concurrency: int | None = None,
                 gpus_per_worker: float | None = None) -> None:
    """`run --engine ray`: plan into a work folder beside the memory, translate every unit on Ray, assemble, and
    remove the folder. A run that stops part-way leaves the folder; the next run merges what it holds first."""
    from translate.cluster import make_plan
    from translate.executors.ray import work_ray

    memory_path = cfg.memory_path()
    workdir = memory_path.parent / f".{memory_path.name}.ray-work"
    make_plan(cfg, workdir, shards=max(1, concurrency or 1), force=True)
    secrets = {k: v for k, v in cfg.backend_options.items() if k not in redact(cfg.backend_options)}
    with make_progress(quiet) as progress:
        task = progress.add_task("ray", total=None, records=0, segments=0)
        work_ray(workdir, secrets, concurrency=concurrency, gpus_per_worker=gpus_per_worker, quiet=quiet,
                 progress=lambda d, t: progress.update(task, completed=d, total=t, segments=d))
    assemble_workdir(workdir, quiet)
    shutil.rmtree(workdir, ignore_errors=True)

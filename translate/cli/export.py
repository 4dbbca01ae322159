"""``export``: a run folder → Parquet files and a dataset card, for `hf upload` (see docs/publishing.md)."""

from __future__ import annotations

from typing import Optional

import typer

from translate.cli.app import app, console


@app.command("export")
def export(
    out_dir: str = typer.Argument(..., help="Folder to write the Parquet files and README.md into (the dataset repo)."),
    run_dir: str = typer.Option(..., "--from", help="The run's output folder (--out of `translate run`)."),
    parallel: bool = typer.Option(False, "--parallel", help="Add the source text beside the translation "
                                                           "(conversations_en, text_en), read from the run's sources."),
    name: Optional[str] = typer.Option(None, "--name", help="The dataset's title on its card."),
    license_id: Optional[str] = typer.Option(None, "--license", help="Hub licence id for the card (default: inherited "
                                                                     "from the sources, else 'other')."),
    target: Optional[str] = typer.Option(None, "--target", help="Export only the outputs into this language."),
    source_root: Optional[str] = typer.Option(None, "--source-root", help="--parallel: the folder holding the "
                                              "source files, when the run's recorded paths no longer lead to them."),
    row_group_size: int = typer.Option(10_000, "--row-group-size", help="Records per Parquet row group (bounds "
                                                                         "memory)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Write one Parquet file per translated file of a run, and a dataset card (README.md) with its counts."""
    from translate.export import export_run

    def on_file(run) -> None:
        if not quiet:
            console.print(f"  {run.output.name} …", highlight=False)

    # Rebuilt from the parsed options (sys.argv is not this command's when the CLI runs in-process).
    command = ["python", "-m", "translate", "export", out_dir, "--from", run_dir]
    command += ["--parallel"] if parallel else []
    for flag, value in (("--name", name), ("--license", license_id), ("--target", target),
                        ("--source-root", source_root)):
        command += [flag, value] if value is not None else []
    command += ["--row-group-size", str(row_group_size)] if row_group_size != 10_000 else []
    result = export_run(run_dir, out_dir, parallel=parallel, name=name, license_id=license_id, target=target,
                        source_root=source_root, row_group_size=row_group_size, command=command, on_file=on_file)
    if quiet:
        return
    for f in result.files:
        console.print(f"✓ {f.parquet.path}: {f.parquet.rows:,} rows ({f.parquet.kind})", highlight=False)
    console.print(f"✓ {result.card} (license: {result.license})", highlight=False)
    console.print(f"Publish with: hf upload OWNER/NAME {result.out_dir} --repo-type dataset", highlight=False)

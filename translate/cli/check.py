"""``check``: audit a translated file against its English source with the same checks a run applies.
See translate/audit.py and docs/quality.md."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from translate.cli.app import app
from translate.cli.options import ConfigOpt, TargetOpt
from translate.config import load_config
from translate.errors import ConfigError


@app.command("check")
def check_command(
    src: str = typer.Option(..., "--src", help="The English source file (JSON array or JSONL)."),
    translated: str = typer.Option(..., "--translated", help="The translated file to audit (JSON array or JSONL)."),
    out: Optional[str] = typer.Option(None, "--out", help="Folder for the QC log, rejected list, summary and "
                                      "report. Default: <translated>.check/ beside the translated file."),
    target: Optional[str] = TargetOpt,
    config: Optional[str] = ConfigOpt,
    html: bool = typer.Option(True, "--html/--no-html", help="Also write report.html into the output folder."),
    strict: bool = typer.Option(False, "--strict", help="Exit with status 1 when any record is rejected."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No tables, only the one-line summary."),
) -> None:
    """Match records by id (or position), check every turn, and write <name>.qc.jsonl, <name>.rejected.jsonl,
    <name>.check.json and report.html."""
    from translate.audit import check_files
    from translate.report import build, print_report, render_html

    cfg = load_config(config, {"target": target})
    for label, path in (("--src", src), ("--translated", translated)):
        if not Path(path).is_file():
            raise ConfigError(f"{label} {path}: no such file")
    stats, paths = check_files(src, translated, out, target_lang=cfg.target, qc=cfg.qc)
    stdout = Console()
    stdout.print(f"checked {translated} against {src}: {stats.passed:,} passed, {stats.rejected:,} rejected "
                 f"({stats.missing_translation:,} missing, {stats.unmatched_translation:,} unmatched); "
                 f"matched {stats.matched_by_id:,} by id, {stats.matched_by_position:,} by position",
                 highlight=False, soft_wrap=True)
    report = build([paths["qc_log"]])
    if not quiet:
        print_report(report, stdout)
    if html:
        from translate.formats.writers import AtomicFile

        target_html = paths["qc_log"].parent / "report.html"
        with AtomicFile(target_html) as fh:
            fh.write(render_html(report, title=f"QC check: {Path(translated).name}"))
        paths["html"] = target_html
    for name, path in paths.items():
        stdout.print(f"  {name}: {path}", highlight=False, soft_wrap=True)
    if strict and stats.rejected:
        raise typer.Exit(1)

"""``report``: aggregates over a run's QC logs as a terminal table and a self-contained HTML page with charts.
See translate/report.py and docs/quality.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from translate.cli.app import app


@app.command("report")
def report_command(
    target: str = typer.Argument(..., help="A folder with *.qc.jsonl QC logs (what `run` and `check` write), or one "
                                 "log."),
    html: Optional[str] = typer.Option(None, "--html", help="Where to write the HTML page. Default: "
                                       "DIR/report.html."),
    no_html: bool = typer.Option(False, "--no-html", help="Only the terminal table."),
    charts: bool = typer.Option(True, "--charts/--no-charts", help="Embed PNG charts (needs matplotlib)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Also write the aggregates as JSON here."),
    top: int = typer.Option(20, "--top", min=1, help="How many of the worst records to list."),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Look for QC logs in subfolders too."),
    max_rejected: int = typer.Option(50, "--max-rejected", min=0, help="Rejected records shown side by side on the "
                                     "review page; the rest are counted."),
    sample: int = typer.Option(20, "--sample", min=0, help="Kept records drawn at random for review (0: none)."),
    seed: int = typer.Option(0, "--seed", help="Seed of that sample: the same logs and seed give the same sample."),
) -> None:
    """A review page: rejected records side by side with their reasons, a sample of kept ones, counts per reason,
    speech levels, length-ratio distributions and the worst records."""
    from translate.formats.writers import AtomicFile, write_json
    from translate.report import build, find_logs, print_report, render_html

    logs = find_logs(target, recursive)
    report = build(logs, top=top, max_rejected=max_rejected, sample=sample, seed=seed)
    stdout = Console()
    print_report(report, stdout)
    if not no_html:
        base = Path(target) if Path(target).is_dir() else Path(target).parent
        path = Path(html) if html else base / "report.html"
        with AtomicFile(path) as fh:
            fh.write(render_html(report, title=f"QC report: {base.name or base}", with_charts=charts))
        stdout.print(f"HTML report: {path}", highlight=False, soft_wrap=True)
    if json_out:
        write_json(json_out, json.loads(json.dumps(report.as_dict(), default=str)))

"""Progress on the terminal: a rich bar for a run over several files, and the totals table.

The runtime reports through a `RunProgress`; this module is the terminal's implementation of it.
"""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from translate.cli.app import console
from translate.pipeline import Stats


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


class FileBar:
    """A `translate.runtime.RunProgress` drawn as one bar over the bytes of every source, with a line per file."""

    def __init__(self, quiet: bool, description: str = "translating", detail: bool = True):
        self.quiet = quiet
        self.detail = detail
        self.description = description
        self._progress = make_progress(quiet)
        self._task = None

    def __enter__(self) -> "FileBar":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)

    def start(self, total_bytes: int) -> None:
        self._task = self._progress.add_task(self.description, total=total_bytes, records=0, segments=0)

    def file_started(self, path: Path) -> None:
        self._progress.update(self._task, description=path.name)

    def advance(self, done_bytes: int, records: int, segments: int) -> None:
        self._progress.update(self._task, completed=done_bytes, records=records, segments=segments)

    def file_done(self, path: Path, out_dir: Path, stats: Stats) -> None:
        if self.quiet:
            return
        line = f"[green]✓[/] {path} → {out_dir}: {stats.records_kept:,} kept, {stats.records_rejected:,} rejected"
        if self.detail:
            line += (f", {stats.segments_sent:,} segments sent ({stats.characters_sent:,} chars), "
                     f"{stats.memory_hits:,} from memory")
        console.print(line)


def print_totals(stats: Stats) -> None:
    table = Table(title="run totals")
    table.add_column("counter")
    table.add_column("value", justify="right")
    for name, value in stats.as_dict().items():
        if name != "reasons":
            table.add_row(name, f"{value:,}")
    for code, count in stats.reasons.items():
        table.add_row(f"reason: {code}", f"{count:,}")
    console.print(table)

"""Progress: a rich bar on a terminal, a line every N seconds elsewhere (a Slurm log), and the totals table.

The runtime reports through a `RunProgress`; this module is the command line's implementation of it. The bar moves
per backend batch and its rate counts segments *sent* (memory hits cost nothing and would flatter a slow engine).
When stderr is not a terminal, nothing can redraw in place, so `LineProgress` prints one line every `--progress-every`
seconds (default 30; environment `TRANSLATE_PROGRESS_EVERY` for commands without the option, such as `work`):

    2026-01-01 12:00:30 progress: ko_detail.json 41% · 9,472 records · 3,210 segments sent · 107.0 sent/s · ETA 0:01:02
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from translate.cli.app import console
from translate.pipeline import Stats


DEFAULT_INTERVAL = 30.0
_interval = [DEFAULT_INTERVAL]


def set_interval(seconds: float) -> None:
    """Seconds between progress lines when stderr is not a terminal (`--progress-every`)."""
    _interval[0] = float(seconds)


def interval() -> float:
    env = os.environ.get("TRANSLATE_PROGRESS_EVERY")
    if _interval[0] == DEFAULT_INTERVAL and env:
        try:
            value = float(env)
        except ValueError:
            value = 0.0
        if value > 0:
            return value
    return _interval[0]


class RateColumn(ProgressColumn):
    """Records done and segments sent per second, from the pipeline's counters."""

    def render(self, task) -> Text:
        records = task.fields.get("records", 0)
        elapsed = task.elapsed or 0.0
        rate = task.fields.get("segments", 0) / elapsed if elapsed > 0 else 0.0
        return Text(f"{records:,} records · {rate:,.1f} sent/s", style="cyan")


def make_progress(quiet: bool) -> Any:
    """A rich `Progress` on a terminal; a `LineProgress` (same `add_task`/`update`) on any other stream; one that
    shows nothing with `quiet`."""
    if not quiet and not console.is_terminal:
        return LineProgress(interval())
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


class LineProgress:
    """Progress for a log file: the `rich.progress.Progress` calls the commands make (`add_task`, `update`, `with`),
    printed as one line per task every `every` seconds by a background thread, so a stalled backend still shows
    up (the same numbers again) next to its retry warnings."""

    def __init__(self, every: float):
        self.every = every
        self._tasks: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "LineProgress":
        self._thread = threading.Thread(target=self._run, name="progress-lines", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        with self._lock:
            self._tasks.append({"description": description, "total": total, "completed": 0,
                                "started": time.monotonic(), **fields})
            return len(self._tasks) - 1

    def update(self, task_id: int, **changes: Any) -> None:
        with self._lock:
            self._tasks[task_id].update({k: v for k, v in changes.items() if v is not None})

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            for line in self.lines():
                console.print(line, markup=False, highlight=False, soft_wrap=True)

    def lines(self) -> list[str]:
        with self._lock:
            tasks = [dict(t) for t in self._tasks]
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        return [f"{stamp} progress: {describe_task(task, time.monotonic() - task['started'])}" for task in tasks]


def describe_task(task: dict[str, Any], elapsed: float) -> str:
    """"ko_x.json 41% · 9,472 records · 3,210 segments sent · 107.0 sent/s · ETA 0:01:02" (parts that are unknown
    are left out). ETA: elapsed time scaled by what is left of the total (bytes for a run, segments for a shard)."""
    parts = [str(task.get("description", ""))]
    total, completed = task.get("total"), task.get("completed") or 0
    fraction = completed / total if total else None
    if fraction is not None:
        parts[0] += f" {min(fraction, 1.0):.0%}"
    if task.get("records"):
        parts.append(f"{task['records']:,} records")
    sent = task.get("segments", 0) or 0
    parts.append(f"{sent:,} segments sent")
    parts.append(f"{sent / elapsed if elapsed > 0 else 0.0:,.1f} sent/s")
    if fraction:
        left = elapsed * (1 - min(fraction, 1.0)) / fraction
        parts.append(f"ETA {timedelta(seconds=round(left))}")
    else:
        parts.append("ETA unknown")
    return " · ".join(parts)


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
        """`segments`: segments sent so far (see `translate.runtime.RunProgress`)."""
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
    counters = stats.as_dict()
    for name, value in counters.items():
        if not isinstance(value, dict):
            table.add_row(name, f"{value:,}")
    # Counters by key (reasons, memory hits by origin), after the plain ones.
    for name, value in counters.items():
        if isinstance(value, dict):
            label = "reason" if name == "reasons" else name
            for key, count in value.items():
                table.add_row(f"{label}: {key}", f"{count:,}")
    console.print(table)

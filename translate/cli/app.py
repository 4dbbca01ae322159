"""The typer application, the console, and the one place that turns errors into exit codes.

Every module in this package except `app` and `options` is a command module: `main` imports them all, and each
registers its commands on `app` with a decorator. A new command is one new module; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import typer
from rich.console import Console

from translate import logs
from translate.errors import TranslateError

app = typer.Typer(
    name="translate",
    help="Translate LLaVA visual-instruction data (JSON/JSONL) into Korean and other languages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

_NOT_COMMANDS = {"app", "options", "progress"}
INTERRUPTED = "[yellow]interrupted.[/] Everything translated so far is in the memory; rerun to resume."


@app.callback()
def _root() -> None:
    """Translate LLaVA visual-instruction data (JSON/JSONL) into Korean and other languages."""


def register_commands() -> None:
    """Import every command module of this package (sorted, so `--help` lists commands the same way each time)."""
    package = __name__.rpartition(".")[0]
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name not in _NOT_COMMANDS and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def main(argv: list[str] | None = None) -> None:
    register_commands()
    # Every command logs retries and waits on stderr; a command with the shared options reconfigures this from
    # --log-level / --log-file (translate.cli.options).
    logs.configure(None, None, console)
    try:
        app(args=argv, prog_name="python -m translate")
    except TranslateError as exc:
        # One line, never wrapped: messages name files and byte offsets that people grep for. markup=False: a
        # message quoting input text (e.g. "[/x]") must print as is, not be read as rich markup.
        console.print("[red]error:[/] ", end="", highlight=False)
        console.print(str(exc), highlight=False, markup=False, soft_wrap=True)
        logs.log_stop(exc, exc.exit_code)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.print(INTERRUPTED)
        sys.exit(130)
    except SystemExit as exc:
        if exc.code == 130:  # typer turns Ctrl-C into a silent exit 130; say what was kept and how to go on
            console.print(INTERRUPTED)
        raise

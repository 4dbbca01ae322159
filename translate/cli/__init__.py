"""The command line: ``python -m translate COMMAND``. One module per command; see `translate.cli.app`."""

from translate.cli.app import app, console, main

__all__ = ["app", "console", "main"]

"""Logging for the command line: one handler on stderr that shares the progress bar's console, and an optional file.

The package logs through the standard `logging` module under the ``translate`` logger: every retry and back-off
wait with the backend and the seconds (`translate.retry`), rate limits, the LLM backend's reply checks, glossary
syncs (`translate.runtime`) and, from the command line, the reason a run stopped (quota, key refused, backend failed).

On stderr the records go through the rich console the progress bar draws on, so a warning printed mid-run appears
above the bar instead of tearing it; on a plain stream (a Slurm log) they are plain lines with a time stamp. With
``--log-file PATH`` every record at the chosen level is also appended to PATH with time stamps.

    configure(level="INFO", log_file=None, console=console)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from translate.errors import ConfigError

LOGGER = "translate"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LEVEL = "INFO"
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A record carrying this attribute (extra={CONSOLE_SKIP: True}) goes to the log file only: the command line already
# printed the same message as its one-line "error: …".
CONSOLE_SKIP = "translate_console_skip"


class ConsoleHandler(logging.Handler):
    """Writes records through a rich `Console`: above a live progress bar when one is drawn, with no markup read
    from the message (messages quote input text, which may look like "[/x]")."""

    def __init__(self, console: Any, level: int = logging.INFO):
        super().__init__(level)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, CONSOLE_SKIP, False):
            return
        try:
            message = record.getMessage()
            stamp = "" if self.console.is_terminal else time.strftime("%Y-%m-%d %H:%M:%S ")
            label = {"WARNING": "warning", "ERROR": "error", "CRITICAL": "error"}.get(record.levelname, "")
            prefix = f"{stamp}{label}: " if label else stamp
            self.console.print(prefix + message, markup=False, highlight=False, soft_wrap=True)
        except Exception:  # logging must never stop a run
            self.handleError(record)


def parse_level(level: str | None) -> int:
    name = (level or DEFAULT_LEVEL).strip().upper()
    if name not in LEVELS:
        raise ConfigError(f"--log-level {level!r}: expected one of {', '.join(LEVELS)} (any case)")
    return getattr(logging, name)


def configure(level: str | None = None, log_file: str | None = None, console: Any = None) -> logging.Logger:
    """(Re)configure the ``translate`` logger: records at `level` and above to `console` (a rich Console; none: not
    on the terminal) and, when given, to `log_file`. Safe to call more than once: earlier handlers are replaced."""
    number = parse_level(level)
    logger = logging.getLogger(LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, "_translate_owned", False):
            logger.removeHandler(handler)
            handler.close()
    logger.setLevel(number)
    handlers: list[logging.Handler] = []
    if console is not None:
        handlers.append(ConsoleHandler(console, number))
    if log_file:
        path = Path(log_file).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--log-file {log_file}: cannot open it ({exc.strerror or exc})") from None
        file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
        file_handler.setLevel(number)
        handlers.append(file_handler)
    for handler in handlers:
        handler._translate_owned = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    return logger


def log_stop(exc: BaseException, code: int) -> None:
    """Record why the command stopped (file only: the terminal has the "error:" line already)."""
    logging.getLogger(f"{LOGGER}.cli").error("stopped with exit code %d: %s", code, exc,
                                             extra={CONSOLE_SKIP: True})

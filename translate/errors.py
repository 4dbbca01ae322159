"""One exception hierarchy for the whole tool, each class with its own exit code.

The command line maps an exception to its exit code and prints its message; it never prints a traceback for these.
"""

from __future__ import annotations


class TranslateError(Exception):
    """Base class. `exit_code` is what the command line exits with."""

    exit_code = 1


class ConfigError(TranslateError):
    """Bad options, config file or environment."""

    exit_code = 2


class InputFileError(TranslateError):
    """A source file that cannot be read or parsed. Names the file and, where known, the byte offset."""

    exit_code = 2

    def __init__(self, path: str, message: str, offset: int | None = None):
        self.path = str(path)
        self.offset = offset
        where = f"{self.path}" if offset is None else f"{self.path} at byte {offset}"
        super().__init__(f"{where}: {message}")


class OutputError(TranslateError):
    """An output that cannot be written (unwritable folder, full disk). No partial output is left behind."""

    exit_code = 2


class BackendError(TranslateError):
    """A backend failed after its retries. What was translated before is in the memory; a rerun resumes.

    `partial`, when a backend sets it, holds the translations it did finish in the failed batch (one entry per text,
    None where it has none), so the pipeline can store them before stopping instead of paying for them again."""

    exit_code = 5
    partial: list[str | None] | None = None


class AuthenticationError(BackendError):
    """The backend refused the credentials (e.g. DeepL 403)."""

    exit_code = 4


class QuotaExceededError(BackendError):
    """The backend's quota is exhausted (e.g. DeepL 456). Everything translated so far is in the memory."""

    exit_code = 3


class ModelNotFoundError(BackendError):
    """A model could not be found locally nor downloaded."""

    exit_code = 6

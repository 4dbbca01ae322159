"""Numbers of the source that the output lost or changed."""

from __future__ import annotations

from translate.qc.base import Check, Turn
from translate.qc.text import DIGIT, numbers


class NumberMismatch(Check):
    """A number in the source (``1,000`` = ``1000``) is missing from the output."""

    name = "number_mismatch"

    def __call__(self, turn: Turn) -> str | None:
        src, out = turn.source, turn.output
        if not DIGIT.search(src):
            return None
        wanted = numbers(src)
        if not wanted:
            return None
        found = set(numbers(out)) if DIGIT.search(out) else set()
        missing = [n for n in dict.fromkeys(wanted) if n not in found]
        if not missing:
            return None
        extra = sorted(found.difference(wanted))
        return f"number(s) {', '.join(missing)} from the source are missing" + (
            f" (the output has {', '.join(extra)})" if extra else "")

"""Editing the glossary files in place: add or replace an entry, remove lines, keeping comments and order."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from translate.glossary.model import Glossary, GlossaryError, KINDS

def _header(path: Path) -> tuple[int, list[str]] | None:
    """(index of the header line, its columns) of an existing glossary file, or None when it has none."""
    if not path.exists():
        return None
    for i, raw in enumerate(path.read_text(encoding="utf-8-sig").split("\n")):
        line = raw.rstrip("\r")
        if line.strip() and not line.lstrip().startswith("#"):
            return i, [c.strip().lower() for c in line.split("\t")]
    return None


def _check_cell(name: str, value: str) -> None:
    if any(c in value for c in "\t\r\n"):
        raise GlossaryError(f"{name} {value!r} holds a tab or a line break, which a TSV cell cannot hold")


def write_entry(g: Glossary, kind: str, cells: dict[str, str], replace_line: int | None = None) -> int:
    """Append a row to the kind's file (creating it with a header), or replace the row on `replace_line`. Comments,
    order and every other line are kept, so the change reads as a one-line diff. Returns the row's line number."""
    from translate.formats.writers import AtomicFile

    file, required, optional = KINDS[kind]
    path = g.path(kind)
    for name, value in cells.items():
        _check_cell(name, value)
    found = _header(path)
    if found is None:
        columns = list(required + optional)
        lines = ["\t".join(columns)]
    else:
        columns = found[1]
        lines = path.read_text(encoding="utf-8-sig").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    unknown = [k for k, v in cells.items() if v and k not in columns]
    if unknown:
        raise GlossaryError(f"{path} has no column(s) {', '.join(unknown)}; add them to its header first")
    row = [cells.get(c, "") for c in columns]
    while len(row) > len(required) and row[-1] == "":
        row.pop()
    text = "\t".join(row)
    if replace_line is not None:
        lines[replace_line - 1] = text
        number = replace_line
    else:
        lines.append(text)
        number = len(lines)
    with AtomicFile(path) as fh:
        fh.write("\n".join(lines) + "\n")
    return number


def remove_lines(g: Glossary, kind: str, numbers: Iterable[int]) -> None:
    from translate.formats.writers import AtomicFile

    path = g.path(kind)
    drop = set(numbers)
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    kept = [line for i, line in enumerate(lines, start=1) if i not in drop]
    with AtomicFile(path) as fh:
        fh.write("\n".join(kept))

"""LLaVA's GPT-4 prompt folders: read them into literal pieces and translatable units, and write them back.

A prompt folder (``playground/data/prompts/<task>/`` in LLaVA) holds:

* ``system_message.txt``: the instructions for GPT-4;
* ``NNN_caps.txt``: a few-shot input: COCO captions, one per line, then for some tasks a blank line and
  ``label: [x1, y1, x2, y2]`` box lines;
* ``NNN_conv.txt``: the matching few-shot output: ``Question:`` / ``===`` / ``Answer:`` blocks, or (detail
  description) a single answer without any header.

A file is parsed into a list of `Piece`s. A literal piece (headers, ``===`` lines, blank lines, outer whitespace,
list markers, box coordinates) is written back byte for byte; a unit piece (one line of prose, or a box label when
labels are translated) is replaced by its translation. So the structure a generation script parses can never change:
only the prose between the literals does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from translate.errors import ConfigError, InputFileError
from translate.formats.writers import AtomicFile

SYSTEM_FILE = "system_message.txt"
_NUMBERED = re.compile(r"\A(?P<n>\d+)_(?P<kind>caps|conv)\.txt\Z")

QUESTION = "Question:"
ANSWER = "Answer:"
SEPARATOR = "==="

LABEL_POLICIES = ("keep", "translate")

# `label: [x1, y1, x2, y2]` (LLaVA writes floats in [0, 1]; integers are accepted too).
_NUM = r"-?\d+(?:\.\d+)?"
_BOX_LINE = re.compile(
    rf"\A(?P<label>[^:\[\]]*?[^:\[\]\s])(?P<sep>\s*:\s*)(?P<box>\[\s*{_NUM}(?:\s*,\s*{_NUM}){{3}}\s*\])\Z"
)
# A list marker at the start of a line stays as it is: "(1) ", "1. ", "2) ", "- ", "* ", "• ".
_MARKER = re.compile(r"(?:\(\d+\)|\d+[.)]|[-*•])[ \t]+(?=\S)")


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece of a prompt file. `unit` is None for literal text; otherwise what the text is: "system", "caption",
    "label", "question" or "answer". `line` is the 1-based line number, for messages."""

    text: str
    unit: str | None = None
    line: int = 0


@dataclass
class PromptFile:
    name: str
    kind: str  # "system" | "caps" | "conv"
    pieces: list[Piece]
    layout: str = ""  # conv: "qa" or "answer"; caps: "captions" or "captions+boxes"

    def units(self) -> list[Piece]:
        return [p for p in self.pieces if p.unit is not None]

    def render(self, values: list[str] | None = None) -> str:
        """The file's text with the units replaced by `values` (in `units()` order); None gives the source back."""
        if values is None:
            return "".join(p.text for p in self.pieces)
        units = sum(1 for p in self.pieces if p.unit is not None)
        if len(values) != units:
            raise ValueError(f"{self.name}: {len(values)} values for {units} units")
        it = iter(values)
        return "".join(next(it) if p.unit is not None else p.text for p in self.pieces)


@dataclass
class PromptFolder:
    path: Path
    files: list[PromptFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files that are not prompt files, left out of the output


def is_prompt_file(name: str) -> bool:
    return name == SYSTEM_FILE or bool(_NUMBERED.match(name))


def is_prompt_folder(path: Path) -> bool:
    return path.is_dir() and any(p.is_file() and is_prompt_file(p.name) for p in path.iterdir())


def find_prompt_folders(path: Path) -> list[Path]:
    """`path` itself when it is a prompt folder, else its prompt sub-folders (one level down), sorted by name."""
    if not path.is_dir():
        raise ConfigError(f"--src {path}: not a folder (expected a prompt folder holding system_message.txt, "
                          "NNN_caps.txt and NNN_conv.txt, or a folder of such folders)")
    if is_prompt_folder(path):
        return [path]
    found = sorted((p for p in path.iterdir() if is_prompt_folder(p)), key=lambda p: p.name)
    if not found:
        raise ConfigError(f"--src {path}: no prompt files (system_message.txt, NNN_caps.txt, NNN_conv.txt) in it "
                          "or in its sub-folders")
    return found


def read_prompt_folder(path: str | Path, labels: str = "keep") -> PromptFolder:
    """Parse every prompt file of a folder, in name order. Other files are listed in `skipped`."""
    if labels not in LABEL_POLICIES:
        raise ConfigError(f"labels must be one of {', '.join(LABEL_POLICIES)}, not {labels!r}")
    path = Path(path)
    folder = PromptFolder(path)
    for entry in sorted(path.iterdir(), key=lambda p: p.name):
        if not entry.is_file():
            continue
        if not is_prompt_file(entry.name):
            folder.skipped.append(entry.name)
            continue
        folder.files.append(parse_prompt_file(entry, _read_text(entry), labels))
    if not folder.files:
        raise ConfigError(f"{path}: no prompt files (system_message.txt, NNN_caps.txt, NNN_conv.txt)")
    return folder


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(str(path), f"invalid UTF-8 ({exc.reason})", exc.start) from None


def parse_prompt_file(path: str | Path, text: str, labels: str = "keep") -> PromptFile:
    """Split one file into pieces. Raises `InputFileError` (file and line) when a conv file's blocks are malformed."""
    path = Path(path)
    name = path.name
    if name == SYSTEM_FILE:
        kind = "system"
    else:
        m = _NUMBERED.match(name)
        if not m:
            raise ConfigError(f"{path}: not a prompt file name (system_message.txt, NNN_caps.txt, NNN_conv.txt)")
        kind = m.group("kind")
    lines = text.split("\n")
    pieces: list[Piece] = []
    layout = ""
    if kind == "system":
        for no, line in enumerate(lines, 1):
            pieces.extend(_prose(line, "system", no))
    elif kind == "caps":
        boxes = False
        for no, line in enumerate(lines, 1):
            box = _split_box(line, labels, no)
            if box is not None:
                boxes = True
                pieces.extend(box)
            else:
                pieces.extend(_prose(line, "caption", no))
        layout = "captions+boxes" if boxes else "captions"
    else:
        pieces, layout = _parse_conv(path, lines)
    # Lines were split on "\n"; put the newlines back as literals (never after the last line).
    joined: list[Piece] = []
    line_no = 1
    for piece in pieces:
        if piece.line != line_no:
            joined.append(Piece("\n"))
            line_no = piece.line
        joined.append(piece)
    return PromptFile(name, kind, _merge_literals(joined), layout)


def _parse_conv(path: Path, lines: list[str]) -> tuple[list[Piece], str]:
    """Question/Answer blocks separated by ``===`` lines, or one answer without headers."""
    headers = [(no, line.strip()) for no, line in enumerate(lines, 1) if line.strip() in (QUESTION, ANSWER, SEPARATOR)]
    pieces: list[Piece] = []
    if not headers:
        for no, line in enumerate(lines, 1):
            pieces.extend(_prose(line, "answer", no))
        return pieces, "answer"
    # Check the block structure first, so a malformed file is named with its line, not half translated. The headers
    # must read Question: === Answer: (=== Question: === Answer:)*, with text in every block.
    first_content = next((no for no, line in enumerate(lines, 1) if line.strip()), None)
    if first_content is not None and first_content < headers[0][0]:
        raise InputFileError(str(path), f"line {first_content}: text before the first {QUESTION!r} header")
    cycle = (QUESTION, SEPARATOR, ANSWER, SEPARATOR)
    for i, (no, word) in enumerate(headers):
        if word != cycle[i % 4]:
            raise InputFileError(str(path), f"line {no}: {word!r} where {cycle[i % 4]!r} was expected")
        if word != SEPARATOR:
            following = headers[i + 1][0] if i + 1 < len(headers) else len(lines) + 1
            if not any(line.strip() for line in lines[no:following - 1]):
                raise InputFileError(str(path), f"line {no}: the {word!r} block is empty")
    if headers[-1][1] != ANSWER:
        raise InputFileError(str(path), f"line {headers[-1][0]}: the file must end with an {ANSWER!r} block")
    role = "question"
    for no, line in enumerate(lines, 1):
        word = line.strip()
        if word in (QUESTION, ANSWER, SEPARATOR):
            if word != SEPARATOR:
                role = "question" if word == QUESTION else "answer"
            pieces.append(Piece(line, None, no))
            continue
        pieces.extend(_prose(line, role, no))
    return pieces, "qa"


def _prose(line: str, unit: str, no: int) -> list[Piece]:
    """One line of prose: outer whitespace and a list marker stay literal, the rest is a unit."""
    stripped = line.strip()
    if not stripped:
        return [Piece(line, None, no)]
    start = len(line) - len(line.lstrip())
    end = len(line.rstrip())
    pieces = []
    marker = _MARKER.match(line, start)
    head_end = marker.end() if marker else start
    if head_end:
        pieces.append(Piece(line[:head_end], None, no))
    pieces.append(Piece(line[head_end:end], unit, no))
    if end < len(line):
        pieces.append(Piece(line[end:], None, no))
    return pieces


def _split_box(line: str, labels: str, no: int) -> list[Piece] | None:
    """`label: [x1, y1, x2, y2]`: the coordinates and separator are literal; the label is literal or a unit."""
    body = line.strip()
    m = _BOX_LINE.match(body)
    if not m:
        return None
    start = len(line) - len(line.lstrip())
    end = start + len(body)
    pieces = []
    if start:
        pieces.append(Piece(line[:start], None, no))
    pieces.append(Piece(m.group("label"), "label" if labels == "translate" else None, no))
    pieces.append(Piece(m.group("sep") + m.group("box"), None, no))
    if end < len(line):
        pieces.append(Piece(line[end:], None, no))
    return pieces


def _merge_literals(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for piece in pieces:
        if piece.unit is None and out and out[-1].unit is None:
            out[-1] = Piece(out[-1].text + piece.text, None, out[-1].line)
        else:
            out.append(piece)
    return out


def write_prompt_file(path: str | Path, text: str) -> None:
    """Atomically, with the text's own line endings (the parser kept any carriage returns as literals)."""
    with AtomicFile(path) as fh:
        fh.write(text)


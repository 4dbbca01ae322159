"""A small parser for LLaVA's GPT-4 prompt folders, written to LLaVA's format independently of translate/.

LLaVA's data generation sends, per few-shot example, the caps file as the user message and the conv file as the
assistant message, and reads GPT-4's replies the same way: blocks split on ``===``, each starting with
``Question:`` or ``Answer:``. The detail-description examples are a bare answer. Tests parse a translated folder with
this and compare it with the parse of the source folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

BOX = re.compile(r"^(?P<label>[^:\[\]]+):\s*(?P<coords>\[\s*[-\d.]+\s*,\s*[-\d.]+\s*,\s*[-\d.]+\s*,\s*[-\d.]+\s*\])$")


@dataclass
class Caps:
    captions: list[str]
    boxes: list[tuple[str, str]]  # (label, coordinates exactly as written)


@dataclass
class Conv:
    kind: str  # "qa" or "answer"
    pairs: list[tuple[str, str]] = field(default_factory=list)
    answer: str = ""


@dataclass
class Example:
    number: str
    caps: Caps
    conv: Conv


@dataclass
class Folder:
    system: str
    examples: list[Example]


def parse_caps(text: str) -> Caps:
    captions: list[str] = []
    boxes: list[tuple[str, str]] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        m = BOX.match(line)
        if m:
            boxes.append((m.group("label").strip(), m.group("coords")))
        else:
            if boxes:
                raise ValueError(f"caption after the boxes: {line!r}")
            captions.append(line)
    return Caps(captions, boxes)


def parse_conv(text: str) -> Conv:
    blocks = [b.strip() for b in re.split(r"^===$", text, flags=re.M)]
    if len(blocks) == 1 and not blocks[0].startswith(("Question:", "Answer:")):
        return Conv("answer", answer=blocks[0])
    pairs: list[tuple[str, str]] = []
    question = None
    for block in blocks:
        head, _, body = block.partition("\n")
        body = body.strip()
        if not body:
            raise ValueError(f"empty block {head!r}")
        if head == "Question:" and question is None:
            question = body
        elif head == "Answer:" and question is not None:
            pairs.append((question, body))
            question = None
        else:
            raise ValueError(f"unexpected block header {head!r}")
    if question is not None:
        raise ValueError("a question without an answer")
    return Conv("qa", pairs)


def parse_folder(path: str | Path) -> Folder:
    path = Path(path)
    system = (path / "system_message.txt").read_text(encoding="utf-8")
    examples = []
    for caps in sorted(path.glob("*_caps.txt")):
        number = caps.name.split("_")[0]
        conv = path / f"{number}_conv.txt"
        examples.append(Example(number, parse_caps(caps.read_text(encoding="utf-8")),
                                parse_conv(conv.read_text(encoding="utf-8"))))
    return Folder(system, examples)

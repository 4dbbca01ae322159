"""Deterministic LLaVA-instruct-like records for benchmarks and tests (no real data needed).

Questions repeat the way LLaVA's do (a few hundred phrasings), answers are built from a sentence pool so most are
unique, `<image>` sits at the start or end of the first human turn, and some answers carry bounding boxes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Iterator

_SUBJECTS = ["man", "woman", "dog", "cat", "bus", "train", "child", "skier", "surfer", "bird", "horse", "truck",
             "giraffe", "elephant", "pizza", "laptop", "bicycle", "boat", "clock", "kite"]
_PLACES = ["on a city street", "in a kitchen", "near the beach", "in a snowy field", "at the park",
           "inside a living room", "by the river", "on a wooden table", "at an airport", "in a busy market"]
_VERBS = ["is standing", "is sitting", "is holding an umbrella", "is looking at the camera", "is parked",
          "is crossing the road", "is eating", "is playing with a frisbee", "is waiting", "is resting"]
_QUESTIONS = ["What is the {s} doing?", "Where is the {s} located?", "What color is the {s}?",
              "How many people are near the {s}?", "What can you infer about the {s}'s surroundings?",
              "Describe the scene with the {s}.", "Why might the {s} be {p}?", "Is the {s} alone in the image?"]


def _sentence(rng: random.Random) -> str:
    s = rng.choice(_SUBJECTS)
    sentence = f"The {s} {rng.choice(_VERBS)} {rng.choice(_PLACES)}"
    if rng.random() < 0.15:
        box = ", ".join(f"{rng.random():.2f}" for _ in range(4))
        sentence += f" at [{box}]"
    if rng.random() < 0.5:
        sentence += f", while another {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} nearby"
    return sentence + "."


def records(n: int, seed: int = 0) -> Iterator[dict]:
    rng = random.Random(seed)
    for i in range(n):
        turns = []
        for t in range(rng.choice((1, 1, 2, 3, 4, 5))):
            q = rng.choice(_QUESTIONS).format(s=rng.choice(_SUBJECTS), p=rng.choice(_PLACES))
            if t == 0:
                q = f"<image>\n{q}" if rng.random() < 0.5 else f"{q}\n<image>"
            answer = " ".join(_sentence(rng) for _ in range(rng.randint(1, 6)))
            turns += [{"from": "human", "value": q}, {"from": "gpt", "value": answer}]
        yield {"id": f"{i:012d}", "image": f"{i % 600000:012d}.jpg", "conversations": turns}


def write(path: str | Path, n: int, seed: int = 0) -> Path:
    """Write `n` records as a JSON array, one record per line (streamed, so 150K records need little memory)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("[\n")
        for i, rec in enumerate(records(n, seed)):
            fh.write((",\n" if i else "") + json.dumps(rec))
        fh.write("\n]\n")
    return path


if __name__ == "__main__":
    import sys

    write(sys.argv[1], int(sys.argv[2]))

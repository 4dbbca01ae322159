"""Helpers for the LLM backend's tests (and its benchmark): small LLaVA files, the CLI arguments for a run against a
local server, what a well-behaved server answers, and the texts a server was sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from translate.backends.base import RecordTexts, create_backend
from translate.backends.pseudo import pseudo_localise

MODEL = "fake-llm"
KEY = "sk-llm-secret-0123456789abcdef"

# A conversation with protected spans, both <image> positions and turns of very different lengths.
CONVERSATIONS = [
    {"id": "c1", "image": "c1.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat is the man holding at [0.12, 0.34, 0.56, 0.78]?"},
        {"from": "gpt", "value": "The man is holding a red umbrella while he waits for the bus on a rainy street "
                                 "corner, next to a woman with a dog."},
        {"from": "human", "value": "Why might he be waiting there?"},
        {"from": "gpt", "value": "He is probably waiting for the bus: he stands at the stop, looks down the road and "
                                 "holds a ticket in his other hand."}]},
    {"id": "c2", "image": "c2.jpg", "conversations": [
        {"from": "human", "value": "Describe the image in detail.\n<image>"},
        {"from": "gpt", "value": "A kitchen with a wooden table. A bowl of fruit sits on the table, and the code "
                                 "`print(x)` is written on a sticky note near https://example.com/a?b=1."}]},
]


def llava_file(path: Path, n_captions: int = 12, extra: list[dict] | None = None) -> Path:
    """A small LLaVA file: `n_captions` caption records (one short gpt turn each) plus the two conversations."""
    records = [{"id": f"cap{i}", "image": f"{i:05d}.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWrite a caption of the photo number %d." % i},
        {"from": "gpt", "value": f"A photo of item {i}: a small wooden boat on a quiet lake at dawn."}]}
        for i in range(n_captions)]
    records += CONVERSATIONS + (extra or [])
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def run_args(src: Path, out: Path, url: str, *extra: str, **options: Any) -> list[str]:
    """`run` with the openai backend against a local server at `url` (the fake's or transformers serve's)."""
    options.setdefault("model", MODEL)
    options.setdefault("backoff", 0.01)
    args = ["run", "--src", src, "--backend", "openai", "--out", out, "-q",
            "--opt", f"base_url={url.rstrip('/')}/v1"]
    for key, value in options.items():
        args += ["--opt", f"{key}={value}"]
    return [str(a) for a in [*args, *extra]]


def backend(url: str, **options: Any):
    """The backend as the registry builds it from `--opt` strings."""
    options.setdefault("model", MODEL)
    options.setdefault("backoff", "0.01")
    options = {k: str(v) for k, v in options.items()}
    return create_backend("openai", "en", "ko", dict(base_url=f"{url.rstrip('/')}/v1", **options))


def expected(records: list[RecordTexts]) -> list[list[str]]:
    """What a well-behaved (fake) server gives for `records`."""
    return [[pseudo_localise(t) for t in r.texts] for r in records]


def sent_texts(chat_log: list[dict], start: int = 0) -> list[str]:
    """Every text the server was asked to translate in requests it answered 200, from entry `start` on."""
    return [t for entry in chat_log[start:] if entry["status"] == 200 for t in entry.get("texts", [])]


SAMPLE = [
    RecordTexts(["What is the man holding at ⟦0⟧?",
                 "The man is holding a red umbrella while he waits for the bus on a rainy street corner."],
                ["human", "gpt"], record_id="a"),
    RecordTexts(["A bowl of fruit on a wooden table, next to ⟦0⟧ and ⟦1⟧."], ["gpt"],
                context=[("Describe the image in detail.", "human")], record_id="b"),
    RecordTexts(["Is it raining?", "Yes, the street is wet and people carry umbrellas over their heads."],
                ["human", "gpt"], record_id="c"),
]

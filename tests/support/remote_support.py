"""Helpers for tests of the remote backends (DeepL, Google) against the local fakes in tests/support/fakes/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from translate.protect import image_layout
from conftest import run_main  # noqa: F401  (re-exported for the tests that import it from here)

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
KEY = "fake-secret-key-0123:fx"


@pytest.fixture
def fast_deepl_sdk(monkeypatch):
    """The deepl SDK's own retry loop, shortened: 2 retries, 10-20 ms backoff, 0.3 s minimum request timeout."""
    import deepl

    monkeypatch.setattr(deepl.http_client, "max_network_retries", 2)
    monkeypatch.setattr(deepl.http_client, "min_connection_timeout", 0.3)
    monkeypatch.setattr(deepl.http_client._BackoffTimer, "BACKOFF_INITIAL", 0.01)
    monkeypatch.setattr(deepl.http_client._BackoffTimer, "BACKOFF_MAX", 0.02)


def captions(path: Path, n: int = 60, extra: list[dict] | None = None) -> Path:
    """The first `n` BLIP records of the committed excerpt, plus `extra` records, as a JSON array at `path`."""
    records = json.loads((FIXTURES / "blip_excerpt.json").read_text(encoding="utf-8"))[:n]
    records += extra or []
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


# Records that exercise protected spans, XML-special characters and both <image> positions.
TRICKY = [
    {"id": "t1", "image": "t1.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat is at [0.12, 0.34, 0.56, 0.78] & why?"},
        {"from": "gpt", "value": "A sign saying `a<b>&c` near [0.1, 0.2] and a Q&A board < 3 m away."}]},
    {"id": "t2", "image": "t2.jpg", "conversations": [
        {"from": "human", "value": "Describe it.\n<image>"},
        {"from": "gpt", "value": "See https://example.com/a?b=1&c=2 for \"quotes\" and 'apostrophes'."}]},
]


def load(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def check_invariants(src: Path, out_dir: Path, target: str = "ko") -> tuple[list[dict], list[dict], dict]:
    """in = kept + rejected, order and ids kept, <image> layout exact in every kept turn. Returns (kept, rejected,
    manifest)."""
    source = load(src)
    stem = f"{target}_{src.stem}"
    kept = load(out_dir / f"{stem}.json")
    rejected = read_jsonl(out_dir / f"{stem}.rejected.jsonl")
    manifest = load(out_dir / f"{stem}.manifest.json")
    dropped = [r for r in rejected if "policy" not in r]
    assert len(source) == len(kept) + len(dropped)
    counts = manifest["counts"]
    assert counts["records_in"] == counts["records_kept"] + counts["records_rejected"] == len(source)
    by_id = {r["id"]: r for r in source}
    kept_ids = [r["id"] for r in kept]
    assert kept_ids == [r["id"] for r in source if r["id"] in set(kept_ids)]
    assert {r["id"] for r in dropped} | set(kept_ids) == set(by_id)
    for rec in kept:
        src_rec = by_id[rec["id"]]
        assert set(rec) == set(src_rec) and rec.get("image") == src_rec.get("image")
        for a, b in zip(src_rec["conversations"], rec["conversations"]):
            assert image_layout(a["value"]) == image_layout(b["value"])
            assert a["from"] == b["from"]
    return kept, rejected, manifest


def assert_no_key(*places: Path | str) -> None:
    """The key appears in no file under the given folders and in none of the given strings."""
    for place in places:
        if isinstance(place, Path):
            for f in place.rglob("*"):
                if f.is_file():
                    assert KEY.encode() not in f.read_bytes(), f"the API key leaked into {f}"
        else:
            assert KEY not in place

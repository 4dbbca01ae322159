"""What a run writes for a source, and how it reads one: output names, the rejected-record entry (capped), windows,
and the --limit / --sample selection.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from translate.formats.readers import SourceItem
from translate.formats.records import (
    record_id,
)
from translate.memory import KeySet
from translate.pipeline.segments import PreparedRecord

REJECTED_RECORD_CAP = 64 * 1024


def output_paths(src: Path, out_dir: Path, target_lang: str, fmt: str) -> dict[str, Path]:
    stem = f"{target_lang}_{src.stem}"
    ext = ".json" if fmt == "json" else ".jsonl"
    return {
        "output": out_dir / f"{stem}{ext}",
        "rejected": out_dir / f"{stem}.rejected.jsonl",
        "manifest": out_dir / f"{stem}.manifest.json",
        "qc_log": out_dir / f"{stem}.qc.jsonl",  # one row per checked turn, for `translate report`
    }



def rejection(src: Path, prepared: PreparedRecord, reasons: list[dict[str, str]],
               candidate: dict[str, Any] | None, policy: str | None = None) -> dict[str, Any]:
    item = prepared.item
    entry: dict[str, Any] = {"file": str(src), "index": item.index}
    if item.line is not None:
        entry["line"] = item.line
    entry["id"] = record_id(item.record)
    entry["reasons"] = reasons
    if policy:
        entry["policy"] = policy
    entry["source"] = capped_record(item.record)
    entry["candidate"] = capped_record(candidate)
    return entry


def capped_record(record: Any) -> Any:
    """`record` as is when its JSON is at most `REJECTED_RECORD_CAP` bytes, else a marker that still identifies it."""
    if record is None or isinstance(record, (int, float, bool)):
        return record
    data = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    if len(data) <= REJECTED_RECORD_CAP:
        return record
    return {"truncated": True, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "note": f"the record is over {REJECTED_RECORD_CAP:,} bytes as compact JSON; find it in the source by its "
                    "index (`index`) and check it against this sha256"}


def count_duplicate_ids(ids: KeySet, window: list[SourceItem]) -> int:
    """How many records of `window` carry an id already seen in this file (kept in SQLite: flat memory)."""
    keys = []
    for item in window:
        rid = record_id(item.record)
        if isinstance(rid, (str, int)):
            keys.append(hashlib.blake2b(f"{type(rid).__name__}:{rid}".encode("utf-8", "surrogatepass"),
                                        digest_size=16).digest())
    return len(keys) - ids.add_many(keys) if keys else 0


def windows(items: Iterable[SourceItem], size: int) -> Iterator[list[SourceItem]]:
    window: list[SourceItem] = []
    for item in items:
        window.append(item)
        if len(window) >= size:
            yield window
            window = []
    if window:
        yield window



def select_records(items: Iterable[SourceItem], limit: int | None, sample: int | None,
                   seed: int) -> Iterable[SourceItem]:
    """The records a partial run translates: the first `limit`, then (of those) `sample` chosen by `seed`.

    The sample keeps the `sample` records whose hash of (seed, index) is smallest (a bottom-k sample): the same seed
    picks the same records whatever the window, the machine or the Python version, and only `sample` records are
    held at once. They come out in file order."""
    if limit is not None:
        items = _first(items, limit)
    if sample is None:
        return items
    heap: list[tuple[int, int, SourceItem]] = []  # (-rank, index, item): the largest rank kept on top
    for item in items:
        rank = int.from_bytes(hashlib.blake2b(f"{seed}:{item.index}".encode(), digest_size=8).digest(), "big")
        if len(heap) < sample:
            heapq.heappush(heap, (-rank, item.index, item))
        elif rank < -heap[0][0]:
            heapq.heapreplace(heap, (-rank, item.index, item))
    return [entry[2] for entry in sorted(heap, key=lambda entry: entry[1])]


def _first(items: Iterable[SourceItem], n: int) -> Iterator[SourceItem]:
    for count, item in enumerate(items):
        if count >= n:
            return
        yield item

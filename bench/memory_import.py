"""`memory import` throughput and memory on a realistic pair: N synthetic instruct records (bench/synthetic.py) and a
"published" translation of them made by the pseudo backend, with 5% of the records broken (lost <image>, changed
number, English left in) the way a real published file has some.

    python bench/memory_import.py 20000
"""

from __future__ import annotations

import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import synthetic

from translate.config import RunConfig
from translate.memory import TranslationMemory
from translate.runtime import open_job, run_files
from translate.tm.importer import import_published
from translate.tm.pairs import open_pair_maker


def published(en: Path, work: Path) -> Path:
    """The pseudo translation of `en`, with 5% of the records broken on purpose."""
    cfg = RunConfig(src=[str(en)], backend="pseudo", out=str(work / "pub"), memory=str(work / "pub.sqlite"),
                    glossary="none")
    with open_job(cfg) as job:
        run_files(job, [en])
    out = work / "pub" / f"ko_{en.stem}.json"
    records = json.loads(out.read_text(encoding="utf-8"))
    rng = random.Random(7)
    for record in records:
        if rng.random() < 0.05:
            turns = record["conversations"]
            kind = rng.choice(("image", "english", "number"))
            if kind == "image":
                turns[0]["value"] = turns[0]["value"].replace("<image>", "").strip()
            elif kind == "english":
                turns[-1]["value"] = "The answer was left in English for this turn, as some published files do."
            else:
                turns[-1]["value"] += " 17"
    path = work / f"ko_{en.stem}.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def measure(en: Path, ko: Path, work: Path) -> dict:
    """The import alone (run in a fresh process, so its peak memory is its own)."""
    cfg = RunConfig(src=[str(en)], backend="pseudo", memory=str(work / "tm.sqlite"), glossary="none")
    maker, _ = open_pair_maker(cfg)
    started = time.perf_counter()
    with TranslationMemory(cfg.memory) as memory:
        stats, _ = import_published(en, ko, memory, maker, origin="import:bench", out_dir=work)
    seconds = time.perf_counter() - started
    counts = stats.as_dict()
    return {"seconds": round(seconds, 2), "records_per_second": round(counts["records_source"] / seconds),
            "turns": counts["turns"], "imported": counts["imported"], "repeated": counts["repeated"],
            "turns_skipped": counts["turns_skipped"], "reasons": counts["reasons"],
            "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> int:
    """VmHWM: this process's own peak (ru_maxrss would carry over the parent's peak across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main(n: int) -> None:
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        en = synthetic.write(work / "instruct.json", n, seed=3)
        ko = published(en, work)
        child = subprocess.run([sys.executable, __file__, "--measure", str(en), str(ko), str(work)],
                               capture_output=True, text=True, check=True)
        result = {"records": n, "source_mb": round(en.stat().st_size / 1e6, 1),
                  "translated_mb": round(ko.stat().st_size / 1e6, 1), **json.loads(child.stdout)}
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)

"""What the curated templates save: the BLIP subset through the pseudo backend with and without the glossary.

    python bench/glossary_templates.py [--src ../shared/data/blip_laion_cc_sbu_2k.json]

Prints, for both runs, the segments resolved from templates, the segments and characters sent to the engine, and
the characters the human prompts would have cost. Skips (exit 0) when the data file is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "blip_laion_cc_sbu_2k.json"


def run(src: Path, out: Path, glossary: str) -> dict:
    from translate.config import RunConfig
    from translate.runtime import open_job

    cfg = RunConfig(src=[str(src)], out=str(out), backend="pseudo", glossary=glossary)
    started = time.perf_counter()
    with open_job(cfg) as job:
        job.pipeline.run_file(src, out)
    manifest = json.loads((out / f"ko_{src.stem}.manifest.json").read_text(encoding="utf-8"))
    counts = manifest["counts"]
    return {"seconds": round(time.perf_counter() - started, 2),
            **{k: counts[k] for k in ("records_in", "records_kept", "segments_total", "segments_unique",
                                      "segments_templates", "segments_sent", "characters_sent")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC)
    args = parser.parse_args()
    if not args.src.exists():
        print(f"skipped: {args.src} not found (the shared LLaVA data is not on this machine)")
        return 0
    from translate.glossary import Glossary

    glossary = ROOT / "glossaries" / "ko"
    records = json.loads(args.src.read_text(encoding="utf-8"))
    protector = Glossary.load(glossary).protector()
    prompts = {protector.protect(r["conversations"][0]["value"]).body for r in records}
    captions = {protector.protect(r["conversations"][1]["value"]).body for r in records}
    with tempfile.TemporaryDirectory() as tmp:
        run(args.src, Path(tmp) / "warm-up", "none")  # imports and language-detector profiles load once
        with_g = run(args.src, Path(tmp) / "glossary", str(glossary))
        without = run(args.src, Path(tmp) / "none", "none")
    print(f"source: {args.src} ({len(records):,} records, {len(prompts)} distinct prompts, "
          f"{len(captions):,} distinct captions)")
    print(f"characters of the distinct captions (as protected): {sum(map(len, captions)):,}")
    print(f"characters of the distinct prompts: {sum(map(len, prompts)):,}")
    for name, row in (("glossary", with_g), ("no glossary", without)):
        print(f"{name:>12}: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in row.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

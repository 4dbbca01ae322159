"""How long the cluster stages take on a 150K-record instruct-like file (pseudo backend), next to a single run.

    python bench/cluster_plan.py [--records 150000] [--shards 16] [--workers 0 2]

Generates bench/_work/cluster/instruct_<N>.json (bench/synthetic.py; kept between runs), then runs, each as its own
process, as a user would: `run` (single), `plan`, `work` for every shard, `assemble`; reports wall time and peak
memory of each (the process and its workers together, bench/proctree.py), and checks that the sharded outputs are
byte-identical to the single run's. `run` and `assemble` run once per `--workers` count.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import synthetic  # noqa: E402
from proctree import measure  # noqa: E402


def timed(args: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one `python -m translate …` process with its workers."""
    seconds, rss, _ = measure([sys.executable, "-m", "translate", *args], ROOT)
    return seconds, rss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=150_000)
    ap.add_argument("--shards", type=int, default=16)
    ap.add_argument("--workers", type=int, nargs="+", default=[0], help="`--workers` counts for run and assemble")
    opts = ap.parse_args()

    work = HERE / "_work" / "cluster"
    src = work / f"instruct_{opts.records}.json"
    if not src.exists():
        t = time.perf_counter()
        synthetic.write(src, opts.records, seed=7)
        print(f"generated {src} ({src.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s")
    for name in ("single", "sharded", "wd"):
        shutil.rmtree(work / name, ignore_errors=True)

    rows = []
    for workers in opts.workers:
        shutil.rmtree(work / "single", ignore_errors=True)
        rows.append((f"run --workers {workers}",) + timed(["run", "--src", str(src), "--backend", "pseudo", "--out",
                                                           str(work / "single"), "-q", "--workers", str(workers)]))
    rows.append((f"plan --shards {opts.shards}",) + timed(
        ["plan", "--src", str(src), "--backend", "pseudo", "--out", str(work / "sharded"), "--shards",
         str(opts.shards), "--workdir", str(work / "wd"), "-q"]))
    work_s, work_rss = 0.0, 0.0
    for i in range(opts.shards):
        s, rss = timed(["work", "--workdir", str(work / "wd"), "--shard", str(i), "-q"])
        work_s, work_rss = work_s + s, max(work_rss, rss)
    rows.append((f"work × {opts.shards} (one after another)", work_s, work_rss))
    for workers in opts.workers:
        rows.append((f"assemble --workers {workers}",) + timed(["assemble", "--workdir", str(work / "wd"), "-q",
                                                                "--workers", str(workers)]))

    import json

    plan = json.loads((work / "wd" / "plan.json").read_text())
    name = f"ko_{src.stem}"
    identical = all((work / "single" / f"{name}{ext}").read_bytes() == (work / "sharded" / f"{name}{ext}").read_bytes()
                    for ext in (".json", ".rejected.jsonl"))
    units = sum(p.stat().st_size for p in (work / "wd" / "units").rglob("*.parquet"))
    results = sum(p.stat().st_size for p in (work / "wd" / "results").rglob("*.parquet"))

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"source: {opts.records:,} records, {src.stat().st_size / 2**20:.0f} MiB; "
          f"{plan['counts']['segments_total']:,} segments, {plan['counts']['segments_unique']:,} unique, "
          f"{plan['counts']['segments_missing']:,} to translate ({plan['counts']['characters_missing']:,} chars)")
    print(f"shards: {opts.shards}, characters per shard {min(plan['shards']['characters']):,}–"
          f"{max(plan['shards']['characters']):,} (imbalance {plan['estimate']['imbalance']})")
    print(f"parquet: units {units / 2**20:.1f} MiB, results {results / 2**20:.1f} MiB")
    print("\n| stage | seconds | peak RSS (MiB) |\n|---|---:|---:|")
    for label, seconds, rss in rows:
        print(f"| {label} | {seconds:.1f} | {rss:.0f} |")
    print(f"\nsharded output byte-identical to the single run: {identical}")
    if not identical:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

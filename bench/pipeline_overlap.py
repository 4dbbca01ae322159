"""Does the pipeline's own work overlap the engine's? The pseudo backend stands in for one GPU stream.

1. O: `translate run --backend pseudo` with no delay: the pipeline's own time (read, prepare, memory, assemble, QC,
   write), as a user runs it (a fresh process, a fresh memory).
2. The per-batch delay is set to O ÷ batches, so the engine's time T (batches × delay) equals O.
3. W: the same run with that delay. W ÷ max(T, O) is 1.0 when everything overlaps, 2.0 when nothing does.

    python bench/pipeline_overlap.py                       # 30,000 instruct-like records
    python bench/pipeline_overlap.py --records 30000 --repo /path/to/other/checkout   # the same on other code

Each run is its own child process; peak RSS is that of the process and its workers together (bench/proctree.py).
`--extra --workers 2` runs both O and W with two worker processes. The source is bench/_work/instruct_<N>.json
(bench/synthetic.py, seed 0; kept between runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import synthetic
from proctree import measure

WORK = HERE / "_work"


def run(repo: Path, src: Path, out: Path, delay: float, extra: list[str]) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS MiB, manifest) of one `translate run --backend pseudo`."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "translate", "run", "--src", str(src), "--backend", "pseudo", "--out", str(out),
           "--memory", str(out / "memory.sqlite"), "-q", *extra]
    if delay:
        cmd += ["--opt", f"delay={delay:.6f}"]
    env = dict(os.environ, PYTHONPATH=str(repo))
    wall, rss, _ = measure(cmd, repo, env)
    manifest = json.loads((out / f"ko_{src.stem}.manifest.json").read_text())
    return wall, rss, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--repo", default=str(HERE.parent), help="the checkout whose code runs (default: this one)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `translate run` arguments")
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    src = WORK / f"instruct_{args.records}.json"
    if not src.exists():
        synthetic.write(src, args.records, seed=0)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}; code: {repo}")
    own, own_rss, manifest = run(repo, src, WORK / "overlap_o", 0.0, args.extra)
    batches = manifest["backend"]["usage"]["batches"]
    delay = own / batches
    wall, rss, manifest = run(repo, src, WORK / "overlap_w", delay, args.extra)
    engine = manifest["backend"]["usage"]["batches"] * delay
    counts = manifest["counts"]
    print(f"{args.records:,} records, {counts['segments_total']:,} segments, {counts['segments_sent']:,} sent in "
          f"{manifest['backend']['usage']['batches']} batches; delay {delay * 1000:.1f} ms per batch")
    print("| O: pipeline alone (s) | T: engine (s) | W: both (s) | W ÷ max(T, O) | W ÷ (T + O) | peak RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(f"| {own:.1f} | {engine:.1f} | {wall:.1f} | {wall / max(engine, own):.2f} | {wall / (engine + own):.2f} | "
          f"{max(own_rss, rss):.0f} |")


if __name__ == "__main__":
    main()

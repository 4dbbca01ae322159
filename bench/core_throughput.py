"""Core pipeline benchmark: peak RSS flatness (15K vs 150K records) and wall time against orjson.

Each measurement runs in its own child process, as a user runs `python -m translate run`; peak RSS is the summed
resident memory of the child and its worker processes (bench/proctree.py).

    python bench/core_throughput.py            # 15K and 150K records, no worker processes
    python bench/core_throughput.py --sizes 15000 60000 --workers 0 2
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import synthetic  # noqa: E402
from proctree import measure as measure_tree  # noqa: E402

WORK = HERE / "_work"

ORJSON_CHILD = """
import sys, time, orjson
t = time.perf_counter()
with open(sys.argv[1], 'rb') as fh:
    data = orjson.loads(fh.read())
with open(sys.argv[2], 'wb') as fh:
    fh.write(orjson.dumps(data))
print(time.perf_counter() - t)
"""


def measure(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=HERE.parent)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return wall, usage.ru_maxrss / 1024, out


def run_translate(src: Path, out: Path, workers: int) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    wall, rss, _ = measure_tree([sys.executable, "-m", "translate", "run", "--src", str(src), "--backend", "pseudo",
                                 "--out", str(out), "-q", "--workers", str(workers)], HERE.parent)
    return wall, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[15_000, 150_000])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[0], help="worker counts to run (`--workers`)")
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}")
    rows = []
    for n in args.sizes:
        src = WORK / f"instruct_{n}.json"
        if not src.exists():
            synthetic.write(src, n, seed=0)
        size_mb = src.stat().st_size / 2**20
        for _ in range(args.repeat):
            oj_wall, oj_rss, oj_out = measure([sys.executable, "-c", ORJSON_CHILD, str(src), str(WORK / "orjson.json")])
            oj_inner = float(oj_out.strip())
            for workers in args.workers:
                wall, rss = run_translate(src, WORK / f"out_{n}", workers)
                rows.append((n, workers, wall, rss))
                print(f"{n:>8,} records {size_mb:7.1f} MB | --workers {workers} | translate run: {wall:6.2f} s, peak "
                      f"RSS {rss:6.1f} MiB | orjson loads+dumps: {oj_inner:5.2f} s (RSS {oj_rss:6.1f} MiB) | ratio "
                      f"{wall / oj_inner:4.1f}x")
    if len(args.sizes) >= 2:
        for workers in args.workers:
            small = min(r[3] for r in rows if r[0] == min(args.sizes) and r[1] == workers)
            large = max(r[3] for r in rows if r[0] == max(args.sizes) and r[1] == workers)
            print(f"--workers {workers}: peak RSS {max(args.sizes):,} / {min(args.sizes):,} records: "
                  f"{large / small:.2f}")


if __name__ == "__main__":
    main()

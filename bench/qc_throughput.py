"""Throughput of the quality checks (turns per second, one process), and their precision/recall on the Korean
parallel fixture.

    python bench/qc_throughput.py [--turns 200000] [--no-precision]

Sets measured:
- fixture: the 56 hand-translated turns of tests/fixtures/parallel_ko (captions to 2,300-character answers), cycled;
- fixture+corrupted: the same plus 123 corrupted variants (exercises every reason, langdetect included);
- pretrain: the 4,366 turns of /work/shared/data/blip_laion_cc_sbu_2k.json with pseudo-Korean outputs (skipped with a
  message when that file is absent);
- each set also with the QC-log row serialised, as the pipeline does per turn.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import qc_support  # noqa: E402
from translate.formats.writers import dumps  # noqa: E402
from translate.qc import QualityChecker, qc_row  # noqa: E402

BLIP = Path("/work/shared/data/blip_laion_cc_sbu_2k.json")


def rate(checker: QualityChecker, turns: list[tuple[str, str, str]], n: int, log: bool = False) -> float:
    work = (turns * (n // len(turns) + 1))[:n]
    start = time.perf_counter()
    if log:
        for source, output, role in work:
            check = checker.inspect(source, output, role, "conversations[1].value")
            dumps(qc_row("file.json", 0, "id", role, "conversations[1].value", check, "kept"))
    else:
        for source, output, role in work:
            checker.check_turn(source, output, role, "conversations[1].value")
    return n / (time.perf_counter() - start)


def pretrain_turns() -> list[tuple[str, str, str]] | None:
    if not BLIP.exists():
        print(f"pretrain set skipped: {BLIP} not found")
        return None
    from translate.backends.pseudo import PseudoBackend

    records = json.loads(BLIP.read_text(encoding="utf-8"))
    sources = [(t["value"], t["from"]) for r in records for t in r["conversations"]]
    bodies = [s.replace("<image>", "").strip() for s, _ in sources]
    outputs = PseudoBackend("en", "ko").translate(bodies)
    turns = []
    for (source, role), out in zip(sources, outputs):
        if source.startswith("<image>"):
            out = "<image>\n" + out
        elif source.endswith("<image>"):
            out = out + "\n<image>"
        turns.append((source, out, role))
    return turns


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=200_000)
    ap.add_argument("--no-precision", action="store_true")
    args = ap.parse_args()
    checker = QualityChecker("ko")
    clean = [(t.source, t.output, t.role) for t in qc_support.load_turns()]
    mixed = [(s.turn.source, s.output, s.turn.role) for s in qc_support.all_samples()]
    sets = {"fixture": clean, "fixture+corrupted": mixed}
    pretrain = pretrain_turns()
    if pretrain:
        sets["pretrain"] = pretrain
    print(f"python {platform.python_version()} on {platform.machine()}, {args.turns:,} turns per measurement")
    rate(checker, clean, 5000)  # warm-up (langdetect profiles load on first use)
    rate(checker, mixed, 2000)
    print(f"{'set':20} {'avg chars':>9} {'check_turn':>12} {'+ QC-log row':>13}")
    for name, turns in sets.items():
        avg = sum(len(s) + len(o) for s, o, _ in turns) / len(turns)
        plain = rate(checker, turns, args.turns)
        logged = rate(checker, turns, args.turns, log=True)
        print(f"{name:20} {avg:9.0f} {plain:10,.0f}/s {logged:11,.0f}/s")
    if not args.no_precision:
        print()
        print(qc_support.format_evaluation(qc_support.evaluate(checker)))


if __name__ == "__main__":
    main()

"""Throughput of the quality checks (turns per second, one process), what each meaning-level check costs, and their
precision/recall on the Korean parallel fixture.

    python bench/qc_throughput.py [--turns 20000] [--repeats 3] [--no-precision]

Sets measured:
- fixture: the 56 hand-translated turns of tests/fixtures/parallel_ko (captions to 2,300-character answers), cycled;
- fixture+corrupted: the same plus 123 corrupted variants (exercises every reason, langdetect included);
- pretrain: the 4,366 turns of /work/shared/data/blip_laion_cc_sbu_2k.json with pseudo-Korean outputs (skipped with a
  message when that file is absent).

Every figure is CPU time of this process (`time.process_time`), the best of `--repeats` passes, so other work on a
shared machine disturbs it less than wall time would. "cold" builds the checker with ``text_cache=0``: nothing is
kept between turns, as for a file whose every source is new (the fixture set cycles 56 turns, so with the cache every
source and output would be a hit after the first pass: "warm" is that upper bound). Where a checker lacks
``text_cache`` (code before the cache) "cold" and "warm" are the same checker.

The meaning-check table measures, on the clean fixture and cold, the surface checks alone (the meaning checks
switched off in ``[qc]``), then the surface checks plus each meaning check on its own, then all checks: the ratios
quoted in bench/RESULTS.md come from one run of this table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

import qc_support  # noqa: E402
from translate.formats.writers import dumps  # noqa: E402
from translate.qc import QualityChecker, qc_row  # noqa: E402

BLIP = Path("/work/shared/data/blip_laion_cc_sbu_2k.json")
MEANING = ("sentence_alignment", "speech_level", "anchor_mismatch", "english_left", "negation")
FIELD = "conversations[1].value"


def checker(settings: dict | None = None, cold: bool = False) -> QualityChecker:
    if cold:
        try:
            return QualityChecker("ko", settings, text_cache=0)
        except TypeError:  # before the text cache: every turn is measured afresh anyway
            pass
    return QualityChecker("ko", settings)


def rate(make, turns: list[tuple[str, str, str]], n: int, repeats: int, log: bool = False) -> float:
    """Turns per CPU second, best of `repeats` passes over `n` turns, each pass with a new checker from `make`."""
    work = (turns * (n // len(turns) + 1))[:n]
    best = float("inf")
    for _ in range(repeats):
        qc = make()
        start = time.process_time()
        if log:
            for source, output, role in work:
                check = qc.inspect(source, output, role, FIELD)
                dumps(qc_row("file.json", 0, "id", role, FIELD, check, "kept"))
        else:
            for source, output, role in work:
                qc.check_turn(source, output, role, FIELD)
        best = min(best, time.process_time() - start)
    return n / best


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


def meaning_table(clean: list[tuple[str, str, str]], n: int, repeats: int) -> None:
    """Cold turns/s on the clean fixture: surface checks only, plus each meaning check alone, all checks."""
    surface_only = {name: False for name in MEANING}
    rows = [("surface checks only", surface_only)]
    rows += [(f"surface + {name}", {**surface_only, name: True}) for name in MEANING]
    rows.append(("all checks", None))
    rates = {label: rate(lambda s=settings: checker(s, cold=True), clean, n, repeats) for label, settings in rows}
    base = rates["surface checks only"]
    print(f"\nmeaning checks, clean fixture, cold ({n:,} turns, best of {repeats}):")
    print(f"{'checks':34} {'turns/s':>10} {'µs/turn':>8} {'added µs':>9} {'vs surface':>10}")
    for label, r in rates.items():
        print(f"{label:34} {r:10,.0f} {1e6 / r:8.1f} {1e6 / r - 1e6 / base:9.1f} {r / base:10.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-precision", action="store_true")
    args = ap.parse_args()
    clean = [(t.source, t.output, t.role) for t in qc_support.load_turns()]
    mixed = [(s.turn.source, s.output, s.turn.role) for s in qc_support.all_samples()]
    sets = {"fixture": clean, "fixture+corrupted": mixed}
    pretrain = pretrain_turns()
    if pretrain:
        sets["pretrain"] = pretrain
    print(f"python {platform.python_version()} on {platform.machine()}, {args.turns:,} turns per measurement, "
          f"CPU time, best of {args.repeats}")
    warm = QualityChecker("ko")
    rate(lambda: warm, clean, 5000, 1)  # warm-up (langdetect profiles load on first use)
    rate(lambda: warm, mixed, 2000, 1)
    print(f"{'set':20} {'avg chars':>9} {'cold':>12} {'warm':>12} {'warm + QC-log row':>18}")
    for name, turns in sets.items():
        avg = sum(len(s) + len(o) for s, o, _ in turns) / len(turns)
        cold = rate(lambda: checker(cold=True), turns, args.turns, args.repeats)
        hot = rate(checker, turns, args.turns, args.repeats)
        logged = rate(checker, turns, args.turns, args.repeats, log=True)
        print(f"{name:20} {avg:9.0f} {cold:10,.0f}/s {hot:10,.0f}/s {logged:16,.0f}/s")
    meaning_table(clean, args.turns, args.repeats)
    if not args.no_precision:
        print()
        print(qc_support.format_evaluation(qc_support.evaluate(QualityChecker("ko"))))


if __name__ == "__main__":
    main()

"""DeepL and Google runs against the local protocol servers in tests/support/fakes/, plus `estimate` figures.

    python bench/remote_demo.py [--records N] [--instruct-records N]

Scenarios, each a real `python -m translate run` (in this process, so the deepl SDK's backoff can be shortened):
a clean run; a 429 storm; DeepL's quota running out halfway and the resume; Google blocking the client halfway and
the resume. Then `estimate` on the BLIP 2K subset (../shared/data, skipped when absent; the committed 120-record
excerpt otherwise) and on a generated 4-file instruct set. Prints a Markdown report.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT / "bench"))

import deepl  # noqa: E402

import synthetic  # noqa: E402
from fakes import FakeDeepL, FakeGoogleTranslate  # noqa: E402
from translate.memory import TranslationMemory  # noqa: E402

KEY = "demo-key:fx"
BLIP = ROOT.parent / "shared" / "data" / "blip_laion_cc_sbu_2k.json"
EXCERPT = ROOT / "tests" / "fixtures" / "blip_excerpt.json"


def cli(*args: object) -> tuple[int, str, str, float]:
    from translate.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - started


def manifest(out: Path, stem: str) -> dict:
    return json.loads((out / f"ko_{stem}.manifest.json").read_text())


def summary(out: Path, stem: str) -> str:
    m = manifest(out, stem)
    c, u = m["counts"], m["backend"]["usage"]
    return (f"in {c['records_in']:,} = kept {c['records_kept']:,} + rejected {c['records_rejected']:,}; "
            f"{c['segments_sent']:,} segments sent, {c['memory_hits']:,} memory hits; usage {json.dumps(u)}")


def estimate_json(*args: object) -> dict:
    code, out, err, _ = cli("estimate", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def deepl_scenarios(src: Path, work: Path, lines: list[str]) -> None:
    stem = src.stem
    os.environ["DEEPL_AUTH_KEY"] = KEY
    deepl.http_client.max_network_retries = 3
    deepl.http_client._BackoffTimer.BACKOFF_INITIAL = 0.02
    deepl.http_client._BackoffTimer.BACKOFF_MAX = 0.1

    def run(fake: FakeDeepL, out: Path, *extra: object):
        return cli("run", "--src", src, "--backend", "deepl", "--out", out, "--deepl-server-url", fake.url,
                   "--opt", "retry_backoff=0.05", "-q", *extra)

    lines.append("### DeepL (FakeDeepL, real `deepl` SDK; SDK backoff shortened to 20–100 ms, outer retry 50 ms)\n")
    with FakeDeepL(auth_keys={KEY}) as fake:
        total = estimate_json("--src", src, "--backend", "deepl", "--out", work / "d-clean")["billed_characters"]
        code, _, err, secs = run(fake, work / "d-clean")
        lines.append(f"- **clean**: exit {code}, {secs:.1f} s; {summary(work / 'd-clean', stem)}; server billed "
                     f"{fake.billed_characters:,} characters in {fake.translate_requests} requests "
                     f"(estimate said {total:,}).")
    with FakeDeepL(auth_keys={KEY}) as fake:
        fake.too_many_requests = 40
        code, _, err, secs = run(fake, work / "d-storm")
        same = (work / "d-storm" / f"ko_{stem}.json").read_bytes() == (work / "d-clean" / f"ko_{stem}.json").read_bytes()
        lines.append(f"- **429 storm** (next 40 translate requests answer 429): exit {code}, {secs:.1f} s; server "
                     f"answered {dict(fake.answered)}; {summary(work / 'd-storm', stem)}; output byte-identical to "
                     f"the clean run: {same}.")
    with FakeDeepL(auth_keys={KEY}) as fake:
        out = work / "d-quota"
        fake.quota_characters = total // 2
        code, _, err, secs = run(fake, out, "--window", "256")
        first = fake.billed_characters
        lines.append(f"- **quota halfway** (456 once {total // 2:,} characters are billed): exit {code}, "
                     f"{secs:.1f} s, billed {first:,}; message: `{err.strip()}`; output file present: "
                     f"{(out / f'ko_{stem}.json').exists()}.")
        remaining = estimate_json("--src", src, "--backend", "deepl", "--out", out)["billed_characters"]
        fake.quota_characters = None
        code, _, err, secs = run(fake, out, "--window", "256")
        second = manifest(out, stem)["backend"]["usage"]["billed_characters"]
        sent = [t for r in fake.translate_log for t in r["text"]]
        lines.append(f"- **resume** (same command, quota lifted): exit {code}, {secs:.1f} s; estimate before it said "
                     f"{remaining:,} to bill; the resume billed {second:,}; {summary(out, stem)}.")
        lines.append(f"- **never billed twice**: {first:,} + {second:,} = {first + second:,} billed over both runs; "
                     f"characters of the unique segments = {total:,}; texts sent {len(sent):,}, distinct "
                     f"{len(set(sent)):,}.")
    lines.append("")


def google_scenarios(src: Path, work: Path, lines: list[str]) -> None:
    stem = src.stem

    def run(fake: FakeGoogleTranslate, out: Path, *extra: object):
        return cli("run", "--src", src, "--backend", "google", "--out", out, "--opt", f"endpoint={fake.url}",
                   "--opt", "backoff=0.02", "--opt", "max_backoff=0.2", "--opt", "concurrency=4", "-q", *extra)

    lines.append("### Google (FakeGoogleTranslate, real `googletrans` 4.0.2 client; backoff 20 ms doubling up to 200 ms)\n")
    with FakeGoogleTranslate() as fake:
        code, _, err, secs = run(fake, work / "g-clean")
        lines.append(f"- **clean**: exit {code}, {secs:.1f} s; {summary(work / 'g-clean', stem)}; server answered "
                     f"{fake.translate_requests:,} requests, {fake.characters:,} characters, at most "
                     f"{fake.max_in_flight} in flight.")
    with FakeGoogleTranslate() as fake:
        fake.too_many_requests = 40
        code, _, err, secs = run(fake, work / "g-storm", "--opt", "rate_limit_retries=50")
        same = (work / "g-storm" / f"ko_{stem}.json").read_bytes() == (work / "g-clean" / f"ko_{stem}.json").read_bytes()
        lines.append(f"- **429 storm** (next 40 requests answer 429; rate_limit_retries=50): exit {code}, {secs:.1f} s; server answered "
                     f"{dict(fake.answered)}; {summary(work / 'g-storm', stem)}; output byte-identical to the clean "
                     f"run: {same}.")
    with FakeGoogleTranslate() as fake:
        out = work / "g-block"
        half = estimate_json("--src", src, "--backend", "google")["counts"]["segments_missing"] // 2
        fake.block_after = half
        code, _, err, secs = run(fake, out, "--opt", "rate_limit_retries=6", "--window", "256")
        with TranslationMemory(out / "translation_memory.sqlite") as memory:
            stored = {row[1] for row in memory.rows() if row[3] != "template"}
        lines.append(f"- **blocked halfway** (every request after the first {half:,} answers 429; "
                     f"rate_limit_retries=6): exit {code}, {secs:.1f} s; server answered {dict(fake.answered)}; "
                     f"message: `{err.strip()}`; output file present: {(out / f'ko_{stem}.json').exists()}; "
                     f"{len(stored):,} translations in the memory.")
        fake.block_after = None
        before = len(fake.queries)
        code, _, err, secs = run(fake, out, "--window", "256")
        resumed = fake.queries[before:]
        lines.append(f"- **resume**: exit {code}, {secs:.1f} s; {summary(out, stem)}; asked for {len(resumed):,} "
                     f"segments, none of them already in the memory: {not set(resumed) & stored}; segments "
                     f"answered over both runs {len(fake.queries):,} for {len(set(fake.queries)):,} unique (the "
                     f"difference is the batch in flight when the first run stopped).")
    lines.append("")


def estimate_figures(blip: Path, work: Path, instruct_records: int, lines: list[str]) -> None:
    lines.append("### estimate\n")
    for backend, extra in (("deepl", ()), ("nllb", ("--tokens-per-second", "2500"))):
        code, out, err, secs = cli("estimate", "--src", blip, "--backend", backend, *extra)
        lines.append(f"`python -m translate estimate --src {blip.name} --backend {backend} {' '.join(extra)}` "
                     f"({secs:.2f} s; exit {code}):\n\n```\n{out.rstrip()}\n```\n")
    files = [synthetic.write(work / f"instruct_part{i}.json", instruct_records, seed=i) for i in range(4)]
    args = [x for f in files for x in ("--src", f)]
    code, out, err, secs = cli("estimate", *args, "--backend", "deepl")
    lines.append(f"4 generated instruct files (bench/synthetic.py, {instruct_records:,} records each, seeds 0–3), "
                 f"`estimate --backend deepl` ({secs:.2f} s):\n\n```\n{out.rstrip()}\n```\n")
    singles = [estimate_json("--src", f, "--backend", "deepl") for f in files]
    together = estimate_json(*args, "--backend", "deepl")
    lines.append(f"Cross-file deduplication: unique segments per file {[s['counts']['segments_unique'] for s in singles]}"
                 f" (sum {sum(s['counts']['segments_unique'] for s in singles):,}) vs {together['counts']['segments_unique']:,}"
                 f" for the four together; billed {sum(s['billed_characters'] for s in singles):,} vs "
                 f"{together['billed_characters']:,} characters.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=0, help="Use only the first N BLIP records in the runs.")
    parser.add_argument("--instruct-records", type=int, default=2000)
    args = parser.parse_args()
    blip = BLIP if BLIP.exists() else EXCERPT
    lines = [f"Data: `{blip}`" + ("" if BLIP.exists() else " (../shared absent: the committed excerpt)") + "\n"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = blip
        if args.records:
            src = work / "blip_subset.json"
            src.write_text(json.dumps(json.loads(blip.read_text())[: args.records]))
        deepl_scenarios(src, work, lines)
        google_scenarios(src, work, lines)
        estimate_figures(blip, work, args.instruct_records, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

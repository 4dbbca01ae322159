"""translate.qc.cache and the checker's use of it: measurements kept by text never change a verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import qc_support
from translate.qc import QualityChecker
from translate.qc.cache import TextCache

MEANING = Path(__file__).parent / "fixtures" / "qc_meaning"


def test_bounded_two_generations():
    cache = TextCache(2)
    cache.facts("a")["x"] = 1
    cache.facts("b")["x"] = 2
    cache.facts("c")  # the new generation was full: a and b are now the old one
    assert cache.facts("a") == {"x": 1}  # found in the old generation, moved back
    cache.facts("d")
    cache.facts("e")  # a and d full the new generation again; the old (b, c) is dropped
    assert cache.facts("b") == {} and len(cache) <= 4
    assert TextCache(0).facts("a") is not TextCache(0).facts("a")
    with pytest.raises(ValueError):
        TextCache(-1)


def _verdicts(checker: QualityChecker, cases) -> list:
    out = []
    for source, output, role in cases:
        check = checker.inspect(source, output, role, "f")
        out.append((check.codes, [w.code for w in check.warnings], check.levels,
                    [r.detail for r in check.reasons]))
    return out


def test_verdicts_do_not_depend_on_the_cache():
    turns = json.loads((MEANING / "turns.json").read_text(encoding="utf-8"))
    cases = [(s.turn.source, s.output, s.turn.role) for s in qc_support.all_samples()]
    cases += [(t["source"], t["output"], t["role"]) for t in turns]
    # Each source again with other outputs, so a cached source meets new translations.
    cases += [(cases[i][0], cases[(i * 7 + 3) % len(cases)][1], cases[i][2]) for i in range(len(cases))]
    cold = _verdicts(QualityChecker("ko", text_cache=0), cases)
    warm = QualityChecker("ko", text_cache=8)  # small: entries move between generations and are dropped
    assert _verdicts(warm, cases) == cold
    assert _verdicts(warm, cases) == cold  # second pass: mostly hits
    assert any(codes for codes, *_ in cold) and any(levels for *_, levels, _ in cold)


def test_record_checks_with_and_without_the_cache():
    records = json.loads((MEANING / "records.json").read_text(encoding="utf-8"))
    for size in (0, 4096):
        checker = QualityChecker("ko", text_cache=size)
        found = []
        for r in records:
            fields = [f"c{i}" for i in range(len(r["roles"]))]
            for s, o, role, f in zip(r["sources"], r["outputs"], r["roles"], fields):
                checker.inspect(s, o, role, f)
            found.append([(x.code, x.field) for x in checker.inspect_record(r["sources"], r["outputs"], r["roles"],
                                                                               fields)])
        if size == 0:
            expected = found
    assert found == expected and any(found)

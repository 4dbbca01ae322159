"""translate.qc.qe: the scorer registry (built-ins and the `translate.qe` entry points), chrF, round-trip chrF through
real backends, and the stage that puts scores in the QC log and turns low ones into `qe_low`."""

from __future__ import annotations

import json
import math

import pytest

import qc_support
from translate.backends.pseudo import PseudoBackend
from translate.errors import ConfigError
from translate.qc import QualityChecker, qc_row, write_qc_rows
from translate.qc.qe import QeSettings, QeStage, RoundTripChrF, available_scorers, chrf, create_scorer
from translate.qc.text import strip_image
from translate.qc.verdict import TurnCheck
from translate.report import build, find_logs, render_html

# Sentence chrF of sacrebleu 2.6.0 (CHRF(), defaults), computed once with it; (hypothesis, reference, score).
SACREBLEU_CHRF = [
    ("The cat sat on the mat.", "The cat is sitting on the mat.", 49.6485170311433),
    ("a", "b", 0.0),
    ("", "abc", 0.0),
    ("hello world", "hello world", 100.0),
    ("A red bus is parked near the stop.", "A red double-decker bus on a street in London", 15.467508952514017),
    ("고양이가 매트 위에 앉아 있습니다.", "고양이가 매트에 앉았다.", 44.163971334014285),
    ("ab", "abcdefgh", 23.404255319148938),
]


@pytest.mark.parametrize("hypothesis, reference, expected", SACREBLEU_CHRF)
def test_chrf_gives_sacrebleus_numbers(hypothesis, reference, expected):
    assert chrf(hypothesis, reference) == pytest.approx(expected, abs=1e-9)


def test_chrf_against_sacrebleu_itself_on_the_fixture():
    sacrebleu = pytest.importorskip("sacrebleu.metrics")
    metric = sacrebleu.CHRF()
    turns = qc_support.load_turns()
    for a, b in zip(turns, turns[1:] + turns[:1]):  # unrelated pairs as well as near ones
        for hyp, ref in ((a.output, b.output), (a.source, b.source), (a.source, a.source[: len(a.source) // 2])):
            assert chrf(hyp, ref) == pytest.approx(metric.sentence_score(hyp, [ref]).score, abs=1e-9)


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """A distribution on sys.path that registers a backend and a scorer through entry points, as a package would."""
    dist = tmp_path / "qe_plugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: qe-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[translate.backends]\nreverse-dictionary = qc_support:ReverseDictionaryBackend\n\n"
        "[translate.qe]\nlength-fit = qe_plugin:LengthFit\nroundtrip-chrf = qe_plugin:LengthFit\n")
    (tmp_path / "qe_plugin.py").write_text(
        "class LengthFit:\n"
        "    name = 'length-fit'\n"
        "    def __init__(self, source_lang, target_lang, ratio=0.5):\n"
        "        self.ratio = ratio\n"
        "    def score(self, sources, outputs):\n"
        "        return [min(len(o) / (len(s) * self.ratio), 1.0) for s, o in zip(sources, outputs)]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_registry_has_the_builtin_and_entry_point_scorers(plugins):
    found = available_scorers()
    assert found["roundtrip-chrf"] == "translate.qc.qe:RoundTripChrF"  # an entry point cannot shadow a built-in
    assert found["length-fit"] == "qe_plugin:LengthFit"
    scorer = create_scorer("length-fit", "en", "ko", {"ratio": 0.25})
    assert scorer.score(["abcd", "abcdefgh"], ["a", "x"]) == [1.0, 0.5]
    with pytest.raises(ConfigError, match="unknown scorer 'comet'.*length-fit.*roundtrip-chrf"):
        create_scorer("comet", "en", "ko")
    with pytest.raises(ConfigError, match="does not take option.*colour.*it accepts: ratio"):
        create_scorer("length-fit", "en", "ko", {"colour": 1})


def test_round_trip_through_the_pseudo_backend():
    # Pseudo translation is not its own inverse: the Korean output comes back unchanged (no Latin letters to map),
    # so the scores are the chrF of the Korean output against the English source, and the Latin names it kept come
    # back as pseudo-Hangul.
    scorer = create_scorer("roundtrip-chrf", "en", "ko", {"backend": "pseudo"})
    assert isinstance(scorer, RoundTripChrF)
    assert (scorer.backend.source_lang, scorer.backend.target_lang) == ("ko", "en")  # the reverse direction
    turns = [t for t in qc_support.load_turns() if strip_image(t.source)][:12]
    sources, outputs = [strip_image(t.source) for t in turns], [strip_image(t.output) for t in turns]
    back = PseudoBackend("ko", "en").translate(outputs)
    assert back[0] == outputs[0]
    assert scorer.score(sources, outputs) == pytest.approx([chrf(b, s) / 100 for b, s in zip(back, sources)])
    assert scorer.score(["OpenCV marker"], ["OpenCV marker"]) == [pytest.approx(0.0)]


def _window():
    """(source, output) pairs of the parallel fixture, plus two bad translations: half an answer, and an answer
    the round-trip backend does not know (it gives up: no score)."""
    turns = [t for t in qc_support.load_turns() if strip_image(t.source) and strip_image(t.output)]
    pairs = [(t.source, t.output) for t in turns]
    table = {strip_image(t.output): strip_image(t.source) for t in turns}
    long = max(turns, key=lambda t: len(t.output))
    half = strip_image(long.output)[: len(strip_image(long.output)) // 2].strip()
    table[half] = strip_image(long.source)[: len(strip_image(long.source)) // 2].strip()
    pairs += [(long.source, half), ("What is this?", "이것은 무엇인가요")]
    return pairs, table


def test_stage_scores_a_window_and_rejects_below_the_threshold(plugins):
    pairs, table = _window()
    stage = QeStage.from_config({"scorer": "roundtrip-chrf", "threshold": 0.8,
                                 "options": {"backend": "reverse-dictionary", "backend_options": {"table": table}}},
                                "en", "ko")
    scores = stage.score_window(pairs + [("<image>", "<image>")])
    assert scores[:-3] == [1.0] * (len(pairs) - 2)  # exact round trips
    assert 0.3 < scores[-3] < 0.8  # half an answer comes back as half the source
    assert scores[-2] is None and scores[-1] is None  # given up on; nothing to score
    backend = stage.scorer.backend
    assert all(len(b) <= 8 for b in backend.batches) and sum(map(len, backend.batches)) == len(pairs)
    shared = TurnCheck([])  # the pipeline reuses one clean check for repeated turns: it must not change
    applied = [stage.apply(shared, s, f"conversations[{i}].value") for i, s in enumerate(scores)]
    checks, found = [c for c, _ in applied], [r for _, r in applied]
    assert [r.code for r in found if r] == ["qe_low"] and found[-3].field == f"conversations[{len(pairs) - 2}].value"
    assert checks[-3].codes == ["qe_low"] and checks[-3].reasons[0] is found[-3] and checks[-3].qe == scores[-3]
    assert checks[0].qe == 1.0 and checks[0].codes == [] and checks[-1].qe is None and checks[-1].codes == []
    assert shared.qe is None and shared.reasons == []
    # Without a threshold the scores are only logged.
    only_logged = QeStage(QeSettings("roundtrip-chrf"), "en", "ko", scorer=stage.scorer)
    check, reason = only_logged.apply(TurnCheck([]), 0.01, "f")
    assert reason is None and check.qe == 0.01 and check.reasons == []


def test_scores_go_to_the_qc_log_and_the_report(plugins, tmp_path):
    stage = QeStage.from_config({"scorer": "length-fit", "threshold": 0.5}, "en", "ko")
    checker = QualityChecker("ko", {"qe": {"scorer": "length-fit"}})  # [qc] accepts the qe table
    pairs = [("A dog runs on the beach.", "개가 해변을 달립니다."), ("A dog runs on the beach.", "개")]
    scores = stage.score_window(pairs)
    rows = []

    class Log:
        def write_text(self, text):
            rows.extend(json.loads(line) for line in text.splitlines())

    for i, ((source, output), score) in enumerate(zip(pairs, scores)):
        check, _ = stage.apply(checker.inspect(source, output, "gpt", "conversations[1].value"), score,
                               "conversations[1].value")
        write_qc_rows(Log(), "f.json", i, str(i), [("gpt", "conversations[1].value", check)],
                      "rejected" if check.reasons else "kept")
        assert rows[-1] == qc_row("f.json", i, str(i), "gpt", "conversations[1].value", check, rows[-1]["verdict"])
    assert [r["qe"] for r in rows] == scores and "qe_low" in rows[1]["reasons"] and scores[0] > 0.5
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "ko_f.qc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = build(find_logs(tmp_path / "logs"))
    assert report.qe["turns"] == 2 and report.qe["rejected"] == 1
    assert report.qe["mean"] == pytest.approx(sum(scores) / 2)
    assert "<h2>Quality estimation</h2>" in render_html(report, with_charts=False)


def test_off_by_default_and_clear_errors():
    assert QeStage.from_config(None, "en", "ko") is None
    assert QeStage.from_config({"scorer": "roundtrip-chrf", "enabled": False}, "en", "ko") is None
    assert QeSettings.parse("roundtrip-chrf") == QeSettings("roundtrip-chrf")
    with pytest.raises(ConfigError, match="threshold must be a number"):
        QualityChecker("ko", {"qe": {"scorer": "roundtrip-chrf", "threshold": "high"}})
    with pytest.raises(ConfigError, match="unknown key.*treshold"):
        QeSettings.parse({"scorer": "roundtrip-chrf", "treshold": 0.3})
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        QeStage.from_config({"scorer": "roundtrip-chrf", "options": {"backend": "nope"}}, "en", "ko")
    row = qc_row("f", 0, "a", "gpt", "f", TurnCheck([]), "kept")
    assert "qe" not in row  # rows of a run without QE keep their bytes
    assert not math.isnan(RoundTripChrF("en", "ko", backend="pseudo").score(["x"], ["y"])[0])

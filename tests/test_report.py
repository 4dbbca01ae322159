"""`report`: polars aggregates over QC logs, the rich table, and the self-contained HTML page."""

from __future__ import annotations

import base64
import builtins
import html
import json
import re
import subprocess
import sys

import pytest

import qc_support
from translate.audit import check_files
from translate.errors import ConfigError, InputFileError
from translate.report import build, find_logs, render_html


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit")
    check_files(qc_support.FIXTURE / "en.json", qc_support.FIXTURE / "ko.json", out)
    check_files(qc_support.FIXTURE / "en.json", qc_support.FIXTURE / "ko_corrupted.json", out)
    return out


def test_aggregates_match_the_logs(audited):
    report = build(find_logs(audited))
    rows = [json.loads(line) for p in sorted(audited.glob("*.qc.jsonl")) for line in p.read_text().splitlines()]
    assert report.overview["files"] == 2 and report.overview["records"] == 44
    assert report.overview["turns"] == sum(1 for r in rows if r["role"])
    counted = {}
    for r in rows:
        for code in r["reasons"]:
            counted[code] = counted.get(code, 0) + 1
    assert dict(zip(report.reasons["reason"], report.reasons["turns"])) == counted
    gpt = report.ratio_by_role.filter(report.ratio_by_role["role"] == "gpt").row(0, named=True)
    ratios = sorted(r["ratio"] for r in rows if r["role"] == "gpt" and r["ratio"] is not None)
    assert gpt["turns"] == len(ratios)
    assert abs(gpt["p50"] - (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2) < 1e-9
    assert report.ratio_by_file.height == 4  # 2 files × 2 roles
    worst = report.worst.to_dicts()
    assert worst and all(w["n_reasons"] > 0 for w in worst)
    assert worst == sorted(worst, key=lambda w: (-w["n_reasons"], -(w["ratio_deviation"] or -1)))
    truth = json.loads((qc_support.FIXTURE / "ko_corrupted.labels.json").read_text())
    assert {w["id"] for w in worst} == {rid for rid, kind in truth.items() if kind != "clean"}


def test_html_is_self_contained_with_png_charts(audited):
    pytest.importorskip("matplotlib")
    page = render_html(build(find_logs(audited)))
    images = re.findall(r"<img alt='(\w+)' width='(\d+)' height='(\d+)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'",
                        page)
    assert [name for name, *_ in images] == ["reasons", "ratio_hist", "ratio_files", "script", "levels"]
    for _, width, height, img in images:
        png = base64.b64decode(img)
        assert png.startswith(b"\x89PNG")
        # Each chart is placed at its own pixel size: the flex row cannot stretch it out of its aspect ratio.
        assert (int(width), int(height)) == (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))
    assert "align-items:flex-start" in page and "height:auto" in page
    assert not re.search(r"(src|href)=['\"]?https?:", page)  # nothing fetched from anywhere
    assert "number_mismatch" in page and "prompts-detail_description-001" in page


def test_html_without_matplotlib_keeps_the_tables(audited, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    page = render_html(build(find_logs(audited)))
    assert "data:image/png" not in page and "llava-translate[report]" in page and "missing_translation" in page
    # The review and the speech levels are tables and text: all there without charts.
    assert "Rejected records (17)" in page and "Sample of kept records (20 of 27, seed 0)" in page
    assert "<h2>Speech levels</h2>" in page and "합쇼체" in page


def test_ids_and_names_are_escaped(tmp_path):
    row = {"file": "<b>f.json</b>", "index": 0, "id": "<script>x</script>", "role": "gpt", "field": "f",
           "src_chars": 10, "out_chars": 30, "ratio": 3.0, "script": 1.0, "reasons": ["length_ratio"],
           "verdict": "rejected"}
    (tmp_path / "a.qc.jsonl").write_text(json.dumps(row) + "\n")
    page = render_html(build(find_logs(tmp_path)), with_charts=False)
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt;" in page


def test_missing_or_bad_logs_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="no \\*.qc.jsonl QC log found"):
        find_logs(tmp_path)
    (tmp_path / "bad.qc.jsonl").write_text("{not json\n")
    with pytest.raises(InputFileError, match="not a QC log"):
        build(find_logs(tmp_path))


def test_report_command_prints_and_writes_html(audited, tmp_path):
    html = tmp_path / "r.html"
    res = subprocess.run([sys.executable, "-m", "translate", "report", str(audited), "--html", str(html),
                          "--json", str(tmp_path / "r.json"), "--top", "5"],
                         capture_output=True, text=True, timeout=120, env={"COLUMNS": "140", **__import__("os").environ})
    assert res.returncode == 0, res.stderr
    assert "reasons" in res.stdout and "image_token" in res.stdout and "worst records (top 5)" in res.stdout
    assert html.read_text(encoding="utf-8").startswith("<!doctype html>")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["overview"]["records"] == 44 and len(data["worst"]) == 5
    res = subprocess.run([sys.executable, "-m", "translate", "report", str(tmp_path / "nothing")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "no such folder" in res.stderr and "Traceback" not in res.stderr


def test_a_run_writes_a_log_the_report_reads(tmp_path):
    src = tmp_path / "en.json"
    src.write_text((qc_support.FIXTURE / "en.json").read_text(encoding="utf-8"), encoding="utf-8")
    res = subprocess.run([sys.executable, "-m", "translate", "run", "--src", str(src), "--backend", "pseudo",
                          "--out", str(tmp_path / "out"), "-q"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    report = build(find_logs(tmp_path / "out"), sample=3, seed=1)
    assert report.overview["records"] == 22 and report.overview["turns"] > 0
    # The sample is read through the run's manifest: source and pseudo translation side by side.
    assert len(report.sample) == 3 and not report.notes
    en = json.loads(src.read_text(encoding="utf-8"))
    for r in report.sample:
        assert [t.source for t in r.turns] == [c["value"] for c in en[r.index]["conversations"]]
        assert all(t.output and t.output != t.source for t in r.turns if "<image>" not in t.source)


# -- the review page ---------------------------------------------------------------------------------------------------

def _rec_blocks(page: str) -> list[str]:
    return re.findall(r"<div class='rec'>.*?</table></div>", page, re.S)


def test_rejected_records_side_by_side_with_their_reasons(audited):
    report = build(find_logs(audited), max_rejected=100)
    page = render_html(report, with_charts=False)
    assert report.rejected_total == len(report.rejected) == 17
    en = {r["id"]: r for r in json.loads((qc_support.FIXTURE / "en.json").read_text(encoding="utf-8"))}
    corrupted = {r["id"]: r for r in json.loads((qc_support.FIXTURE / "ko_corrupted.json").read_text(encoding="utf-8"))}
    entries = [json.loads(line) for line in (audited / "ko_corrupted.rejected.jsonl").read_text().splitlines()]
    rejected_part = page[page.index("Rejected records"): page.index("Sample of kept records")]
    blocks = {re.search(r"id <code>([^<]+)</code>", b).group(1): b for b in _rec_blocks(rejected_part)}
    assert len(blocks) == 17
    for entry in entries:
        block = blocks[entry["id"]]
        for reason in entry["reasons"]:
            if not reason["field"]:  # about the whole record: listed above its turns
                assert f"<span class='code'>{reason['code']}</span> {html.escape(reason['detail'])}" in block
                continue
            turn = int(re.search(r"\[(\d+)\]", reason["field"]).group(1))
            source = en[entry["id"]]["conversations"][turn]["value"]
            output = corrupted[entry["id"]]["conversations"][turn]["value"]
            # The turn's row holds its source, its translation and the reason with its detail, marked as bad.
            row = re.search(r"<tr class='bad'><td class='f l'>%s<.*?</tr>" % re.escape(reason["field"]), block, re.S)
            assert row, (entry["id"], reason)
            assert html.escape(source[:200]) in row.group(0) and html.escape(output[:200]) in row.group(0)
            assert f"<span class='code'>{reason['code']}</span> {html.escape(reason['detail'])}" in row.group(0)


def test_rejected_records_are_bounded_and_the_rest_counted(audited):
    page = render_html(build(find_logs(audited), max_rejected=2), with_charts=False)
    assert len(re.findall(r"· rejected ", page)) == 2
    assert "Rejected records (17)" in page and "15 more are not shown" in page


def test_every_text_is_escaped(tmp_path):
    evil = "<script>alert('x')</script>"
    source = {"id": "a<b>", "image": "x.jpg", "conversations": [{"from": "human", "value": f"<image>\nWhat? {evil}"},
                                                              {"from": "gpt", "value": "It is <img src=x onerror=1>."}]}
    candidate = {"id": "a<b>", "image": "x.jpg", "conversations": [{"from": "human", "value": f"<image>\n무엇? {evil}"},
                                                                 {"from": "gpt", "value": "<b>bold</b>"}]}
    row = {"file": "f.json", "index": 0, "id": "a<b>", "role": "gpt", "field": "conversations[1].value",
           "src_chars": 10, "out_chars": 30, "ratio": 3.0, "script": 1.0, "reasons": ["length_ratio"],
           "verdict": "rejected"}
    (tmp_path / "ko_f.qc.jsonl").write_text(json.dumps(row) + "\n")
    entry = {"file": "f.json", "index": 0, "id": "a<b>", "source": source, "candidate": candidate,
             "reasons": [{"code": "length_ratio", "field": "conversations[1].value", "detail": f"why {evil}"},
                         {"code": "x<i>", "field": "", "detail": evil}]}
    (tmp_path / "ko_f.rejected.jsonl").write_text(json.dumps(entry) + "\n")
    page = render_html(build(find_logs(tmp_path)), with_charts=False)
    assert "<script" not in page and "<img src=x" not in page and "<b>bold" not in page and "<i>" not in page
    assert page.count(html.escape(evil)) == 4  # source, translation, a turn's reason, the record's reason
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "a&lt;b&gt;" in page


def test_the_kept_sample_is_drawn_with_a_seed(audited):
    logs = find_logs(audited)
    first = build(logs, sample=5, seed=7)
    again = build(logs, sample=5, seed=7)
    other = build(logs, sample=5, seed=8)
    keys = [(r.log, r.index) for r in first.sample]
    assert keys == [(r.log, r.index) for r in again.sample] and len(keys) == 5
    assert keys != [(r.log, r.index) for r in other.sample]
    assert first.sample_population == 27  # 22 clean + 5 corrupted records that passed
    en = json.loads((qc_support.FIXTURE / "en.json").read_text(encoding="utf-8"))
    texts = {"ko.qc.jsonl": json.loads((qc_support.FIXTURE / "ko.json").read_text(encoding="utf-8")),
             "ko_corrupted.qc.jsonl": json.loads((qc_support.FIXTURE / "ko_corrupted.json").read_text(encoding="utf-8"))}
    for r in first.sample:
        assert r.verdict == "kept" and not r.note
        assert [t.source for t in r.turns] == [c["value"] for c in en[r.index]["conversations"]]
        assert [t.output for t in r.turns] == [c["value"] for c in texts[r.log][r.index]["conversations"]]
    page = render_html(first, with_charts=False)
    assert "Sample of kept records (5 of 27, seed 7)" in page and len(_rec_blocks(page)) == 17 + 5


def test_warnings_and_speech_levels_are_counted_apart(tmp_path):
    base = {"file": "f.json", "id": None, "role": "gpt", "field": "conversations[1].value", "src_chars": 10,
            "out_chars": 5, "ratio": 0.5, "script": 1.0, "verdict": "kept"}
    rows = [dict(base, index=0, reasons=[], warnings=["negation"], levels={"hapsyo": 2}),
            dict(base, index=1, reasons=[], levels={"hapsyo": 1, "banmal": 1}),
            dict(base, index=2, reasons=["speech_level"], warnings=["negation"], levels={"haeyo": 3},
                 verdict="rejected"),
            dict(base, index=3, reasons=[])]
    (tmp_path / "a.qc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = build(find_logs(tmp_path))
    assert report.overview["turns_warned"] == 2 and report.overview["turns_flagged"] == 1
    assert report.warnings.to_dicts() == [{"warning": "negation", "turns": 2, "records": 2}]
    assert report.reasons["reason"].to_list() == ["speech_level"]
    assert {(r["level"], r["sentences"], r["turns"]) for r in report.levels.to_dicts()} == {
        ("hapsyo", 3, 2), ("banmal", 1, 1), ("haeyo", 3, 1)}
    assert report.mixed_turns == 1
    page = render_html(report, with_charts=False)
    assert "turns with warnings<b>2</b>" in page and "반말" in page
    # No rejected file, no manifest beside the log: said on the page, not an error.
    assert "a.rejected.jsonl: not found" in page


def test_a_broken_rejected_line_is_a_note_not_an_error(audited, tmp_path):
    for p in audited.iterdir():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    rejected = tmp_path / "ko_corrupted.rejected.jsonl"
    lines = rejected.read_text(encoding="utf-8").splitlines()
    rejected.write_text("\n".join([lines[0], "{not json", "[1, 2]", *lines[1:]]) + "\n", encoding="utf-8")
    (tmp_path / "ko.check.json").unlink()  # the clean log's summary: its kept records cannot be read
    report = build(find_logs(tmp_path), max_rejected=100, sample=50)
    assert report.rejected_total == 19 and len(report.rejected) == 17
    assert any("line 2: not JSON" in n for n in report.notes) and any("line 3: not a rejected" in n for n in report.notes)
    assert any("no ko.manifest.json or ko.check.json" in n for n in report.notes)
    assert report.sample_population == 27 and len(report.sample) == 27
    assert all(r.note for r in report.sample if r.log == "ko.qc.jsonl")
    assert all(not r.note for r in report.sample if r.log == "ko_corrupted.qc.jsonl")
    assert "Not shown" in render_html(report, with_charts=False)


def test_report_command_takes_the_review_page_options(tmp_path, capsys):
    from conftest import run_main

    src = tmp_path / "src.json"
    src.write_text(json.dumps([{"id": str(i), "conversations": [
        {"from": "human", "value": f"What is item {i}?"}, {"from": "gpt", "value": f"It is a red bus number {i}."}]}
        for i in range(12)]))
    out = tmp_path / "out"
    assert run_main(["run", "--src", src, "--backend", "pseudo", "--out", out, "-q"], capsys)[0] == 0
    pages = []
    for seed in (1, 1, 2):
        code, _, err = run_main(["report", out, "--sample", 3, "--seed", seed, "--max-rejected", 0,
                                 "--html", tmp_path / f"r{seed}.html", "--no-charts"], capsys)
        assert code == 0, err
        pages.append((tmp_path / f"r{seed}.html").read_text(encoding="utf-8"))
    assert pages[0] == pages[1]

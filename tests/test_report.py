"""`report`: polars aggregates over QC logs, the rich table, and the self-contained HTML page."""

from __future__ import annotations

import base64
import builtins
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
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 4
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
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
    report = build(find_logs(tmp_path / "out"))
    assert report.overview["records"] == 22 and report.overview["turns"] > 0

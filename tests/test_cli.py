"""The command line as a user runs it: subprocesses, exit codes, config files, and a real kill -9 resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

from conftest import ROOT, load_json, run_cli, run_main


def test_help_lists_run():
    res = run_cli("--help")
    assert res.returncode == 0 and "run" in res.stdout
    res = run_cli("run", "--help")
    assert res.returncode == 0 and "--src" in res.stdout and "--memory" in res.stdout


def test_run_writes_the_three_outputs(tmp_path, blip_excerpt):
    res = run_cli("run", "--src", blip_excerpt, "--backend", "pseudo", "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ko_blip_excerpt.json", "ko_blip_excerpt.manifest.json", "ko_blip_excerpt.qc.jsonl",
                     "ko_blip_excerpt.rejected.jsonl", "translation_memory.sqlite"]
    assert len(load_json(tmp_path / "ko_blip_excerpt.json")) == 120


def test_target_changes_prefix_and_config_file_supplies_options(tmp_path, blip_excerpt):
    config = tmp_path / "run.toml"
    config.write_text(f'src = ["{blip_excerpt}"]\nbackend = "pseudo"\ntarget = "ja"\nout = "{tmp_path / "o"}"\n'
                      "[backend_options]\nbatch_size = 5\n")
    res = run_cli("run", "--config", config)
    assert res.returncode == 0, res.stderr
    manifest = load_json(tmp_path / "o" / "ja_blip_excerpt.manifest.json")
    assert manifest["languages"]["target"] == "ja"
    assert manifest["backend"]["usage"]["batches"] == 27  # 131 segments in batches of 5
    # A flag overrides the file.
    res = run_cli("run", "--config", config, "--target", "vi")
    assert res.returncode == 0 and (tmp_path / "o" / "vi_blip_excerpt.json").exists()


def test_globs_and_several_files(tmp_path, make_instruct):
    make_instruct(20, "a.json", seed=1)
    make_instruct(20, "b.json", seed=2)
    res = run_cli("run", "--src", str(tmp_path / "*.json"), "--backend", "pseudo", "--out", tmp_path / "o")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "o" / "ko_a.json").exists() and (tmp_path / "o" / "ko_b.json").exists()


def test_truncated_file_is_a_clear_error_with_no_partial_output(tmp_path, blip_excerpt):
    src = tmp_path / "cut.json"
    src.write_bytes(blip_excerpt.read_bytes()[:5000])
    res = run_cli("run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "o")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert str(src) in res.stderr and "byte" in res.stderr
    assert not list((tmp_path / "o").glob("ko_*"))
    assert not list((tmp_path / "o").glob(".ko_*"))


def test_usage_errors_are_clear(tmp_path):
    res = run_cli("run", "--src", tmp_path / "missing.json", "--backend", "pseudo")
    assert res.returncode == 2 and "no such file" in res.stderr and "Traceback" not in res.stderr
    src = tmp_path / "a.json"
    src.write_text("[]")
    res = run_cli("run", "--src", src, "--backend", "nope")
    assert res.returncode == 2 and "unknown backend 'nope'" in res.stderr
    res = run_cli("run", "--src", src, "--backend", "pseudo", "--opt", "novalue")
    assert res.returncode == 2 and "KEY=VALUE" in res.stderr


def _journal_texts(path) -> list[int]:
    if not path.exists():
        return []
    return [int(line.split()[0]) for line in path.read_text().splitlines() if line.strip()]


def test_kill_9_then_rerun_is_byte_identical_and_resends_at_most_one_batch(tmp_path, make_instruct):
    src = make_instruct(400, "instruct.json", seed=3)
    reference = run_cli("run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "ref", "-q")
    assert reference.returncode == 0, reference.stderr

    out, journal, batch = tmp_path / "out", tmp_path / "journal", 16
    args = [sys.executable, "-m", "translate", "run", "--src", str(src), "--backend", "pseudo", "--out", str(out),
            "-q", "--opt", f"batch_size={batch}", "--opt", f"journal={journal}"]
    proc = subprocess.Popen(args + ["--opt", "delay=0.03"], cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while len(_journal_texts(journal)) < 10 and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "ko_instruct.json").exists()  # nothing half-written is visible
    sent_before = sum(_journal_texts(journal))

    rerun = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert (out / "ko_instruct.json").read_bytes() == (tmp_path / "ref" / "ko_instruct.json").read_bytes()
    manifest = load_json(out / "ko_instruct.manifest.json")
    unique = manifest["counts"]["segments_unique"]
    total_sent = sent_before + manifest["counts"]["segments_sent"]
    assert manifest["counts"]["memory_hits"] > 0
    assert unique <= total_sent <= unique + batch  # at most the batch in flight was paid twice


def test_a_glob_skips_earlier_outputs_in_the_same_folder(tmp_path, make_instruct):
    make_instruct(10, "a.json", seed=1)
    first = run_cli("run", "--src", str(tmp_path / "*.json"), "--backend", "pseudo", "-q")
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "ko_a.json").exists()
    again = run_cli("run", "--src", str(tmp_path / "*.json*"), "--backend", "pseudo", "-q")
    assert again.returncode == 0, again.stderr
    assert not (tmp_path / "ko_ko_a.json").exists() and not (tmp_path / "ko_ko_a.manifest.json").exists()


# -- previews: --limit and --sample ------------------------------------------------------------------------------

def _chars(folder, name="instruct"):
    return load_json(folder / f"ko_{name}.manifest.json")["counts"]["characters_sent"]


def test_limit_previews_the_first_records_and_the_full_run_pays_nothing_twice(tmp_path, make_instruct):
    src = make_instruct(60, "instruct.json", seed=4)
    alone = run_cli("run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "alone", "-q")
    assert alone.returncode == 0, alone.stderr

    shared = tmp_path / "shared"
    preview = run_cli("run", "--src", src, "--backend", "pseudo", "--out", shared, "-q", "--limit", "10")
    assert preview.returncode == 0, preview.stderr
    manifest = load_json(shared / "ko_instruct.manifest.json")
    assert manifest["partial"] is True and manifest["selection"] == {"limit": 10, "sample": None, "seed": None}
    kept = load_json(shared / "ko_instruct.json")
    assert [r["id"] for r in kept] == [r["id"] for r in load_json(src)[:10]]
    preview_chars = _chars(shared)
    assert 0 < preview_chars < _chars(tmp_path / "alone")

    full = run_cli("run", "--src", src, "--backend", "pseudo", "--out", shared, "-q")
    assert full.returncode == 0, full.stderr
    assert "partial" not in load_json(shared / "ko_instruct.manifest.json")
    assert preview_chars + _chars(shared) == _chars(tmp_path / "alone")
    assert (shared / "ko_instruct.json").read_bytes() == (tmp_path / "alone" / "ko_instruct.json").read_bytes()


def test_sample_is_a_deterministic_subset_in_file_order(tmp_path, make_instruct):
    src = make_instruct(50, "instruct.json", seed=5)
    ids = [r["id"] for r in load_json(src)]

    def sample(out, *extra):
        res = run_cli("run", "--src", src, "--backend", "pseudo", "--out", tmp_path / out, "-q", *extra)
        assert res.returncode == 0, res.stderr
        return [r["id"] for r in load_json(tmp_path / out / "ko_instruct.json")]

    first = sample("a", "--sample", "7", "--seed", "3")
    assert len(first) == 7 == len(set(first)) and set(first) <= set(ids)
    assert first == sorted(first, key=ids.index)
    assert sample("b", "--sample", "7", "--seed", "3", "--window", "2") == first  # windows do not matter
    assert sample("c", "--sample", "7", "--seed", "4") != first
    within = sample("d", "--sample", "5", "--limit", "20")
    assert len(within) == 5 and set(within) <= set(ids[:20])
    assert load_json(tmp_path / "a" / "ko_instruct.manifest.json")["selection"] == {"limit": None, "sample": 7,
                                                                                      "seed": 3}
    assert sample("e", "--sample", "500") == ids  # more than there is: all of it


# -- a moved <image> whose count is kept ---------------------------------------------------------------------------

from translate.backends.pseudo import PseudoBackend  # noqa: E402
import translate.backends.base as backends_base  # noqa: E402


class ImageMovingBackend(PseudoBackend):
    """Pseudo translation that moves every placeholder to the front of its text: an <image> in the middle of a turn
    comes back once, at the start. Only the layout check can see it."""

    name = "image-moving"

    def translate(self, texts):
        out = []
        for text in super().translate(texts):
            marks = re.findall(r"⟦\d+⟧", text)
            out.append("".join(marks) + " " + re.sub(r"\s*⟦\d+⟧", "", text) if marks else text)
        return out


def test_run_rejects_an_image_token_moved_with_its_count_kept(tmp_path, capsys, monkeypatch):
    builtins = dict(backends_base.BUILTIN_BACKENDS)
    monkeypatch.setattr(backends_base, "available_backends",
                        lambda: {**builtins, "image-moving": f"{__name__}:ImageMovingBackend"})
    moved = {"id": "moved", "image": "m.jpg", "conversations": [
        {"from": "human", "value": "Look at this photo <image> and describe it."},
        {"from": "gpt", "value": "A red kite over the beach."}]}
    plain = {"id": "plain", "image": "p.jpg", "conversations": [
        {"from": "human", "value": "<image>\nDescribe the photo."}, {"from": "gpt", "value": "Two dogs in a park."}]}
    src = tmp_path / "a.json"
    src.write_text(json.dumps([moved, plain]))
    code, _, err = run_main(["run", "--src", src, "--backend", "image-moving", "--out", tmp_path / "o", "-q"], capsys)
    assert code == 0, err
    assert [r["id"] for r in load_json(tmp_path / "o" / "ko_a.json")] == ["plain"]
    (row,) = [json.loads(line) for line in (tmp_path / "o" / "ko_a.rejected.jsonl").read_text().splitlines()]
    assert row["id"] == "moved"
    candidate = row["candidate"]["conversations"][0]["value"]
    assert candidate.count("<image>") == 1 and candidate.startswith("<image>")  # count kept, position lost
    assert {(r["code"], r["field"]) for r in row["reasons"]} >= {("image_token", "conversations[0].value")}


def test_check_rejects_an_image_token_moved_from_start_to_end(tmp_path):
    records = [{"id": str(i), "image": f"{i}.jpg", "conversations": [
        {"from": "human", "value": "<image>\nWhat is on the table?"},
        {"from": "gpt", "value": "A cup of coffee and a book."}]} for i in range(2)]
    translated = json.loads(json.dumps(records))
    translated[0]["conversations"][0]["value"] = "탁자 위에 무엇이 있나요?\n<image>"  # moved, one token still
    translated[1]["conversations"][0]["value"] = "<image>\n탁자 위에 무엇이 있나요?"
    for rec in translated:
        rec["conversations"][1]["value"] = "커피 한 잔과 책 한 권입니다."
    (tmp_path / "en.json").write_text(json.dumps(records))
    (tmp_path / "ko.json").write_text(json.dumps(translated, ensure_ascii=False), encoding="utf-8")
    res = run_cli("check", "--src", tmp_path / "en.json", "--translated", tmp_path / "ko.json", "--out",
                  tmp_path / "c", "--no-html", "-q")
    assert res.returncode == 0, res.stderr
    assert "1 passed, 1 rejected" in res.stdout
    rejected = [json.loads(line) for path in (tmp_path / "c").glob("*.rejected.jsonl")
                for line in path.read_text().splitlines()]
    assert [r["id"] for r in rejected] == ["0"]
    assert "image_token" in json.dumps(rejected[0]["reasons"])

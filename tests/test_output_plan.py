"""Every output of a run is planned before any is written (invariant 8): two sources never write one file, an output
never replaces a source, a file this tool did not write is never replaced without --overwrite, and the tool's own
outputs are never read back as sources. A refused run opens no backend and creates no memory."""

from __future__ import annotations

import json
import shutil

import pytest

import translate.backends.base as backends_base
from conftest import load_json, run_main
from robustness_support import llava_records, write_array
from translate.backends.pseudo import PseudoBackend

CONSTRUCTED: list[str] = []


class RecordingBackend(PseudoBackend):
    """The pseudo backend, noting each construction: a refused run must build none."""

    name = "recording"

    def __init__(self, source_lang, target_lang, **options):
        CONSTRUCTED.append(target_lang)
        super().__init__(source_lang, target_lang, **options)


@pytest.fixture
def recording(monkeypatch):
    builtins = dict(backends_base.BUILTIN_BACKENDS)
    monkeypatch.setattr(backends_base, "available_backends",
                        lambda: {**builtins, "recording": f"{__name__}:RecordingBackend"})
    CONSTRUCTED.clear()
    return CONSTRUCTED


def _run(capsys, *args):
    return run_main(["run", "--backend", "recording", "-q", *args], capsys)


def _names(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_same_stem_in_two_folders_is_refused_naming_both(tmp_path, capsys, recording):
    a = write_array((tmp_path / "d1").mkdir() or tmp_path / "d1" / "data.json", llava_records(3, seed=1))
    b = write_array((tmp_path / "d2").mkdir() or tmp_path / "d2" / "data.json", llava_records(2, seed=2))
    code, _, err = _run(capsys, "--src", a, "--src", b, "--out", tmp_path / "o")
    assert code == 2, err
    flat = " ".join(err.split())
    assert str(a) in flat and str(b) in flat and "would both write" in flat and "ko_data.json" in flat
    assert not (tmp_path / "o").exists() and recording == []
    # Separate output folders are fine: each source writes beside itself.
    code, _, err = _run(capsys, "--src", a, "--src", b)
    assert code == 0, err
    assert recording == ["ko"]  # the backend is built once the plan passes
    assert len(load_json(tmp_path / "d1" / "ko_data.json")) == 3 and len(load_json(tmp_path / "d2" / "ko_data.json")) == 2


def test_json_and_jsonl_with_one_stem_share_side_files_and_are_refused(tmp_path, capsys, recording):
    src = tmp_path / "src"
    src.mkdir()
    write_array(src / "data.json", llava_records(2, seed=1))
    (src / "data.jsonl").write_text("\n".join(json.dumps(r) for r in llava_records(2, seed=2)) + "\n")
    code, _, err = _run(capsys, "--src", str(src / "data.*"), "--out", tmp_path / "o")
    assert code == 2, err
    flat = " ".join(err.split())
    assert "data.json and" in flat and "data.jsonl would both write" in flat and "ko_data.rejected.jsonl" in flat
    assert not (tmp_path / "o").exists() and recording == []


def test_outputs_into_the_source_folder_never_replace_a_hand_made_file(tmp_path, capsys, recording):
    src = tmp_path / "src"
    src.mkdir()
    write_array(src / "real.json", llava_records(3, seed=1))
    hand_made = write_array(src / "ko_real.json", [{"id": "mine", "note": "a Korean file someone made by hand"}])
    before = hand_made.read_bytes()
    # The glob picks up ko_real.json (no manifest lists it): as a source it would be overwritten by real.json's output.
    code, _, err = _run(capsys, "--src", str(src / "*.json"), "--out", src)
    assert code == 2, err
    assert "would overwrite the source" in " ".join(err.split())
    # Named alone, real.json's output would still replace the hand-made file: refused unless --overwrite.
    code, _, err = _run(capsys, "--src", src / "real.json", "--out", src)
    assert code == 2, err
    flat = " ".join(err.split())
    assert f"{hand_made} already exists and was not written by llava-translate" in flat and "--overwrite" in flat
    assert hand_made.read_bytes() == before and _names(src) == ["ko_real.json", "real.json"] and recording == []
    code, _, err = _run(capsys, "--src", src / "real.json", "--out", src, "--overwrite")
    assert code == 0, err
    assert len(load_json(hand_made)) == 3


def test_rerunning_into_the_same_folder_replaces_only_our_own_outputs(tmp_path, capsys, recording):
    src = write_array(tmp_path / "a.json", llava_records(4))
    out = tmp_path / "o"
    assert _run(capsys, "--src", src, "--out", out)[0] == 0
    first = (out / "ko_a.json").read_bytes()
    code, _, err = _run(capsys, "--src", src, "--out", out)
    assert code == 0, err
    assert (out / "ko_a.json").read_bytes() == first
    # A file we wrote, then edited by hand, is still ours (its manifest lists it) and is rewritten.
    (out / "ko_a.rejected.jsonl").write_text("edited\n")
    assert _run(capsys, "--src", src, "--out", out)[0] == 0
    assert (out / "ko_a.rejected.jsonl").read_text() == ""
    # A manifest from another tool does not make a file ours.
    (out / "ko_a.manifest.json").write_text(json.dumps({"tool": {"name": "other"}, "outputs": {"o": "ko_a.json"}}))
    code, _, err = _run(capsys, "--src", src, "--out", out)
    assert code == 2 and "was not written by llava-translate" in err


def test_an_output_or_the_memory_equal_to_an_input_is_refused(tmp_path, capsys, recording):
    src = write_array(tmp_path / "a.json", llava_records(2))
    other = write_array(tmp_path / "b.json", llava_records(2, seed=3))
    code, _, err = _run(capsys, "--src", src, "--out", tmp_path, "--memory", other, "--overwrite", "--src", other)
    assert code == 2 and "translation memory" in err and "same file as" in err
    # An output name that is a source, through a symlink.
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "ko_a.json").symlink_to(other)
    code, _, err = _run(capsys, "--src", src, "--src", other, "--out", tmp_path / "o", "--overwrite")
    assert code == 2 and "would overwrite the source" in " ".join(err.split())
    assert recording == [] and load_json(other) == llava_records(2, seed=3)


def test_a_glob_skips_outputs_of_any_target_and_an_explicit_output_is_refused(tmp_path, capsys, recording):
    src = write_array(tmp_path / "a.json", llava_records(3))
    assert _run(capsys, "--src", src, "--target", "ja")[0] == 0
    assert (tmp_path / "ja_a.json").exists()
    code, _, err = _run(capsys, "--src", str(tmp_path / "*.json*"))
    assert code == 0, err
    assert (tmp_path / "ko_a.json").exists() and not (tmp_path / "ko_ja_a.json").exists()
    for own in ("ja_a.json", "ko_a.rejected.jsonl", "ko_a.manifest.json", "translation_memory.sqlite"):
        code, _, err = _run(capsys, "--src", tmp_path / own, "--out", tmp_path / "again")
        assert code == 2, own
        assert "is a file llava-translate wrote" in " ".join(err.split())
    # A copy of an output without its manifest is an ordinary file again.
    shutil.copy(tmp_path / "ja_a.json", tmp_path / "ja_copy.json")
    code, _, err = _run(capsys, "--src", tmp_path / "ja_copy.json", "--out", tmp_path / "again")
    assert code == 0, err


def test_no_output_name_leaves_the_output_folder(tmp_path, capsys, recording):
    src = write_array(tmp_path / "a.json", llava_records(2))
    code, _, err = _run(capsys, "--src", src, "--out", tmp_path / "o", "--target", "../x")
    assert code == 2 and not (tmp_path / "o").exists() and not list(tmp_path.glob("x_*"))

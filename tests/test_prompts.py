"""Prompt folders: LLaVA's real GPT-4 prompts (tests/fixtures/llava_prompts) translated with the pseudo backend and
parsed back with a parser written to LLaVA's format (tests/llava_prompt_parser.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from llava_prompt_parser import parse_caps, parse_conv, parse_folder
from translate.backends.base import Backend
from translate.backends.pseudo import PseudoBackend
from translate.errors import ConfigError, InputFileError
from translate.formats.prompt_files import parse_prompt_file, read_prompt_folder
from translate.memory import TranslationMemory
from translate.pipeline import Pipeline, RunOptions
from translate.prompt_folders import MANIFEST, REJECTED, translate_prompts

FIXTURES = Path(__file__).parent / "fixtures" / "llava_prompts"
FOLDERS = ("complex_reasoning", "conversation", "detail_description")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]")


def make_pipeline(memory_path: Path, backend: Backend | None = None) -> Pipeline:
    backend = backend or PseudoBackend("en", "ko")
    return Pipeline(backend, TranslationMemory(memory_path), RunOptions())


def run(src, out: Path, memory: Path, labels: str = "keep", backend: Backend | None = None):
    pipeline = make_pipeline(memory, backend)
    try:
        return translate_prompts(pipeline, [Path(s) for s in (src if isinstance(src, list) else [src])], out,
                                 labels=labels)
    finally:
        pipeline.memory.close()


def skeleton(text: str) -> list[tuple[str, int]]:
    """Each line as its structural role plus its trailing-whitespace length: what translation must not change."""
    out = []
    for line in text.split("\n"):
        word = line.strip()
        role = word if word in ("Question:", "Answer:", "===", "") else "text"
        out.append((role, len(line) - len(line.rstrip())))
    return out


def translated(source: str, output: str) -> bool:
    return output != source and bool(HANGUL.search(output))


@pytest.fixture(scope="module")
def translated_keep(tmp_path_factory):
    out = tmp_path_factory.mktemp("keep")
    result = run(FIXTURES, out / "ko", out / "tm.sqlite")
    return result, out / "ko"


def test_every_real_file_is_written_with_the_same_names(translated_keep):
    result, out = translated_keep
    assert result.rejected == 0
    for name in FOLDERS:
        src_names = sorted(p.name for p in (FIXTURES / name).iterdir() if p.suffix == ".txt")
        out_names = sorted(p.name for p in (out / name).iterdir())
        assert out_names == src_names
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["counts"]["records_in"] == manifest["counts"]["records_kept"] == 19
    assert manifest["labels"] == "keep"
    assert [f["layouts"]["000_conv.txt"] for f in manifest["folders"]] == ["qa", "qa", "answer"]
    assert (out / REJECTED).read_text() == ""


@pytest.mark.parametrize("name", FOLDERS)
def test_parsed_back_structure_equals_the_source(translated_keep, name):
    _, out = translated_keep
    src, dst = parse_folder(FIXTURES / name), parse_folder(out / name)
    assert translated(src.system, dst.system)
    assert [e.number for e in dst.examples] == [e.number for e in src.examples]
    for s, d in zip(src.examples, dst.examples):
        assert len(d.caps.captions) == len(s.caps.captions) == 5
        assert all(translated(a, b) for a, b in zip(s.caps.captions, d.caps.captions))
        # Labels kept (COCO category names) and coordinates byte for byte.
        assert d.caps.boxes == s.caps.boxes
        assert d.conv.kind == s.conv.kind
        assert len(d.conv.pairs) == len(s.conv.pairs)
        for (sq, sa), (dq, da) in zip(s.conv.pairs, d.conv.pairs):
            assert translated(sq, dq) and translated(sa, da)
        if s.conv.kind == "answer":
            assert translated(s.conv.answer, d.conv.answer)
    # Byte-level skeleton: same lines, same headers and separators in the same places, same trailing spaces, same
    # (absent) final newline.
    for path in sorted((FIXTURES / name).glob("*.txt")):
        source = path.read_text(encoding="utf-8")
        output = (out / name / path.name).read_text(encoding="utf-8")
        assert skeleton(output) == skeleton(source), path.name
        assert output.endswith("\n") == source.endswith("\n")


def test_answer_only_detail_files_stay_answer_only(translated_keep):
    _, out = translated_keep
    for conv in sorted((out / "detail_description").glob("*_conv.txt")):
        text = conv.read_text(encoding="utf-8")
        assert "Question:" not in text and "Answer:" not in text and "===" not in text
        assert parse_conv(text).kind == "answer"
        assert text.count("\n\n") == (FIXTURES / "detail_description" / conv.name).read_text().count("\n\n")


def test_qa_files_keep_english_headers_and_separators_exactly(translated_keep):
    _, out = translated_keep
    for name in ("conversation", "complex_reasoning"):
        for conv in sorted((out / name).glob("*_conv.txt")):
            source = (FIXTURES / name / conv.name).read_text(encoding="utf-8")
            text = conv.read_text(encoding="utf-8")
            for word in ("Question:", "Answer:", "==="):
                assert [i for i, l in enumerate(text.split("\n")) if l == word] == \
                       [i for i, l in enumerate(source.split("\n")) if l == word]


def test_system_message_notation_and_list_markers_survive(translated_keep):
    _, out = translated_keep
    detail = (out / "detail_description" / "system_message.txt").read_text(encoding="utf-8")
    assert "(x1, y1, x2, y2)" in detail
    assert LATIN.sub("", detail.replace("(x1, y1, x2, y2)", "")) == detail.replace("(x1, y1, x2, y2)", "")
    conv = (out / "conversation" / "system_message.txt").read_text(encoding="utf-8").split("\n")
    assert conv[6].startswith("(1) ") and conv[7].startswith("(2) ")
    skiing = (out / "conversation" / "001_conv.txt").read_text(encoding="utf-8").split("\n")
    assert any(line.startswith("1. ") for line in skiing) and any(line.startswith("- ") for line in skiing)


def test_labels_translate_keeps_coordinates(tmp_path):
    result = run(FIXTURES / "detail_description", tmp_path / "out", tmp_path / "tm.sqlite", labels="translate")
    assert result.rejected == 0
    for number in ("000", "001", "002"):
        src = parse_caps((FIXTURES / "detail_description" / f"{number}_caps.txt").read_text())
        dst = parse_caps((tmp_path / "out" / f"{number}_caps.txt").read_text())
        assert [c for _, c in dst.boxes] == [c for _, c in src.boxes]
        assert all(translated(a, b) for (a, _), (b, _) in zip(src.boxes, dst.boxes))
    # A single folder given alone is written straight into --out.
    assert (tmp_path / "out" / "system_message.txt").exists()


def test_rerun_is_byte_identical_and_sends_nothing(tmp_path, translated_keep):
    first, out = translated_keep
    # Identical captions across folders (complex_reasoning/001 = detail_description/001) come from the memory.
    assert first.stats.memory_hits > 0
    memory = tmp_path / "tm.sqlite"
    a = run(FIXTURES, tmp_path / "a", memory)
    b = run(FIXTURES, tmp_path / "b", memory)
    assert a.stats.segments_sent > 0 and b.stats.segments_sent == 0
    for name in FOLDERS:
        for path in sorted((tmp_path / "a" / name).iterdir()):
            assert path.read_bytes() == (tmp_path / "b" / name / path.name).read_bytes()
            # and equal to a run with another, fresh memory
            assert path.read_bytes() == (out / name / path.name).read_bytes()


class DropFirstPlaceholder(Backend):
    """Pseudo-localises but loses placeholder 0, as a careless engine would."""

    name = "drop-first"

    def translate(self, texts: list[str]) -> list[str]:
        return [PseudoBackend("en", "ko").translate([t.replace("⟦0⟧", "")])[0] for t in texts]


def test_lost_span_rejects_the_file_and_writes_the_rest(tmp_path):
    result = run(FIXTURES / "detail_description", tmp_path / "out", tmp_path / "tm.sqlite",
                 backend=DropFirstPlaceholder("en", "ko"))
    folder = result.folders[0]
    assert folder.rejected == ["system_message.txt"]
    assert not (tmp_path / "out" / "system_message.txt").exists()
    assert len(folder.written) == 6
    rejected = [json.loads(line) for line in (tmp_path / "out" / REJECTED).read_text().splitlines()]
    assert rejected[0]["file"] == "system_message.txt"
    assert rejected[0]["reasons"][0]["code"] == "span_lost"
    assert rejected[0]["reasons"][0]["field"] == "system_message.txt:1"


def test_malformed_conv_is_an_error_naming_file_and_line(tmp_path):
    src = tmp_path / "bad"
    shutil.copytree(FIXTURES / "conversation", src)
    (src / "001_conv.txt").write_text("Question:\nWhat is it?\n===\nQuestion:\nAgain?", encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        run(src, tmp_path / "out", tmp_path / "tm.sqlite")
    assert "001_conv.txt" in str(err.value) and "line 4" in str(err.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("*.txt"))
    (src / "001_conv.txt").write_text("Question:\nWhat is it?\n===\nAnswer:\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="line 4: the 'Answer:' block is empty"):
        run(src, tmp_path / "out", tmp_path / "tm.sqlite")
    (src / "001_conv.txt").write_bytes(b"Question:\nWhat is \xff?\n===\nAnswer:\nIt.")
    with pytest.raises(InputFileError, match="invalid UTF-8"):
        run(src, tmp_path / "out", tmp_path / "tm.sqlite")


def test_bad_sources_and_out_are_config_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no prompt files"):
        run(tmp_path / "empty", tmp_path / "out", tmp_path / "tm.sqlite")
    src = tmp_path / "conversation"
    shutil.copytree(FIXTURES / "conversation", src)
    with pytest.raises(ConfigError, match="is the source folder"):
        run(src, src, tmp_path / "tm.sqlite")


def test_parser_keeps_every_byte_and_crlf(tmp_path):
    for path in sorted(FIXTURES.glob("*/*.txt")):
        text = path.read_text(encoding="utf-8")
        parsed = parse_prompt_file(path, text)
        assert parsed.render() == text
        assert parsed.render([u.text for u in parsed.units()]) == text
        assert all("\n" not in u.text and u.text == u.text.strip() for u in parsed.units())
    crlf = "Question:\r\nWhat is it?\r\n===\r\nAnswer:\r\n  - It is a cat.  \r\n"
    parsed = parse_prompt_file(Path("000_conv.txt"), crlf)
    assert [u.text for u in parsed.units()] == ["What is it?", "It is a cat."]
    assert parsed.render(["Q", "A"]) == "Question:\r\nQ\r\n===\r\nAnswer:\r\n  - A  \r\n"


def test_unknown_files_are_skipped_not_copied(tmp_path):
    src = tmp_path / "conversation"
    shutil.copytree(FIXTURES / "conversation", src)
    (src / "notes.md").write_text("private notes")
    folder = read_prompt_folder(src)
    assert folder.skipped == ["notes.md"]
    result = run(src, tmp_path / "out", tmp_path / "tm.sqlite")
    assert result.folders[0].skipped == ["notes.md"]
    assert not (tmp_path / "out" / "notes.md").exists()


def test_cli_prompts_command(tmp_path):
    import translate.cli.prompts  # noqa: F401  (registers the command)
    from translate.cli import app

    out = tmp_path / "ko"
    with pytest.raises(SystemExit) as done:
        app(args=["prompts", "--src", str(FIXTURES), "--out", str(out), "--backend", "pseudo", "-q"],
            prog_name="python -m translate")
    assert done.value.code == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["counts"]["records_kept"] == 19
    assert manifest["options"]["backend"] == "pseudo" and manifest["options"]["labels"] == "keep"
    assert (out / "translation_memory.sqlite").exists()
    assert parse_folder(out / "conversation").examples[1].conv.kind == "qa"
    with pytest.raises(ConfigError, match="needs --out"):
        app(args=["prompts", "--src", str(FIXTURES), "--backend", "pseudo"], prog_name="python -m translate")

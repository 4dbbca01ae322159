"""TMX 1.4 export and import: the structure, the round trip to the same run output, and malformed files."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from conftest import FIXTURES, load_json, read_jsonl, run_main

from translate.memory import TranslationMemory, segment_key
from translate.protect import Span
from translate.tm.tmx import XML_LANG

PAIR = FIXTURES / "kollava_pair"
EN, KO = "llava_instruct_excerpt.json", "ko_llava_instruct_excerpt.json"
HEADER_REQUIRED = ("creationtool", "creationtoolversion", "segtype", "o-tmf", "adminlang", "srclang", "datatype")


def assert_valid_tmx(path) -> list[ET.Element]:
    """The TMX 1.4 structure: <tmx version=1.4> with <header> (its required attributes) then <body>; each <tu> holds
    <prop>s then at least two <tuv xml:lang>, each with exactly one <seg> of plain text."""
    root = ET.parse(path).getroot()
    assert root.tag == "tmx" and root.get("version") == "1.4"
    assert [child.tag for child in root] == ["header", "body"]
    header, body = root
    assert all(header.get(name) for name in HEADER_REQUIRED)
    assert header.get("segtype") in ("block", "paragraph", "sentence", "phrase")
    units = list(body)
    for tu in units:
        assert tu.tag == "tu" and tu.get("tuid") and len(tu.get("creationdate")) == 16
        tags = [c.tag for c in tu]
        assert tags == sorted(tags, key=lambda t: t != "prop") and tags.count("tuv") >= 2
        for tuv in tu.findall("tuv"):
            assert tuv.get(XML_LANG) and [c.tag for c in tuv] == ["seg"] and len(tuv[0]) == 0
    return units


@pytest.fixture
def imported(tmp_path, capsys):
    for name in (EN, KO):
        shutil.copy(PAIR / name, tmp_path / name)
    memory = tmp_path / "tm.sqlite"
    code, _, err = run_main(["memory", "import", "--src", tmp_path / EN, "--translated", tmp_path / KO, "--backend",
                             "pseudo", "--memory", memory, "--origin", "kollava"], capsys)
    assert code == 0, err
    return tmp_path / EN, memory


def _run(src, out, memory, capsys):
    code, _, err = run_main(["run", "--src", src, "--out", out, "--backend", "pseudo", "--memory", memory], capsys)
    assert code == 0, err
    return (out / "ko_llava_instruct_excerpt.json").read_bytes(), load_json(
        out / "ko_llava_instruct_excerpt.manifest.json")["counts"]


def test_export_import_round_trip_gives_the_same_run_output(imported, tmp_path, capsys):
    src, memory = imported
    first, _ = _run(src, tmp_path / "a", memory, capsys)  # the run adds pseudo translations of what was skipped
    tmx = tmp_path / "memory.tmx"
    code, _, err = run_main(["memory", "export", "--memory", memory, "--format", "tmx", "--out", tmx], capsys)
    assert code == 0, err
    units = assert_valid_tmx(tmx)
    with TranslationMemory(memory) as mem:
        total = len(mem)
    # Rows whose placeholders the memory cannot restore (run rows written without their spans) are left out, and
    # said so; every exported segment carries real text, no placeholder.
    left_out = 0 if "left out" not in err else int(err.split("left out: ")[1].split(" ")[0].replace(",", ""))
    assert len(units) + left_out == total
    segs = [tuv[0].text or "" for tu in units for tuv in tu.findall("tuv")]
    assert not any("⟦" in s for s in segs)
    assert any("`NO PARKING 8AM-6PM`" in s for s in segs)  # a code span, restored on both sides
    origins = {p.text for tu in units for p in tu.findall("prop") if p.get("type") == "x-origin"}
    assert "import:kollava" in origins

    fresh = tmp_path / "fresh.sqlite"
    code, out, err = run_main(["memory", "import", "--tmx", tmx, "--backend", "pseudo", "--memory", fresh,
                               "--json"], capsys)
    assert code == 0, err
    counts = json.loads(out)["counts"]
    # The run's glossary-template rows come back as templates: a run takes those from the glossary anyway.
    assert counts["imported"] + counts["templates"] == len(units) and counts["turns_skipped"] == 0
    again, run_counts = _run(src, tmp_path / "b", fresh, capsys)
    assert again == first
    assert run_counts["segments_sent"] == left_out  # only what could not be exported is translated again


def test_a_reviewers_correction_in_the_tmx_reaches_the_next_run(imported, tmp_path, capsys):
    src, memory = imported
    tmx = tmp_path / "memory.tmx"
    assert run_main(["memory", "export", "--memory", memory, "--out", tmx], capsys)[0] == 0
    text = tmx.read_text(encoding="utf-8")
    old = "이미지 속 버스는 어떤 색인가요?"
    new = "사진 속 버스는 무슨 색인가요?"
    assert old in text
    tmx.write_text(text.replace(old, new), encoding="utf-8")
    code, out, err = run_main(["memory", "import", "--tmx", tmx, "--backend", "pseudo", "--memory", memory,
                               "--prefer", "import", "--origin", "review", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["counts"]["replaced"] == 1
    output, _ = _run(src, tmp_path / "out", memory, capsys)
    bus = next(r for r in json.loads(output) if r["id"] == "000000033471")
    assert bus["conversations"][0]["value"] == "<image>\n" + new
    with TranslationMemory(memory) as mem:
        assert mem.stats().by_origin["tmx:review"] == 1


def _tmx(tmp_path, body: str, name="in.tmx"):
    path = tmp_path / name
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header creationtool="x" '
                    'creationtoolversion="1" segtype="sentence" o-tmf="x" adminlang="en" srclang="en" '
                    f'datatype="plaintext"/><body>{body}</body></tmx>', encoding="utf-8")
    return path


def _tu(en: str, ko: str, lang_ko: str = "ko", tuid: str = "1") -> str:
    return (f'<tu tuid="{tuid}"><tuv xml:lang="en-US"><seg>{en}</seg></tuv>'
            f'<tuv xml:lang="{lang_ko}"><seg>{ko}</seg></tuv></tu>')


def test_malformed_tmx_is_refused_before_anything_is_imported(tmp_path, capsys):
    memory = tmp_path / "m.sqlite"
    good = _tu("What is on the table?", "탁자 위에 무엇이 있나요?")
    broken = _tmx(tmp_path, good + '<tu tuid="2"><tuv xml:lang="en"><seg>A &amp B</seg></tuv></tu>', "broken.tmx")
    code, _, err = run_main(["memory", "import", "--tmx", broken, "--backend", "pseudo", "--memory", memory],
                            capsys)
    assert code == 2 and "broken.tmx" in err and "not well-formed XML" in err and "line" in err
    assert "Traceback" not in err
    with TranslationMemory(memory) as mem:
        assert len(mem) == 0  # the good <tu> before the error was not imported either
    html = tmp_path / "page.tmx"
    html.write_text("<html><body/></html>", encoding="utf-8")
    code, _, err = run_main(["memory", "import", "--tmx", html, "--backend", "pseudo", "--memory", memory], capsys)
    assert code == 2 and "not a TMX file" in err


def test_unusable_units_are_skipped_with_reasons(tmp_path, capsys):
    memory = tmp_path / "m.sqlite"
    path = _tmx(tmp_path, "".join([
        _tu("What is on the table?", "탁자 위에 무엇이 있나요?"),
        _tu("Where is the cat sitting?", "Où est assis le chat ?", lang_ko="fr", tuid="2"),  # no Korean
        '<tu tuid="3"><tuv xml:lang="en"><seg>Press <ph x="1">{1}</ph> now.</seg></tuv>'
        '<tuv xml:lang="ko"><seg><ph x="1">{1}</ph>을 누르세요.</seg></tuv></tu>',
        _tu("The bus is white and red, with a blue stripe along its side.", "The bus is white and red, with a "
            "blue stripe along its side.", tuid="4"),  # English left in: QC
    ]))
    code, out, err = run_main(["memory", "import", "--tmx", path, "--backend", "pseudo", "--memory", memory,
                               "--json"], capsys)
    assert code == 0, err
    counts = json.loads(out)["counts"]
    assert counts["imported"] == 1
    assert counts["reasons"] == {"tmx_inline_markup": 1, "tmx_language_missing": 1, "untranslated": 1}
    rows = read_jsonl(tmp_path / "in.skipped.jsonl")
    assert {row["tuid"] for row in rows} == {"2", "3", "4"}
    assert "fr" in next(r for r in rows if r["tuid"] == "2")["reasons"][0]["detail"]


def test_a_tmx_without_the_languages_asked_for_is_an_error(tmp_path, capsys):
    path = _tmx(tmp_path, _tu("What is on the table?", "Qu'y a-t-il sur la table ?", lang_ko="xx"))
    code, _, err = run_main(["memory", "import", "--tmx", path, "--backend", "pseudo", "--memory",
                             tmp_path / "m.sqlite"], capsys)
    assert code == 2 and "none of its 1 <tu>" in err and "in.tmx" in err


def test_carriage_returns_survive_and_control_characters_are_left_out(tmp_path, capsys):
    memory = tmp_path / "m.sqlite"
    keys = [segment_key(t, "en", "ko", "pseudo/v1") for t in ("line one\r\nline two", "bell\x07", "code ⟦0⟧ here")]
    with TranslationMemory(memory) as mem:
        mem.put([(keys[0], "line one\r\nline two", "첫 줄\r\n둘째 줄"), (keys[1], "bell\x07", "종\x07"),
                 (keys[2], "code ⟦0⟧ here", "코드 ⟦0⟧ 여기", (Span("code", "`x<y`", "`x<y`"),))],
                origin="pseudo/v1", source_lang="en", target_lang="ko")
    tmx = tmp_path / "out.tmx"
    code, _, err = run_main(["memory", "export", "--memory", memory, "--out", tmx], capsys)
    assert code == 0 and "not_xml_safe" in err
    units = assert_valid_tmx(tmx)
    texts = [[tuv[0].text for tuv in tu.findall("tuv")] for tu in units]
    assert texts == [["line one\r\nline two", "첫 줄\r\n둘째 줄"], ["code `x<y` here", "코드 `x<y` 여기"]]

"""cli_glossary.py: `python -m translate glossary list|add|remove|lint|sync-deepl|coverage`."""

from __future__ import annotations

import json
import shutil

import pytest

from glossary_support import DEFECTS, SHIPPED, conv, make_defective, make_glossary, run_main, write_records
from translate.glossary import Glossary


@pytest.fixture
def gdir(tmp_path):
    folder = tmp_path / "ko"
    shutil.copytree(SHIPPED, folder)
    return folder


def test_lint_shipped_is_clean(capsys):
    code, out, err = run_main(["glossary", "lint", "--glossary", SHIPPED], capsys)
    assert code == 0, err
    assert "0 error(s), 0 warning(s)" in out


def test_lint_reports_every_defect_and_fails(tmp_path, capsys):
    folder = make_defective(tmp_path / "ko")
    code, out, _ = run_main(["glossary", "lint", "--glossary", folder], capsys)
    assert code == 1
    for (file, line), kind in DEFECTS.items():
        assert f"{file}:{line}: " in out and f": {kind}: " in out
    errors = sum(1 for c in DEFECTS.values() if c != "no-reading")
    assert f"{errors} error(s), 1 warning(s)" in out


def test_lint_strict_fails_on_warnings(tmp_path, capsys):
    folder = make_glossary(tmp_path / "ko", terms=["wifi router\t와이파이 router\tno"])
    assert run_main(["glossary", "lint", "--glossary", folder], capsys)[0] == 0
    assert run_main(["glossary", "lint", "--glossary", folder, "--strict"], capsys)[0] == 1


def test_list_json(capsys):
    code, out, _ = run_main(["glossary", "list", "--glossary", SHIPPED, "--json", "--kind", "dnt"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert {"kind": "dnt", "text": "LLaVA", "reading": "라바", "note": "model name"}.items() <= rows[4].items()
    assert len(rows) == len(Glossary.load(SHIPPED).dnt)


def test_list_table(capsys):
    code, out, _ = run_main(["glossary", "list", "--glossary", SHIPPED, "--kind", "templates"], capsys)
    assert code == 0 and "What is in the photo?" in out and "사진에 무엇이 있나요?" in out


def test_add_appends_one_line_and_remove_takes_it_out(gdir, capsys):
    before = (gdir / "terms.tsv").read_text(encoding="utf-8")
    code, out, err = run_main(["glossary", "add", "giraffe", "기린", "--glossary", gdir, "--note", "COCO"], capsys)
    assert code == 0, err
    after = (gdir / "terms.tsv").read_text(encoding="utf-8")
    assert after == before + "giraffe\t기린\tno\t\tCOCO\n"
    assert "added term 'giraffe'" in out
    # Already there: refused without --replace; replaced in place with it.
    code, _, err = run_main(["glossary", "add", "giraffe", "목긴동물", "--glossary", gdir], capsys)
    assert code == 2 and "already in" in err and "--replace" in err
    code, _, err = run_main(["glossary", "add", "giraffe", "기린", "--glossary", gdir, "--replace", "--case-sensitive"],
                            capsys)
    assert code == 0, err
    assert (gdir / "terms.tsv").read_text(encoding="utf-8") == before + "giraffe\t기린\tyes\n"
    code, out, err = run_main(["glossary", "remove", "giraffe", "--glossary", gdir], capsys)
    assert code == 0, err
    assert (gdir / "terms.tsv").read_text(encoding="utf-8") == before


def test_add_refuses_what_lint_would_flag(gdir, capsys):
    before = {p.name: p.read_bytes() for p in gdir.iterdir()}
    cases = [
        (["glossary", "add", "laptop", "notebook"], "script"),
        (["glossary", "add", "FIRE HYDRANT", "소화기"], "conflict|case"),
        (["glossary", "add", "LLaVA", "라바"], "shadowed"),
        (["glossary", "add", "robot", "로봇", "--reading", "robot"], "reading"),
        (["glossary", "add", "Describe it.", "Describe it.", "--kind", "template"], "script"),
        (["glossary", "add", "CLIP", "--kind", "dnt"], "already in"),
        (["glossary", "add", "tab\there", "탭"], "tab"),
        (["glossary", "add", "x", "엑스", "--kind", "dnt"], "no translation"),
        (["glossary", "add", "x", "--kind", "terms"], "needs a translation"),
        (["glossary", "add", "x", "엑스", "--kind", "colours"], "--kind"),
    ]
    for args, expected in cases:
        code, _, err = run_main([*args, "--glossary", gdir], capsys)
        assert code == 2, (args, err)
        assert any(e in err for e in expected.split("|")), (args, err)
    assert {p.name: p.read_bytes() for p in gdir.iterdir()} == before


def test_add_dnt_and_template_and_create_a_new_glossary(tmp_path, capsys):
    folder = tmp_path / "new" / "ko"
    assert run_main(["glossary", "add", "Qwen", "--kind", "dnt", "--reading", "큐웬", "--glossary", folder],
                    capsys)[0] == 0
    assert run_main(["glossary", "add", "What is this?", "이것은 무엇인가요?", "--kind", "template", "--set", "blip",
                     "--glossary", folder], capsys)[0] == 0
    g = Glossary.load(folder)
    assert [(d.text, d.reading) for d in g.dnt] == [("Qwen", "큐웬")]
    assert [(t.source, t.target, t.set) for t in g.templates] == [("What is this?", "이것은 무엇인가요?", "blip")]
    assert (folder / "dnt.tsv").read_text(encoding="utf-8").splitlines()[0] == "text\treading\tnote"


def test_remove_unknown_suggests_the_case_variant(gdir, capsys):
    code, _, err = run_main(["glossary", "remove", "Fire Hydrant", "--glossary", gdir], capsys)
    assert code == 2 and "did you mean 'fire hydrant'" in err


def test_missing_glossary_is_a_clear_error(tmp_path, capsys):
    code, _, err = run_main(["glossary", "lint", "--glossary", tmp_path / "nope"], capsys)
    assert code == 2 and "no glossary folder" in err


def test_coverage_after_a_pseudo_run(tmp_path, capsys):
    folder = make_glossary(tmp_path / "ko", terms=["fire hydrant\t소화전\tno", "kite\t연\tno"])
    src = write_records(tmp_path / "src.jsonl", [
        conv("a", "<image>\nWhat is this?", "a fire hydrant"),
        conv("b", "<image>\nWhat is this?", "a kite and a fire hydrant"),
        conv("c", "<image>\nWhat is this?", "a dog"),
    ])
    code, _, err = run_main(["run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "out",
                             "--glossary", folder, "-q"], capsys)
    assert code == 0, err
    code, out, err = run_main(["glossary", "coverage", src, tmp_path / "out", "--glossary", folder], capsys)
    assert code == 0, err
    assert "records: 3 in the source, 3 in the output" in out
    assert "segments: 6; holding a term: 2; every term covered: 2" in out
    assert "term occurrences (segment, term): 3; target in the output: 3 (100.0%); missing: 0" in out
    assert "fire hydrant → 소화전: 2/2" in out and "kite → 연: 1/1" in out
    # The same source against a run without the glossary: nothing covered, and --min-rate fails.
    assert run_main(["run", "--src", src, "--backend", "pseudo", "--out", tmp_path / "bare", "--glossary", "none",
                     "-q"], capsys)[0] == 0
    code, out, _ = run_main(["glossary", "coverage", src, tmp_path / "bare" / "ko_src.jsonl", "--glossary", folder,
                             "--json", "--min-rate", "0.9"], capsys)
    assert code == 1
    report = json.loads(out)
    assert (report["term_pairs"], report["term_pairs_covered"], report["rate"]) == (3, 0, 0.0)
    assert len(report["misses"]) == 3


def test_sync_deepl_against_the_local_server(gdir, monkeypatch, capsys):
    from fakes import FakeDeepL

    key = "sync-test-key:fx"
    monkeypatch.setenv("DEEPL_AUTH_KEY", key)
    with FakeDeepL(auth_keys={key}) as fake:
        args = ["glossary", "sync-deepl", "--glossary", gdir, "--deepl-server-url", fake.url]
        code, out, err = run_main(args, capsys)
        assert code == 0, err
        (stored,) = fake.glossaries.values()
        terms = Glossary.load(gdir).term_dict()
        assert stored["entries"] == terms and stored["name"] == "llava-translate en-ko"
        assert stored["glossary_id"] in out and f"{len(terms)} entries" in out
        # Unchanged terms: the same glossary is kept.
        assert run_main(args, capsys)[0] == 0 and list(fake.glossaries) == [stored["glossary_id"]]
        # Changed terms: replaced, and the old one deleted.
        assert run_main(["glossary", "add", "giraffe", "기린", "--glossary", gdir], capsys)[0] == 0
        assert run_main(args, capsys)[0] == 0
        (replaced,) = fake.glossaries.values()
        assert replaced["glossary_id"] != stored["glossary_id"] and replaced["entries"]["giraffe"] == "기린"
        assert key not in capsys.readouterr().out
    # A broken terms file is not sent.
    (gdir / "terms.tsv").write_text("source\ttarget\nkite\tkite\n", encoding="utf-8")
    code, _, err = run_main(["glossary", "sync-deepl", "--glossary", gdir, "--deepl-server-url", "http://127.0.0.1:9"],
                            capsys)
    assert code == 2 and "lint error" in err

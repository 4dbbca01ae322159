"""translate.languages: --target/--source-lang checked against the languages the backends know, engine codes mapped to
ISO, and a code that would leave --out or reject every record refused before anything is opened."""

from __future__ import annotations

import json

import pytest

from conftest import run_main
from translate.errors import ConfigError
from translate.languages import LANGUAGES, describe, from_nllb, language_code
from translate.nllb_models import ISO_TO_NLLB


@pytest.mark.parametrize("given, expected", [
    ("ko", "ko"), ("KO", "ko"), (" ja ", "ja"),          # ISO, DeepL's upper case, stray blanks
    ("kor_Hang", "ko"), ("jpn_Jpan", "ja"), ("zho_Hant", "zh-Hant"), ("zho_Hans", "zh"),  # NLLB
    ("EN-US", "en-US"), ("PT-BR", "pt-BR"), ("ZH-HANS", "zh-Hans"), ("pt_br", "pt-BR"),  # DeepL, underscores
    ("tgl_Latn", "tl"), ("nob_Latn", "nb"),
])
def test_engine_codes_map_to_one_iso_spelling(given, expected):
    assert language_code(given) == expected


def test_every_nllb_code_in_the_table_maps_back_to_an_iso_code_that_maps_to_it():
    for iso, flores in ISO_TO_NLLB.items():
        back = from_nllb(flores)
        assert back is not None, flores
        assert ISO_TO_NLLB.get(back.lower(), ISO_TO_NLLB.get(back.split("-")[0])) == flores, (flores, back)


@pytest.mark.parametrize("given, suggested", [
    ("kor", "ko (Korean)"),            # the ISO 639-2 code: NLLB's stem
    ("jp", "ja (Japanese)"),           # a country code for a language code
    ("korean", "ko (Korean)"),         # the name
    ("Japanese", "ja (Japanese)"),
])
def test_unknown_codes_are_refused_with_close_matches(given, suggested):
    with pytest.raises(ConfigError) as err:
        language_code(given, "--target")
    message = str(err.value)
    assert message.startswith(f"--target {given!r} is not a language the backends know")
    assert f"Close matches: {suggested}" in message


@pytest.mark.parametrize("given", ["xx", "../../escape", "ko/../../x", "", "k o", "ace_Arab"])
def test_codes_no_backend_knows_are_refused(given):
    with pytest.raises(ConfigError, match="is not a language the backends know"):
        language_code(given, "--target")


def test_a_flores_code_outside_the_table_passes_through_for_nllb_only():
    assert language_code("ace_Arab", backend="nllb") == "ace_Arab"
    with pytest.raises(ConfigError):
        language_code("ace_Arab", backend="deepl")


def test_the_table_has_names_and_no_code_with_a_path_character():
    assert describe("ko") == "Korean" and describe("zh-Hant") == "Chinese (Hant)"
    assert all(code.isalpha() and code.islower() for code in LANGUAGES)


@pytest.mark.parametrize("target", ["../../escape", "xx", "kor"])
def test_run_refuses_a_bad_target_before_writing_anything(tmp_path, capsys, blip_excerpt, target):
    out = tmp_path / "out"
    code, _, err = run_main(["run", "--src", blip_excerpt, "--backend", "pseudo", "--out", out, "--target", target,
                             "-q"], capsys)
    assert code == 2, err
    assert f"--target {target!r} is not a language the backends know" in " ".join(err.split())
    assert not out.exists()  # not even the memory
    assert not list(tmp_path.parent.glob("*escape*")) and not list(tmp_path.glob("**/*escape*"))


def test_source_lang_is_checked_too_and_engine_codes_become_the_output_prefix(tmp_path, capsys, blip_excerpt):
    code, _, err = run_main(["run", "--src", blip_excerpt, "--backend", "pseudo", "--out", tmp_path,
                             "--source-lang", "english", "-q"], capsys)
    assert code == 2 and "--source-lang 'english'" in err and "en (English)" in err
    code, _, err = run_main(["run", "--src", blip_excerpt, "--backend", "pseudo", "--out", tmp_path,
                             "--target", "jpn_Jpan", "-q"], capsys)
    assert code == 0, err
    manifest = json.loads((tmp_path / f"ja_{blip_excerpt.stem}.manifest.json").read_text())
    assert manifest["languages"] == {"source": "en", "target": "ja"}


def test_the_same_language_on_both_sides_is_refused(tmp_path, capsys, blip_excerpt):
    code, _, err = run_main(["run", "--src", blip_excerpt, "--backend", "pseudo", "--out", tmp_path,
                             "--target", "EN"], capsys)
    assert code == 2 and "both 'en'" in err

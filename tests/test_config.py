"""translate.config: every option type-checked (config file and flags), one-line errors naming the key, and a missing
optional package reported with the pip command that installs it."""

from __future__ import annotations

import sys

import pytest

from conftest import run_cli, run_main
from translate.config import RunConfig, check_type, load_config
from translate.errors import ConfigError


def _toml(tmp_path, text: str):
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("line, named", [
    ('window = "abc"', "window must be a whole number of at least 1, not the string 'abc'"),
    ("window = 0", "window must be a whole number of at least 1, not the number 0"),
    ("window = 2.5", "window must be a whole number of at least 1, not the number 2.5"),
    ("window = true", "window must be a whole number of at least 1, not the boolean True"),
    ("target = 7", "target must be a language code (string), not the number 7"),
    ("src = 5", "src must be a list of file names or globs (or one string), not the number 5"),
    ("src = [1, 2]", "src must be a list of file names or globs (or one string), not the list [1, 2]"),
    ('qc_log = "no"', "qc_log must be true or false, not the string 'no'"),
    ("overwrite = 1", "overwrite must be true or false, not the number 1"),
    ('backend_options = "beam_size=2"', "backend_options must be a table of backend options"),
    ("qc = false", "qc must be a table of QC settings, not the boolean False"),
    ("limit = -3", "limit must be a whole number of at least 1, not the number -3"),
    ("records-key = []", "records_key must be a key name (string), not the list []"),
])
def test_config_file_values_are_type_checked(tmp_path, line, named):
    path = _toml(tmp_path, line + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(path), {})
    assert str(err.value) == f"config file {path}: {named}" or str(err.value).startswith(f"config file {path}: {named}")


def test_good_values_load_and_flags_win(tmp_path):
    path = _toml(tmp_path, 'src = "a.json"\nwindow = 8\nqc_log = false\nlimit = 5\ntarget = "KO"\n'
                           "[backend_options]\nbatch_size = 3\n")
    cfg = load_config(str(path), {"window": 16, "backend_options": {"delay": "0"}})
    assert cfg == RunConfig(src=["a.json"], window=16, qc_log=False, limit=5, target="ko",
                            backend_options={"batch_size": 3, "delay": "0"})


def test_whole_numbers_given_as_text_are_converted_and_others_refused():
    assert check_type("window", "64", "--window") == 64
    with pytest.raises(ConfigError, match="^--window: window must be a whole number"):
        check_type("window", "6x", "--window")


def test_the_command_line_reports_a_bad_config_value_in_one_line_without_a_traceback(tmp_path, blip_excerpt):
    path = _toml(tmp_path, f'src = ["{blip_excerpt}"]\nbackend = "pseudo"\nwindow = "abc"\n')
    res = run_cli("run", "--config", path, "--out", tmp_path / "o")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "window must be a whole number of at least 1, not the string 'abc'" in res.stderr
    assert not (tmp_path / "o").exists()


def test_flags_parsed_from_strings_are_checked_too(tmp_path, capsys, blip_excerpt):
    base = ["run", "--src", blip_excerpt, "--backend", "pseudo", "--out", tmp_path / "o", "-q"]
    code, _, err = run_main(base + ["--window", "abc"], capsys)
    assert code == 2 and "Invalid value for '--window'" in err and "valid integer" in err
    code, _, err = run_main(base + ["--opt", "batch_size=abc"], capsys)
    assert code == 2 and "batch_size='abc' is not a valid int" in err
    code, _, err = run_main(base + ["--limit", "0"], capsys)
    assert code == 2 and "--limit: limit must be a whole number of at least 1, not the number 0" in err
    code, _, err = run_main(base + ["--log-level", "LOUD"], capsys)
    assert code == 2 and "--log-level 'LOUD': expected one of DEBUG, INFO, WARNING, ERROR" in err
    code, _, err = run_main(base + ["--progress-every", "0"], capsys)
    assert code == 2 and "--progress-every must be a number of seconds above 0" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("backend, module", [("deepl", "deepl"), ("google", "googletrans"), ("openai", "openai")])
def test_a_missing_extra_is_exit_2_with_the_pip_command(tmp_path, capsys, monkeypatch, blip_excerpt, backend, module):
    # None in sys.modules makes `import module` raise ImportError, exactly as when the package is not installed.
    monkeypatch.setitem(sys.modules, module, None)
    monkeypatch.setenv("DEEPL_AUTH_KEY", "not-a-real-key:fx")
    code, _, err = run_main(["run", "--src", blip_excerpt, "--backend", backend, "--out", tmp_path / "o", "-q"],
                            capsys)
    assert code == 2, err
    assert f"pip install 'llava-translate[{backend}]'" in err
    assert "rerun" not in err and "Traceback" not in err
    assert not (tmp_path / "o" / "translation_memory.sqlite").exists()

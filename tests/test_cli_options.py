"""The shared job options are declared once (translate/cli/options.py) and every job command takes them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from translate.cli import app
from translate.cli.app import register_commands
from translate.cli.options import OUTPUT_OPTIONS, SHARED, JobFlags

register_commands()

# Commands and the shared options they leave out; only `run` writes a run's files, so only it takes OUTPUT_OPTIONS.
JOB_COMMANDS = {"run": (), "plan": OUTPUT_OPTIONS, "estimate": ("on_reject", *OUTPUT_OPTIONS),
                "prompts": ("window", "on_reject", *OUTPUT_OPTIONS)}


@pytest.mark.parametrize("command, excluded", JOB_COMMANDS.items())
def test_every_job_command_offers_the_shared_options(command, excluded):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    for name in SHARED:
        flag = "--" + name.replace("_", "-")
        assert (flag in result.output) == (name not in excluded), (command, flag)


def test_flags_become_backend_options_under_their_backend_names():
    flags = JobFlags(opt=["beam_size=4", "temperature=0.2"], model="m", device="cpu", beam_size=3,
                     deepl_server_url="http://127.0.0.1:1")
    assert flags.backend_options() == {"beam_size": 3, "temperature": "0.2", "model": "m", "device": "cpu",
                                       "server_url": "http://127.0.0.1:1"}


def test_flags_win_over_the_config_file_and_unset_flags_do_not(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('src = ["a.json"]\nbackend = "pseudo"\nwindow = 64\n[backend_options]\nbeam_size = 2\n')
    cfg = JobFlags(config=str(toml), window=8, opt=["delay=0"]).load()
    assert cfg.src == ["a.json"] and cfg.backend == "pseudo" and cfg.window == 8
    assert cfg.backend_options == {"beam_size": 2, "delay": "0"}

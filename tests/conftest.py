"""Shared fixtures: paths to committed fixtures, a synthetic file maker, and an in-process CLI runner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
sys.path.insert(0, str(ROOT / "bench"))
# Test helpers (fakes of remote services, fixture builders) live in tests/support/ and are imported by name.
sys.path.insert(0, str(ROOT / "tests" / "support"))

import synthetic  # noqa: E402  (bench/synthetic.py: deterministic instruct-like records)


@pytest.fixture
def blip_excerpt() -> Path:
    return FIXTURES / "blip_excerpt.json"


@pytest.fixture
def make_instruct(tmp_path):
    """make_instruct(n, name=..., seed=...) -> path of a synthetic instruct-like JSON array."""

    def make(n: int, name: str = "instruct.json", seed: int = 0) -> Path:
        return synthetic.write(tmp_path / name, n, seed)

    return make


def cache_dir(request, name: str) -> Path:
    """A folder that survives between sessions (pytest's cache) for expensive fixtures such as the tiny NLLB model;
    with `-p no:cacheprovider` a fresh temporary folder of this session instead."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir(name))
    return request.getfixturevalue("tmp_path_factory").mktemp(name)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command line in a subprocess, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "translate", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def cli():
    return run_cli


def run_main(args: list, capsys) -> tuple[int, str, str]:
    """The command line in this process (so fixtures' patches apply). Returns (exit code, stdout, stderr)."""
    from translate.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def load_json(path: Path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def read_jsonl(path: Path) -> list:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]

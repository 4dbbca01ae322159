"""Helpers shared by the robustness tests: the command line as a subprocess, and checks every run must pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "robustness"


def translate_cmd(*args: object) -> list[str]:
    return [sys.executable, "-m", "translate", *map(str, args)]


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child run: the package importable, no colour codes, nothing from the host's keys."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEEPL_AUTH_KEY", "GOOGLE_API_KEY")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def run_translate(*args: object, env: dict[str, str] | None = None, timeout: float = 120,
                  cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m translate ARGS` as a user runs it; asserts that no traceback reached the terminal."""
    proc = subprocess.run(translate_cmd(*args), capture_output=True, text=True, env=env or child_env(),
                          timeout=timeout, cwd=cwd or ROOT)
    assert_no_traceback(proc)
    return proc


def assert_no_traceback(proc: subprocess.CompletedProcess) -> None:
    both = (proc.stdout or "") + (proc.stderr or "")
    assert "Traceback" not in both, f"a traceback reached the user:\n{both[-3000:]}"


def ko_files(folder: Path, prefix: str = "ko_") -> list[str]:
    """Every file whose name starts with the target prefix: outputs, rejected files and manifests alike."""
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix))


def temporaries(folder: Path) -> list[str]:
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def read_jsonl(path: Path) -> list:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_cases() -> list[dict]:
    with open(CORPUS / "cases.toml", "rb") as fh:
        return tomllib.load(fh)["case"]


def llava_records(n: int, seed: int = 0, prefix: str = "r") -> list[dict]:
    """`n` small LLaVA-shaped records whose answers are all different (so each one is a segment to send)."""
    import random

    rng = random.Random(seed)
    words = ("cat dog red blue sofa table beach car tree window street park bird boat kite lamp chair clock "
             "green small large wooden old new two three people child woman man sky cloud river").split()
    prompts = ("Describe the image briefly.", "What is in the picture?", "What do you see here?",
               "Give a short caption for the photo.")
    out = []
    for i in range(n):
        answer = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12))).capitalize() + f" (#{seed}.{i})."
        out.append({"id": f"{prefix}{i:05d}", "image": f"{prefix}{i:05d}.jpg", "conversations": [
            {"from": "human", "value": "<image>\n" + prompts[i % len(prompts)]},
            {"from": "gpt", "value": answer}]})
    return out


def write_array(path: Path, records: list) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path

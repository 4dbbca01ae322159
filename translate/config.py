"""Run options from three places, later ones winning: built-in defaults, a TOML file (`--config`), command-line flags.

The TOML file uses the flag names with dashes or underscores, plus tables for backend options and QC settings::

    src = ["data/samples/*.json"]
    backend = "nllb"
    target = "ko"

    [backend_options]        # any backend's constructor options, also given as --opt key=value
    beam_size = 2

    [qc]
    length_ratio = false
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from translate.errors import ConfigError

# Option names whose values must never be printed or written (manifests, logs, reports).
SECRET_WORDS = ("key", "token", "secret", "password", "auth")


@dataclass
class RunConfig:
    src: list[str] = field(default_factory=list)
    out: str | None = None
    target: str = "ko"
    source: str = "en"
    backend: str = "nllb"
    memory: str | None = None
    window: int = 1024
    on_reject: str = "drop"
    glossary: str | None = None  # a glossary folder; default: glossaries/<target> when it exists
    backend_options: dict[str, Any] = field(default_factory=dict)
    qc: dict[str, Any] = field(default_factory=dict)

    def sources(self) -> list[Path]:
        """`src` with globs expanded, in the order given; a pattern that matches nothing is an error."""
        if not self.src:
            raise ConfigError("no source given: pass --src FILE (or set src in the --config file)")
        found: list[Path] = []
        for pattern in self.src:
            if glob.has_magic(pattern):
                matches = sorted(glob.glob(os.path.expanduser(pattern)))
                # A glob over a folder that also holds earlier outputs must not translate them again.
                matches = [m for m in matches if not self.is_own_output(Path(m))]
                if not matches:
                    raise ConfigError(f"--src {pattern!r} matches no source file")
                found.extend(Path(m) for m in matches)
            else:
                path = Path(os.path.expanduser(pattern))
                if not path.exists():
                    raise ConfigError(f"--src {pattern}: no such file")
                found.append(path)
        return list(dict.fromkeys(found))

    def is_own_output(self, path: Path) -> bool:
        """Files this tool writes: `<target>_*.json[l]` beside its manifest, and the side files of any run."""
        name = path.name
        if name.endswith((".manifest.json", ".rejected.jsonl", ".qc.jsonl")) or name.endswith(".sqlite"):
            return True
        if name.startswith(f"{self.target}_") and path.suffix in (".json", ".jsonl"):
            return (path.parent / f"{path.stem}.manifest.json").exists()
        return False

    def out_dir(self, src: Path) -> Path:
        return Path(self.out) if self.out else src.parent

    def memory_path(self) -> Path:
        """Default: beside the outputs, so every run writing to one folder shares one memory."""
        if self.memory:
            return Path(self.memory)
        base = Path(self.out) if self.out else self.sources()[0].parent
        return base / "translation_memory.sqlite"


def load_config(path: str | None, flags: dict[str, Any]) -> RunConfig:
    """Defaults, then the TOML file, then the flags that were actually given (None means not given)."""
    values: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {path} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        known = {f for f in RunConfig.__dataclass_fields__}
        for key, value in raw.items():
            name = key.replace("-", "_")
            if name not in known:
                raise ConfigError(f"config file {path}: unknown option {key!r}; known: {', '.join(sorted(known))}")
            values[name] = value
        if isinstance(values.get("src"), str):
            values["src"] = [values["src"]]
    for key, value in flags.items():
        if value is None or value == [] or value == {}:
            continue
        if key in ("backend_options", "qc"):
            values[key] = {**values.get(key, {}), **value}
        else:
            values[key] = value
    return RunConfig(**values)


def parse_pairs(pairs: list[str] | None, what: str = "--opt") -> dict[str, Any]:
    """`["beam_size=4", "device=cuda"]` → {"beam_size": "4", "device": "cuda"}."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {pair!r}: expected KEY=VALUE")
        out[key.strip().replace("-", "_")] = value
    return out


def redact(options: dict[str, Any]) -> dict[str, Any]:
    """Options safe to write: any value whose name looks like a secret is dropped, not masked."""
    return {k: v for k, v in options.items() if not any(word in k.lower() for word in SECRET_WORDS)}

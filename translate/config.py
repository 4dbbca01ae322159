"""Run options from three places, later ones winning: built-in defaults, a TOML file (`--config`), command-line flags.

The TOML file uses the flag names with dashes or underscores, plus tables for backend options and QC settings::

    src = ["data/samples/*.json"]
    backend = "nllb"
    target = "ko"

    [backend_options]        # any backend's constructor options, also given as --opt key=value
    beam_size = 2

    [qc]
    length_ratio = false

Every key is type-checked when the config is loaded (a string where a number belongs is exit 2 naming the key and
the type it wants), and `target`/`source` are turned into the canonical language code (`translate.languages`), so a
code that would leave the output folder or reject every record stops the run before anything is opened.
"""

from __future__ import annotations

import glob
import json
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
from translate.formats.sources import Source, is_url, open_source
from translate.languages import language_code

# Option names whose values must never be printed or written (manifests, logs, reports).
SECRET_WORDS = ("key", "token", "secret", "password", "auth")
# The side files every run writes beside its output (`translate.pipeline.output_paths`), and the memory.
SIDE_SUFFIXES = (".manifest.json", ".rejected.jsonl", ".qc.jsonl")
MEMORY_SUFFIXES = (".sqlite", ".sqlite-wal", ".sqlite-shm", ".sqlite.lock")
TOOL_NAME = "llava-translate"


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
    records_key: str | None = None  # the list to read in a file whose top level is an object
    qc_log: bool = True  # write <target>_<name>.qc.jsonl (one row per checked turn)
    overwrite: bool = False  # replace existing <target>_* files that no manifest of this tool lists
    limit: int | None = None  # only the first N records of each source (a preview; see docs/robustness.md)
    sample: int | None = None  # only N records of each source, a deterministic random subset chosen by `seed`
    seed: int = 0
    # Worker processes for prepare and assemble; None: one per core (at most 8), for files of 8 MiB or more. Never changes
    # the output, so no manifest or plan records it.
    workers: int | None = None

    @property
    def partial(self) -> bool:
        """Whether this run translates only part of each source (--limit / --sample)."""
        return self.limit is not None or self.sample is not None

    def sources(self) -> list[Path | Source]:
        """`src` with globs expanded, in the order given; a pattern that matches nothing is an error. A URL
        (``hf://``, ``https://``, other fsspec schemes) becomes a `Source`, checked to be reachable, streamed later."""
        if not self.src:
            raise ConfigError("no source given: pass --src FILE (or set src in the --config file)")
        found: list[Path | Source] = []
        for pattern in self.src:
            if is_url(pattern):
                found.append(open_source(pattern))
            elif glob.has_magic(pattern):
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
        unique: dict[str, Path | Source] = {}
        for source in found:
            unique.setdefault(source.location if isinstance(source, Source) else str(source), source)
        return list(unique.values())

    def is_own_output(self, path: Path | Source) -> bool:
        """Files this tool writes: the side files of any run, the memory, and a `*.json[l]` that a manifest of this
        tool beside it lists as its output (whatever the target: a `ja_` output is no source for a `ko` run)."""
        if isinstance(path, Source):
            return False  # a URL: this tool never writes one
        name = path.name
        if name.endswith(SIDE_SUFFIXES) or name.endswith(MEMORY_SUFFIXES):
            return True
        return path.suffix in (".json", ".jsonl") and written_by_tool(path)

    def out_dir(self, src: Path | Source) -> Path:
        if self.out:
            return Path(self.out)
        if isinstance(src, Source):
            raise ConfigError(f"--src {src.location}: a URL source needs --out DIR (there is no folder beside it to "
                              "write into)")
        return src.parent

    def memory_path(self) -> Path:
        """Default: beside the outputs, so every run writing to one folder shares one memory."""
        if self.memory:
            return Path(self.memory)
        base = Path(self.out) if self.out else self.out_dir(self.sources()[0])
        return base / "translation_memory.sqlite"


def written_by_tool(path: Path) -> bool:
    """Whether `path` is listed by a manifest of this tool in its folder (`<stem>.manifest.json`, where the stem is
    the output's, or the side file's without its suffix). A file that no manifest lists was not written by us, or
    not finished by us, and is never replaced without --overwrite."""
    name = path.name
    stem = path.stem
    for suffix in SIDE_SUFFIXES:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            break
    manifest = path.parent / f"{stem}.manifest.json"
    try:
        with open(manifest, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or not isinstance(data.get("tool"), dict) or data["tool"].get("name") != TOOL_NAME:
        return False
    outputs = data.get("outputs")
    if not isinstance(outputs, dict):
        return False
    return name == manifest.name or any(isinstance(p, str) and Path(p).name == name for p in outputs.values())


# Each option's type, for the config file and for values that reach `load_config` as text. (a type, the words for
# it in a message, the least value for numbers)
_TYPES: dict[str, tuple[Any, str, int | None]] = {
    "src": (list, "a list of file names or globs (or one string)", None),
    "out": (str, "a folder name (string)", None),
    "target": (str, "a language code (string)", None),
    "source": (str, "a language code (string)", None),
    "backend": (str, "a backend name (string)", None),
    "memory": (str, "a file name (string)", None),
    "window": (int, "a whole number of at least 1", 1),
    "on_reject": (str, "one of drop, keep-source, keep (string)", None),
    "glossary": (str, "a folder name or 'none' (string)", None),
    "backend_options": (dict, "a table of backend options", None),
    "qc": (dict, "a table of QC settings", None),
    "records_key": (str, "a key name (string)", None),
    "qc_log": (bool, "true or false", None),
    "overwrite": (bool, "true or false", None),
    "limit": (int, "a whole number of at least 1", 1),
    "sample": (int, "a whole number of at least 1", 1),
    "seed": (int, "a whole number", None),
    "workers": (int, "a whole number of at least 0", 0),
}
assert set(_TYPES) == set(RunConfig.__dataclass_fields__)
_FLAG_NAMES = {"source": "--source-lang", "backend_options": "--opt"}


def check_type(name: str, value: Any, where: str) -> Any:
    """`value` if it has `name`'s type (a whole number given as text, e.g. from an environment, is converted),
    else a ConfigError: "<where>: window must be a whole number of at least 1, not the string 'abc'"."""
    kind, words, least = _TYPES[name]
    if kind is list:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    elif kind is int:
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and (least is None or value >= least):
            return value
    elif kind is bool:
        if isinstance(value, bool):
            return value
    elif isinstance(value, kind):
        return value
    raise ConfigError(f"{where}: {name} must be {words}, not {_describe(value)}")


def _describe(value: Any) -> str:
    kind = {str: "the string", bool: "the boolean", int: "the number", float: "the number", list: "the list",
            dict: "the table"}.get(type(value), f"a {type(value).__name__}")
    shown = repr(value) if not isinstance(value, (list, dict)) else json.dumps(value, default=str)[:60]
    return f"{kind} {shown}"


def load_config(path: str | None, flags: dict[str, Any]) -> RunConfig:
    """Defaults, then the TOML file, then the flags that were actually given (None means not given). Every value is
    type-checked and the languages are made canonical; a problem is a ConfigError (exit 2) naming the option."""
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
            values[name] = check_type(name, value, f"config file {path}")
    for key, value in flags.items():
        if value is None or value == [] or value == {}:
            continue
        value = check_type(key, value, _FLAG_NAMES.get(key, "--" + key.replace("_", "-")))
        if key in ("backend_options", "qc"):
            values[key] = {**values.get(key, {}), **value}
        else:
            values[key] = value
    cfg = RunConfig(**values)
    cfg.target = language_code(cfg.target, "--target", cfg.backend)
    cfg.source = language_code(cfg.source, "--source-lang", cfg.backend)
    if cfg.source == cfg.target:
        raise ConfigError(f"--source-lang and --target are both {cfg.target!r}: nothing to translate")
    return cfg


def parse_pairs(pairs: list[str] | None, what: str = "--opt") -> dict[str, Any]:
    """`["beam_size=4", "device=cuda"]` → {"beam_size": "4", "device": "cuda"}."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} {pair!r}: expected KEY=VALUE")
        out[key.strip().replace("-", "_")] = value
    return out


def redacted_command(argv: list[str]) -> list[str]:
    """The command line as a manifest records it: `--opt KEY=VALUE` pairs whose key looks like a secret lose their
    value (keys come from the environment, but a user may still pass one on the command line)."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        key, sep, _ = arg.partition("=")
        previous = argv[i - 1] if i else ""
        if sep and (previous == "--opt" or arg.startswith("--opt=")) and any(
                word in key.lower() for word in SECRET_WORDS):
            arg = f"{key}=<redacted>"
        out.append(arg)
    return out


def redact(options: dict[str, Any]) -> dict[str, Any]:
    """Options safe to write: any value whose name looks like a secret is dropped, not masked."""
    return {k: v for k, v in options.items() if not any(word in k.lower() for word in SECRET_WORDS)}

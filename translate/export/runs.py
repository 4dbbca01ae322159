"""The files of a finished run, found through their manifests.

A run folder holds, per source file, ``<target>_<name>.json(l)`` beside its ``.rejected.jsonl``, ``.qc.jsonl`` and
``.manifest.json``. Only outputs named by a manifest this tool wrote are exported, so a stray ``ko_notes.json`` in
the folder is never published by accident. Paths in a manifest are those of the run's machine; the files are looked
up by name beside the manifest, so a run folder can be moved or copied before it is exported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from translate.errors import ConfigError, InputFileError

MANIFEST_SUFFIX = ".manifest.json"
TOOL_NAME = "llava-translate"


@dataclass
class RunFile:
    """One translated file of a run and what its manifest says about it."""

    manifest_path: Path
    manifest: dict[str, Any]
    output: Path
    rejected: Path | None
    qc_log: Path | None

    @property
    def target(self) -> str:
        return str(self.manifest.get("languages", {}).get("target", ""))

    @property
    def source_lang(self) -> str:
        return str(self.manifest.get("languages", {}).get("source", "en"))

    @property
    def source_path(self) -> str:
        return str(self.manifest.get("source", {}).get("path", ""))

    @property
    def source_name(self) -> str:
        """The source file's name (the last part of a path or URL): what the licence table is keyed by."""
        return self.source_path.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1]

    @property
    def counts(self) -> dict[str, Any]:
        return self.manifest.get("counts", {})

    @property
    def config_name(self) -> str:
        """The output's stem without the target prefix: ``ko_detail_23k.json`` → ``detail_23k``."""
        stem = self.output.name.rsplit(".", 1)[0]
        prefix = f"{self.target}_"
        return stem[len(prefix):] if self.target and stem.startswith(prefix) else stem


def find_run_files(run_dir: str | Path, target: str | None = None) -> list[RunFile]:
    """Every output of the run in `run_dir` (sorted by name), optionally only those into `target`. A folder without
    manifests, a manifest of another tool, or a manifest whose output is missing is an error naming the file."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such run folder (give the --out folder of `translate run`)")
    found = [read_run_file(path) for path in sorted(folder.glob(f"*{MANIFEST_SUFFIX}"))]
    if not found:
        raise ConfigError(f"{folder}: no *{MANIFEST_SUFFIX} found; `translate run` writes one beside each output")
    if target:
        found = [f for f in found if f.target == target]
        if not found:
            raise ConfigError(f"{folder}: no output into {target!r} (the manifests name other target languages)")
    targets = sorted({f.target for f in found})
    if len(targets) > 1:
        raise ConfigError(f"{folder}: outputs into several languages ({', '.join(targets)}); a dataset card describes "
                          f"one: pass --target {targets[0]}")
    return found


def read_run_file(manifest_path: Path) -> RunFile:
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(str(manifest_path), f"not a readable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("tool", {}).get("name") != TOOL_NAME:
        raise InputFileError(str(manifest_path), f"not a manifest written by {TOOL_NAME} (no tool.name)")
    outputs = manifest.get("outputs", {})
    if not isinstance(outputs, dict) or not outputs.get("output"):
        raise InputFileError(str(manifest_path), "the manifest names no output file (outputs.output)")
    folder = manifest_path.parent
    output = folder / _name(outputs["output"])
    if not output.is_file():
        raise InputFileError(str(manifest_path), f"its output {output.name} is not beside it in {folder}")

    def beside(key: str) -> Path | None:
        path = folder / _name(outputs[key]) if outputs.get(key) else None
        return path if path is not None and path.is_file() else None

    return RunFile(manifest_path, manifest, output, beside("rejected"), beside("qc_log"))


def dropped_indices(rejected: Path | None) -> Iterator[int]:
    """Source positions of the records that are not in the output, in order: rejected-file entries without a
    `policy` (entries with one were kept anyway, flagged or as their source)."""
    if rejected is None:
        return
    last = -1
    with open(rejected, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                index = entry["index"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputFileError(str(rejected), f"line {n}: not a rejected-record entry with an 'index'") from None
            if entry.get("policy"):
                continue
            if not isinstance(index, int) or index <= last:
                raise InputFileError(str(rejected), f"line {n}: index {index!r} is not after {last} (entries must "
                                                    "be in source order)")
            last = index
            yield index


def kept_with_policy(rejected: Path | None) -> dict[str, int]:
    """How many records were kept despite reasons, per `--on-reject` policy (keep, keep-source)."""
    counts: dict[str, int] = {}
    if rejected is None:
        return counts
    with open(rejected, encoding="utf-8") as fh:
        for line in fh:
            if '"policy"' not in line:
                continue
            policy = json.loads(line).get("policy")
            if policy:
                counts[policy] = counts.get(policy, 0) + 1
    return counts


def _name(path: str) -> str:
    return str(path).replace("\\", "/").rsplit("/", 1)[-1]

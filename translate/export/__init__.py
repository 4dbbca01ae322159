"""`translate export`: a finished run folder → Parquet files and a dataset card, ready for `hf upload`.

    result = export_run("out/", "hub/", parallel=True)

Writes, into the export folder, one ``<target>_<name>.parquet`` per output of the run (`translate.export.parquet`),
``README.md`` (the card, `translate.export.card`) and ``llava_translate_export.json`` (what was exported, with
sizes and SHA-256 of each file). They appear together or not at all, and nothing this tool did not write is ever
replaced: a folder holding other files of the same names is refused before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from translate import __version__
from translate.errors import ConfigError, OutputError
from translate.export.card import CardFile, language_name, qc_summary, render
from translate.export.parquet import ROW_GROUP_SIZE, locate_source, write_parquet
from translate.export.runs import RunFile, find_run_files
from translate.export.sources import combined_license, source_info
from translate.formats.writers import AtomicFile, OutputSet, write_json

EXPORT_MANIFEST = "llava_translate_export.json"
CARD = "README.md"

__all__ = ["EXPORT_MANIFEST", "CARD", "ExportResult", "export_run"]


@dataclass
class ExportResult:
    out_dir: Path
    files: list[CardFile]
    license: str
    card: Path
    manifest: Path


def export_run(run_dir: str | Path, out_dir: str | Path, *, parallel: bool = False, name: str | None = None,
               license_id: str | None = None, target: str | None = None, source_root: str | Path | None = None,
               row_group_size: int = ROW_GROUP_SIZE, command: list[str] | None = None,
               on_file: Callable[[RunFile], None] | None = None) -> ExportResult:
    """Export every output of the run in `run_dir` to `out_dir`. `command`: the export command line, for the card."""
    if row_group_size < 1:
        raise ConfigError(f"row_group_size={row_group_size}: expected at least 1")
    runs = find_run_files(run_dir, target)
    out = Path(out_dir)
    destinations = [out / f"{run.output.name.rsplit('.', 1)[0]}.parquet" for run in runs]
    _refuse_overwrite(out, [*destinations, out / CARD, out / EXPORT_MANIFEST])
    # Every source is found before anything is written: a missing one stops the export with nothing half done.
    sources = [locate_source(run, source_root) if parallel else None for run in runs]
    out.mkdir(parents=True, exist_ok=True)
    outputs = OutputSet()
    try:
        files = []
        temporaries: dict[Path, str] = {}
        for run, dest, source in zip(runs, destinations, sources):
            if on_file:
                on_file(run)
            tmp = temporaries[dest] = _temporary(dest)
            outputs.add(tmp, dest)  # discarded with the rest if anything fails
            stats = write_parquet(run, Path(tmp), source, row_group_size)
            stats.path = dest
            files.append(CardFile(run, stats, source_info(run.source_name)))
        infos = [f.source for f in files]
        license_final = license_id or combined_license(infos)
        title = name or f"LLaVA in {language_name(runs[0].target)} (machine-translated)"
        logs = [run.qc_log for run in runs if run.qc_log is not None]
        card = render(files, title, license_final, license_id is not None, parallel,
                      command or ["python", "-m", "translate", "export", str(out_dir), "--from", str(run_dir)],
                      qc_summary(logs))
        with AtomicFile(out / CARD, outputs) as fh:
            fh.write(card)
        write_json(out / EXPORT_MANIFEST, _manifest(files, temporaries, run_dir, parallel, license_final, command),
                   outputs)
        outputs.commit()
    except BaseException:
        outputs.discard()
        raise
    return ExportResult(out, files, license_final, out / CARD, out / EXPORT_MANIFEST)


def _refuse_overwrite(out: Path, targets: list[Path]) -> None:
    """Existing files may be replaced only when an earlier export into this folder wrote them."""
    existing = [p for p in targets if p.exists()]
    if not existing:
        return
    ours: set[str] = set()
    previous = out / EXPORT_MANIFEST
    if previous.is_file():
        try:
            data = json.loads(previous.read_text(encoding="utf-8"))
            ours = {entry["file"] for entry in data.get("files", [])} | {CARD, EXPORT_MANIFEST}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            ours = set()
    foreign = [p for p in existing if p.name not in ours]
    if foreign:
        raise ConfigError(f"{out}: {', '.join(p.name for p in foreign)} already exist and were not written by an "
                          "earlier export here; choose an empty folder (nothing was written)")


def _temporary(dest: Path) -> str:
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise OutputError(f"cannot write to {dest.parent}: {exc.strerror or exc}") from None
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    os.close(fd)
    return tmp


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest(files: list[CardFile], temporaries: dict[Path, str], run_dir: str | Path, parallel: bool, license_id: str,
              command: list[str] | None) -> dict:
    entries = []
    for f in files:
        tmp = temporaries[f.parquet.path]  # finished, not yet renamed
        entries.append({"file": f.parquet.path.name, "config": f.run.config_name, "schema": f.parquet.kind,
                        "rows": f.parquet.rows, "row_groups": f.parquet.row_groups, "columns": f.parquet.columns,
                        "bytes": os.path.getsize(tmp), "sha256": _sha256(tmp), "from": f.run.output.name,
                        "source": f.run.source_path})
    return {"tool": {"name": "llava-translate", "version": __version__}, "run": str(run_dir), "parallel": parallel,
            "license": license_id, "command": command, "files": entries}

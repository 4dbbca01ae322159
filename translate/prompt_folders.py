"""Translate LLaVA's GPT-4 prompt folders with the same pieces as a data run.

Every unit of a folder (a line of prose, or a box label when labels are translated) goes through the pipeline's
protector, segmenter keys, memory and backend batches, exactly like a conversation value; the literals (headers,
``===`` lines, blank lines, box coordinates, list markers) never leave the process. A prompt file whose protected
spans do not come back, or that fails a check, is not written: it is listed in ``prompts.rejected.jsonl`` with its
reasons, so a folder never holds a silently broken few-shot example.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from translate import __version__
from translate.errors import ConfigError
from translate.formats.prompt_files import (
    LABEL_POLICIES,
    PromptFile,
    PromptFolder,
    find_prompt_folders,
    read_prompt_folder,
    write_prompt_file,
)
from translate.formats.writers import JsonLinesWriter, remove_stale_temporaries, write_json
from translate.memory import KeySet
from translate.pipeline import Assembler, Pipeline, Stats, collect_segments
from translate.protect import Protected
from translate.reasons import Reason

# Notation the system messages define for GPT-4; a translator must not localise it.
PROMPT_DNT = ("(x1, y1, x2, y2)",)

MANIFEST = "prompts.manifest.json"
REJECTED = "prompts.rejected.jsonl"


@dataclass
class FolderResult:
    source: Path
    output: Path
    written: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    layouts: dict[str, str] = field(default_factory=dict)


@dataclass
class PromptRun:
    folders: list[FolderResult]
    stats: Stats
    manifest: Path

    @property
    def rejected(self) -> int:
        return sum(len(f.rejected) for f in self.folders)


@dataclass(slots=True)
class _Unit:
    file: PromptFile
    role: str
    line: int
    source: str
    protected: Protected
    key: bytes | None


def plan_outputs(sources: list[Path], out_dir: Path) -> list[tuple[Path, Path]]:
    """(prompt folder, output folder) pairs. One prompt folder given alone is written straight into `out_dir`;
    otherwise each folder gets `out_dir/<name>` (a parent's sub-folders keep their names)."""
    pairs: list[tuple[Path, Path]] = []
    for src in sources:
        found = find_prompt_folders(src)
        if len(sources) == 1 and found == [src]:
            pairs.append((src, out_dir))
        elif found == [src]:
            pairs.append((src, out_dir / src.name))
        else:
            base = out_dir if len(sources) == 1 else out_dir / src.name
            pairs.extend((sub, base / sub.name) for sub in found)
    seen: dict[Path, Path] = {}
    for src, out in pairs:
        if out.resolve() == src.resolve():
            raise ConfigError(f"--out {out} is the source folder {src}; choose another folder")
        if out in seen:
            raise ConfigError(f"{src} and {seen[out]} would both be written to {out}")
        seen[out] = src
    return pairs


class PromptTranslator:
    """Translates prompt folders with a `Pipeline`'s protector settings, segmenter, memory, backend and checker."""

    def __init__(self, pipeline: Pipeline, labels: str = "keep"):
        if labels not in LABEL_POLICIES:
            raise ConfigError(f"--labels must be one of {', '.join(LABEL_POLICIES)}, not {labels!r}")
        self.pipeline = pipeline
        self.labels = labels
        base = pipeline.protector
        # The run's protector (placeholder style, do-not-translate strings, glossary terms, ...) plus the prompt
        # notation: a copy with every other setting as the run has it.
        self.protector = dataclasses.replace(base, dnt=(*tuple(base.dnt), *PROMPT_DNT))
        self.segmenter = pipeline.segmenter
        self.translator = pipeline.translator
        # The run's checks, with this protector (prompt notation included) restoring the spans.
        self.assembler = Assembler(self.protector, pipeline.assembler.checker)

    def run(self, sources: list[Path], out_dir: Path, manifest_extra: dict[str, Any] | None = None) -> PromptRun:
        pairs = plan_outputs(sources, out_dir)
        folders = [(read_prompt_folder(src, self.labels), out) for src, out in pairs]  # parse all before writing
        started = time.time()
        stats = Stats()
        seen = KeySet()
        results: list[FolderResult] = []
        out_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(out_dir, REJECTED)
        try:
            with JsonLinesWriter(out_dir / REJECTED) as rejected:
                for folder, out in folders:
                    results.append(self._run_folder(folder, out, stats, seen, rejected))
        finally:
            seen.close()
        stats.segments_unique = seen.count
        finished = time.time()
        backend = self.pipeline.backend
        options = self.pipeline.options
        manifest = {
            "tool": {"name": "llava-translate", "version": __version__},
            "kind": "prompt folders",
            "folders": [
                {"source": str(r.source), "output": str(r.output), "written": r.written, "rejected": r.rejected,
                 "skipped": r.skipped, "layouts": r.layouts}
                for r in results
            ],
            "languages": {"source": options.source_lang, "target": options.target_lang},
            "labels": self.labels,
            "backend": {"name": backend.name, "fingerprint": backend.fingerprint(), "usage": backend.usage()},
            "memory": str(self.pipeline.memory.path),
            # Here a "record" is one prompt file.
            "counts": stats.as_dict(),
            "timing": {"started": started, "finished": finished, "seconds": round(finished - started, 3)},
        }
        if manifest_extra:
            manifest.update(manifest_extra)
        write_json(out_dir / MANIFEST, manifest)
        return PromptRun(results, stats, out_dir / MANIFEST)

    def _run_folder(self, folder: PromptFolder, out: Path, stats: Stats, seen: KeySet, rejected) -> FolderResult:
        result = FolderResult(folder.path, out, skipped=list(folder.skipped),
                              layouts={f.name: f.layout or f.kind for f in folder.files})
        units: list[_Unit] = []
        for f in folder.files:
            for piece in f.units():
                protected = self.protector.protect(piece.text)
                key = self.segmenter.key_for_protected(protected)
                units.append(_Unit(f, piece.unit or "", piece.line, piece.text, protected, key))
        segments = collect_segments(units, self.segmenter)
        stats.count_segments(segments)
        wanted = segments.wanted
        seen.add_many(wanted)
        found = self.translator.fill(wanted, stats, spans=segments.spans) if wanted else {}
        by_file: dict[str, list[_Unit]] = {}
        for u in units:
            by_file.setdefault(u.file.name, []).append(u)
        for f in folder.files:
            stats.records_in += 1
            values, reasons = self._assemble(by_file.get(f.name, []), found)
            if reasons:
                stats.records_rejected += 1
                stats.reasons.update(r.code for r in reasons)
                result.rejected.append(f.name)
                rejected.write({"folder": str(folder.path), "file": f.name,
                                "reasons": [r.as_dict() for r in reasons]})
                continue
            out.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(out, f.name)
            write_prompt_file(out / f.name, f.render(values))
            stats.records_kept += 1
            result.written.append(f.name)
        return result

    def _assemble(self, units: list[_Unit], found: dict[bytes, str]) -> tuple[list[str], list[Reason]]:
        values: list[str] = []
        reasons: list[Reason] = []
        for u in units:
            if u.key is None:
                values.append(u.source)
                continue
            where = f"{u.file.name}:{u.line}"
            value, check = self.assembler.assemble_field(u.source, u.protected, u.key, found, u.role, where,
                                                         missing="the backend gave no usable translation for this line")
            # A translated line must stay one line, or the file's structure (and its parser) would change.
            if not check.reasons or check.reasons[0].code not in ("backend_failed", "span_lost"):
                if "\n" in value or "\r" in value:
                    reasons.append(Reason("line_break", where, "the translation of one line spans several lines"))
            reasons.extend(check.reasons)
            values.append(value)
        return values, reasons


def translate_prompts(pipeline: Pipeline, sources: list[Path], out_dir: Path, labels: str = "keep",
                      manifest_extra: dict[str, Any] | None = None) -> PromptRun:
    return PromptTranslator(pipeline, labels).run([Path(s) for s in sources], Path(out_dir), manifest_extra)

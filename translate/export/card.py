"""The dataset card, ``README.md``: Hub metadata (YAML) and a description made from the run's manifests.

Every figure on the card is read from the manifests and QC logs the run wrote, never retyped, so the card and the
files cannot disagree. YAML strings are written as JSON strings (valid YAML double-quoted scalars), so a name with
a colon or a quote cannot break the metadata.
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from translate.export.parquet import ParquetStats
from translate.export.runs import RunFile, kept_with_policy
from translate.export.sources import BACKEND_NOTES, SourceInfo

LANGUAGE_NAMES = {"ko": "Korean", "ja": "Japanese", "vi": "Vietnamese", "zh": "Chinese", "en": "English",
                  "fr": "French", "de": "German", "es": "Spanish", "id": "Indonesian", "th": "Thai",
                  "ru": "Russian", "ar": "Arabic", "hi": "Hindi", "pt": "Portuguese", "it": "Italian",
                  "tr": "Turkish"}
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                   (10_000_000, "1M<n<10M"))
NOT_RECORDED = "not recorded in the manifest (written by a version of llava-translate that did not record it)"


@dataclass
class CardFile:
    """One exported file: where it came from and what was written."""

    run: RunFile
    parquet: ParquetStats
    source: SourceInfo


def size_category(rows: int) -> str:
    for limit, name in SIZE_CATEGORIES:
        if rows < limit:
            return name
    return "n>10M"


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.split("-")[0].lower(), code)


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def default_config(files: list[CardFile]) -> CardFile:
    """The config `load_dataset(repo)` opens without a name: the LLaVA-shaped file with the most rows."""
    return sorted(files, key=lambda f: (f.parquet.kind != "llava", -f.parquet.rows, f.run.config_name))[0]


def metadata(files: list[CardFile], name: str, license_id: str, parallel: bool) -> str:
    target, source_lang = files[0].run.target, files[0].run.source_lang
    languages = [target] + ([source_lang] if parallel else [])
    tasks = ["visual-question-answering", "image-text-to-text"] + (["translation"] if parallel else [])
    datasets = sorted({f.source.dataset for f in files if f.source.dataset})
    rows = sum(f.parquet.rows for f in files)
    default = default_config(files)
    lines = ["---", "language:", *[f"- {_q(code)}" for code in languages], f"license: {_q(license_id)}"]
    lines += [f"pretty_name: {_q(name)}", "task_categories:", *[f"- {t}" for t in tasks],
              "size_categories:", f"- {_q(size_category(rows))}"]
    if datasets:
        lines += ["source_datasets:", *[f"- {_q(d)}" for d in datasets]]
    lines += ["tags:", "- llava", "- machine-translated", "configs:"]
    for f in files:
        lines += [f"- config_name: {_q(f.run.config_name)}", "  data_files:", "  - split: train",
                  f"    path: {_q(f.parquet.path.name)}"]
        if f is default:
            lines.append("  default: true")
    lines.append("---")
    return "\n".join(lines) + "\n"


def render(files: list[CardFile], name: str, license_id: str, license_given: bool, parallel: bool,
           export_command: list[str], qc_summary: dict[str, Any] | None) -> str:
    """The whole README.md."""
    target = files[0].run.target
    parts = [metadata(files, name, license_id, parallel), f"# {name}\n", _intro(files, parallel),
             _files_table(files), _schema(files, parallel), _license(files, license_id, license_given),
             _how_made(files, export_command), _counts(files), _quality(qc_summary), _loading(files, target)]
    return "\n".join(parts)


def _intro(files: list[CardFile], parallel: bool) -> str:
    run = files[0].run
    tool = run.manifest.get("tool", {})
    text = (f"{language_name(run.target)} ({run.target}) machine translation of LLaVA visual-instruction data, made "
            f"with {tool.get('name', 'llava-translate')} {tool.get('version', '')}. Images are not included: `image` "
            "holds the image path exactly as in the source, so the files pair with the source's image folders. "
            "Ids, order and `<image>` tokens are those of the source; records that failed the quality checks are "
            "not included (see *Counts*).")
    if parallel:
        text += (f" Each record also carries the {language_name(run.source_lang)} source side by side "
                 f"(`*_{run.source_lang}` columns), for bilingual training and review.")
    if any(f.run.manifest.get("partial") for f in files):
        text += " **Some files are partial (preview) runs: they hold only part of their source.**"
    return text + "\n"


def _files_table(files: list[CardFile]) -> str:
    rows = ["## Files\n", "| config | file | schema | rows | source file | source dataset |",
            "|---|---|---|---:|---|---|"]
    for f in files:
        dataset = f"[{f.source.dataset}](https://huggingface.co/datasets/{f.source.dataset})" if f.source.dataset \
            else "unknown"
        rows.append(f"| `{f.run.config_name}` | `{f.parquet.path.name}` | {f.parquet.kind} | {f.parquet.rows:,} | "
                    f"`{f.run.source_name}` | {dataset} |")
    return "\n".join(rows) + "\n"


def _schema(files: list[CardFile], parallel: bool) -> str:
    src = files[0].run.source_lang
    out = ["## Schema\n"]
    if any(f.parquet.kind == "llava" for f in files):
        out.append("LLaVA files: `id` (string; an integer id is written as its decimal text), `image` (string, null "
                   "for text-only records), `conversations` (list of `{from, value}`, `from` is `human` or `gpt`)"
                   + (f", `conversations_{src}` (the source turns)" if parallel else "")
                   + ", `extra` (JSON text of any other key of the record, e.g. `model` in mix665k; null when "
                   "there is none).\n")
    if any(f.parquet.kind == "bench" for f in files):
        out.append("LLaVA-Bench files: `question_id` (int64), `image`, `category`, `prompt` (answer files repeat the "
                   "question there)" + (f", `prompt_{src}`" if parallel else "") + ", `text`"
                   + (f", `text_{src}`" if parallel else "") + ", `extra` (JSON text of the other keys: "
                   "`answer_id`, `model_id`, `metadata`, …).\n")
    out.append("To rebuild LLaVA's JSON from a LLaVA file: `{\"id\", \"image\" (when not null), \"conversations\", "
               "**json.loads(extra)}`.\n")
    return "\n".join(out)


def _license(files: list[CardFile], license_id: str, license_given: bool) -> str:
    out = ["## License\n"]
    if license_given:
        out.append(f"The publisher set the licence to `{license_id}`. What is known about the sources:\n")
    elif license_id == "other":
        out.append("`other`: the sources do not share one licence, or state none. What is known about each:\n")
    else:
        out.append(f"`{license_id}`, inherited from the source. What is known about it:\n")
    seen: list[SourceInfo] = []
    for f in files:
        if f.source not in seen:
            seen.append(f.source)
            names = ", ".join(f"`{g.run.source_name}`" for g in files if g.source == f.source)
            out.append(f"- {names}: {f.source.note}")
    backends = sorted({str(f.run.manifest.get("backend", {}).get("name")) for f in files} & set(BACKEND_NOTES))
    out += [f"- {BACKEND_NOTES[b]}" for b in backends]
    out.append("\nThis section reports what the source datasets state; it is not legal advice.\n")
    return "\n".join(out)


def _values(files: list[CardFile], get) -> str:
    """One value when every file agrees, else each file's."""
    values = [(f.run.config_name, get(f.run.manifest)) for f in files]
    distinct = {json.dumps(v, sort_keys=True, ensure_ascii=False) for _, v in values}
    if len(distinct) == 1:
        return _show(values[0][1])
    return "; ".join(f"{name}: {_show(v)}" for name, v in values)


def _show(value: Any) -> str:
    if value is None:
        return NOT_RECORDED
    if isinstance(value, list):
        return f"`{shlex.join(str(v) for v in value)}`"
    if isinstance(value, (dict, tuple)):
        return f"`{json.dumps(value, ensure_ascii=False, sort_keys=True)}`" if value else "none (defaults)"
    return f"`{value}`"


def _date(manifest: dict[str, Any]) -> str | None:
    finished = manifest.get("timing", {}).get("finished")
    if not isinstance(finished, (int, float)):
        return None
    return dt.datetime.fromtimestamp(finished, dt.timezone.utc).strftime("%Y-%m-%d")


def _how_made(files: list[CardFile], export_command: list[str]) -> str:
    options = lambda m: m.get("options", {})  # noqa: E731
    fingerprint = _values(files, lambda m: m.get("backend", {}).get("fingerprint"))
    lines = [
        "## How it was made\n",
        f"- Tool: {_values(files, lambda m: '{name} {version}'.format(**m.get('tool', {})))}",
        f"- Backend: {_values(files, lambda m: m.get('backend', {}).get('name'))}",
        f"- Model and options (the memory fingerprint): {fingerprint}",
        f"- Backend options: {_values(files, lambda m: options(m).get('backend_options', {}))}",
        f"- Languages: {_values(files, lambda m: '{source} → {target}'.format(**m.get('languages', {})))}",
        f"- Glossary: {_values(files, lambda m: m.get('glossary'))}",
        f"- Quality-check settings (changes from the defaults): {_values(files, lambda m: options(m).get('qc', {}))}",
        f"- Rejected records: {_values(files, lambda m: options(m).get('on_reject'))} (`--on-reject`)",
        f"- Command: {_values(files, lambda m: m.get('command'))}",
        f"- Finished (UTC): {_values(files, _date)}",
        f"- Exported with: `{shlex.join(export_command)}`",
    ]
    return "\n".join(lines) + "\n"


def _counts(files: list[CardFile]) -> str:
    out = ["## Counts\n", "From the run's manifests. Every source record is either kept or rejected.\n",
           "| file | records in | kept | rejected | of which invalid | kept with flags | rejection reasons |",
           "|---|---:|---:|---:|---:|---:|---|"]
    totals = {"records_in": 0, "records_kept": 0, "records_rejected": 0, "records_invalid": 0}
    reasons_total: dict[str, int] = {}
    flagged_total = 0
    for f in files:
        c = f.run.counts
        for key in totals:
            totals[key] += int(c.get(key, 0))
        reasons = c.get("reasons", {}) or {}
        for code, n in reasons.items():
            reasons_total[code] = reasons_total.get(code, 0) + int(n)
        flagged = sum(kept_with_policy(f.run.rejected).values())
        flagged_total += flagged
        out.append(f"| `{f.run.source_name}` | {c.get('records_in', 0):,} | {c.get('records_kept', 0):,} | "
                   f"{c.get('records_rejected', 0):,} | {c.get('records_invalid', 0):,} | {flagged:,} | "
                   f"{_reasons(reasons)} |")
    out.append(f"| **total** | {totals['records_in']:,} | {totals['records_kept']:,} | "
               f"{totals['records_rejected']:,} | {totals['records_invalid']:,} | {flagged_total:,} | "
               f"{_reasons(reasons_total)} |")
    out.append("\nA record can have several reasons; reasons count records kept with flags too. Reason codes are "
               "explained in llava-translate's docs/quality.md.\n")
    return "\n".join(out)


def _reasons(reasons: dict[str, Any]) -> str:
    if not reasons:
        return "none"
    return ", ".join(f"`{code}` {int(n):,}" for code, n in sorted(reasons.items(), key=lambda kv: (-int(kv[1]), kv[0])))


def _quality(summary: dict[str, Any] | None) -> str:
    out = ["## Quality checks\n"]
    if not summary:
        out.append("No QC log (`*.qc.jsonl`) was found beside the outputs.\n")
        return "\n".join(out)
    o = summary["overview"]
    out.append(f"From the QC logs: records {o['records']:,}, checked turns {o['turns']:,}, turns with a reason "
               f"{o['turns_flagged']:,}, records rejected {o['records_rejected']:,}.\n")
    if summary["ratio_by_role"]:
        out += ["| role | turns | length ratio (translation / source characters), median | 5th–95th percentile |",
                "|---|---:|---:|---|"]
        for r in summary["ratio_by_role"]:
            out.append(f"| {r['role']} | {r['turns']:,} | {_num(r['p50'])} | {_num(r['p05'])}–{_num(r['p95'])} |")
        out.append("")
    if summary["reasons"]:
        out += ["| reason | turns | records |", "|---|---:|---:|"]
        out += [f"| `{r['reason']}` | {r['turns']:,} | {r['records']:,} |" for r in summary["reasons"]]
        out.append("")
    return "\n".join(out)


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:.2f}"


def _loading(files: list[CardFile], target: str) -> str:
    default = default_config(files)
    return ("## Loading\n\n```python\nfrom datasets import load_dataset\n\n"
            f"ds = load_dataset(\"OWNER/NAME\", \"{default.run.config_name}\", split=\"train\")  # or another config\n"
            "```\n\nOr read a file directly with polars or pyarrow: "
            f"`polars.read_parquet(\"{default.parquet.path.name}\")`.\n")


def qc_summary(logs: list[Path]) -> dict[str, Any] | None:
    """The QC report's aggregates over the run's logs (translate.report), or None without logs."""
    if not logs:
        return None
    from translate.report import build

    return build(logs).as_dict()

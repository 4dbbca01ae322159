"""Options shared by every command that opens a job, declared once.

`@job_options()` adds the shared options (`--src`, `--backend`, `--opt`, …) to a command's signature and hands the
command one `JobFlags` value instead, so a new shared option is one line here and every command gets it. The options
that shape what a run writes (`--limit`, `--no-qc-log`, `--overwrite`, …; `OUTPUT_OPTIONS`) come only with
`@job_options(outputs=True)`, so a command that writes no such files does not offer them. Before the command body
runs, the wrapper sets up logging (`--log-level`, `--log-file`) and the progress interval (`--progress-every`).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, fields
from typing import Any, Callable, Optional

import typer

from translate.config import RunConfig, load_config, parse_pairs
from translate.errors import ConfigError


@dataclass
class JobFlags:
    """The shared flags as given (None: not given, so the config file or the default applies)."""

    src: Optional[list[str]] = None
    out: Optional[str] = None
    target: Optional[str] = None
    source_lang: Optional[str] = None
    backend: Optional[str] = None
    memory: Optional[str] = None
    config: Optional[str] = None
    opt: Optional[list[str]] = None
    model: Optional[str] = None
    device: Optional[str] = None
    device_index: Optional[str] = None
    compute_type: Optional[str] = None
    beam_size: Optional[int] = None
    deepl_server_url: Optional[str] = None
    glossary: Optional[str] = None
    window: Optional[int] = None
    on_reject: Optional[str] = None
    records_key: Optional[str] = None
    log_level: Optional[str] = None
    log_file: Optional[str] = None
    progress_every: Optional[float] = None
    qc_log: Optional[bool] = None
    overwrite: Optional[bool] = None
    limit: Optional[int] = None
    sample: Optional[int] = None
    seed: Optional[int] = None
    workers: Optional[int] = None

    def backend_options(self) -> dict[str, Any]:
        """`--opt` pairs plus the convenience flags that are backend options under another name."""
        options = parse_pairs(self.opt)
        named = {"device_index": self.device_index, "compute_type": self.compute_type, "beam_size": self.beam_size,
                 "server_url": self.deepl_server_url, "model": self.model, "device": self.device}
        options.update({key: value for key, value in named.items() if value is not None})
        return options

    def config_values(self) -> dict[str, Any]:
        return {"src": self.src, "out": self.out, "target": self.target, "source": self.source_lang,
                "backend": self.backend, "memory": self.memory, "backend_options": self.backend_options(),
                "glossary": self.glossary, "window": self.window, "on_reject": self.on_reject,
                "records_key": self.records_key, "qc_log": self.qc_log, "overwrite": self.overwrite,
                "limit": self.limit, "sample": self.sample, "seed": self.seed, "workers": self.workers}

    def load(self, **extra: Any) -> RunConfig:
        """The run config: defaults, then the `--config` file, then these flags, then `extra` (other flags)."""
        return load_config(self.config, {**self.config_values(), **extra})


# name → (annotation, typer option). The annotation is a real type: typer reads it from the built signature.
SHARED: dict[str, tuple[Any, Any]] = {
    "src": (Optional[list[str]], typer.Option(None, "--src", help="Source file(s) or glob(s): JSON array or JSONL. "
                                                                    "Repeatable.")),
    "out": (Optional[str], typer.Option(None, "--out", help="Output folder (default: beside each source).")),
    "target": (Optional[str], typer.Option(None, "--target", help="Target language (ISO code); also the output "
                                                                    "prefix. Default: ko.")),
    "source_lang": (Optional[str], typer.Option(None, "--source-lang", help="Source language (ISO code). "
                                                                              "Default: en.")),
    "backend": (Optional[str], typer.Option(None, "--backend", help="pseudo | nllb | deepl | google | openai | an "
                                                                      "installed plug-in. Default: nllb.")),
    "memory": (Optional[str], typer.Option(None, "--memory", help="Translation memory (SQLite). Default: "
                                                                    "OUT/translation_memory.sqlite.")),
    "config": (Optional[str], typer.Option(None, "--config", help="TOML file with the same options.")),
    "opt": (Optional[list[str]], typer.Option(None, "--opt", help="Backend option KEY=VALUE (e.g. beam_size=4). "
                                                                    "Repeatable.")),
    "model": (Optional[str], typer.Option(None, "--model", help="Model: a local folder or a hub id (nllb, openai).")),
    "device": (Optional[str], typer.Option(None, "--device", help="auto | cpu | cuda (nllb).")),
    "device_index": (Optional[str], typer.Option(None, "--device-index", help="GPUs to use, e.g. 0,1 (nllb; one "
                                                                                "model per GPU).")),
    "compute_type": (Optional[str], typer.Option(None, "--compute-type", help="auto (int8_float16 on CUDA, int8 on "
                                                                                "CPU) or a CTranslate2 type (nllb).")),
    "beam_size": (Optional[int], typer.Option(None, "--beam-size", help="Beam size (nllb). Default 2.")),
    "deepl_server_url": (Optional[str], typer.Option(None, "--deepl-server-url", help="deepl: a proxy or "
                                                     "DeepL-compatible server (same as --opt server_url=URL).")),
    "glossary": (Optional[str], typer.Option(None, "--glossary", help="Glossary folder (terms/dnt/templates TSV); "
                                             "'none' for none. Default: ./glossaries/<target>, else the one shipped "
                                             "with the tool.")),
    "window": (Optional[int], typer.Option(None, "--window", help="Records per window (bounds memory). "
                                                                    "Default 1024.")),
    "on_reject": (Optional[str], typer.Option(None, "--on-reject", help="drop (default) | keep-source | keep.")),
    "records_key": (Optional[str], typer.Option(None, "--records-key", help="In a file whose top level is an "
                                                "object, translate the list under this key.")),
    "log_level": (Optional[str], typer.Option(None, "--log-level", help="DEBUG | INFO (default) | WARNING | ERROR: "
                                              "retries, back-off waits, rate limits, glossary syncs.")),
    "log_file": (Optional[str], typer.Option(None, "--log-file", help="Also append the log to this file.")),
    "progress_every": (Optional[float], typer.Option(None, "--progress-every", help="Seconds between progress lines "
                                                     "when stderr is not a terminal (a Slurm log). Default 30.")),
    "qc_log": (Optional[bool], typer.Option(None, "--qc-log/--no-qc-log", help="Write <target>_<name>.qc.jsonl "
                                            "(default: on).")),
    "overwrite": (Optional[bool], typer.Option(None, "--overwrite", help="Replace existing <target>_* files that "
                                               "no manifest of this tool lists.")),
    "limit": (Optional[int], typer.Option(None, "--limit", help="Only the first N records of each source (a preview; "
                                          "the memory is shared with the full run).")),
    "sample": (Optional[int], typer.Option(None, "--sample", help="Only N records of each source, a deterministic "
                                           "random subset (see --seed).")),
    "seed": (Optional[int], typer.Option(None, "--seed", help="Seed of --sample. Default 0.")),
    "workers": (Optional[int], typer.Option(None, "--workers", help="Worker processes for prepare and assemble "
                                            "(0: none). Default: one per core (at most 8), for files of 8 MiB or more. "
                                            "Never changes the output.")),
}
assert set(SHARED) == {f.name for f in fields(JobFlags)}
# Options only commands that write a run's files offer (`job_options(outputs=True)`).
OUTPUT_OPTIONS = ("qc_log", "overwrite", "limit", "sample", "seed", "workers")

QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar.")


def job_options(exclude: tuple[str, ...] = (), outputs: bool = False
                ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give the decorated command the shared options (except `exclude`; `OUTPUT_OPTIONS` only with `outputs`) as one
    `job: JobFlags` argument."""
    names = [name for name in SHARED if name not in exclude and (outputs or name not in OUTPUT_OPTIONS)]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command)
        # Every option keyword-only, so the shared ones can come first in --help.
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in signature.parameters.values()
               if p.name != "job"]
        shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=SHARED[name][1],
                                    annotation=SHARED[name][0]) for name in names]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in names}
            flags = JobFlags(**given)
            configure_output(flags)
            return command(*args, job=flags, **kwargs)

        # typer reads this signature (inspect stops unwrapping at __signature__); __wrapped__ stays, so the command's
        # own annotations still resolve in its own module.
        wrapper.__signature__ = signature.replace(parameters=shared + own)  # type: ignore[attr-defined]
        return wrapper

    return decorate

def configure_output(flags: JobFlags) -> None:
    """Logging and the progress interval from the flags (`translate.logs`, `translate.cli.progress`)."""
    from translate import logs
    from translate.cli import progress
    from translate.cli.app import console

    logs.configure(flags.log_level, flags.log_file, console)
    if flags.progress_every is not None:
        if not flags.progress_every > 0:
            raise ConfigError(f"--progress-every must be a number of seconds above 0, not {flags.progress_every}")
        progress.set_interval(flags.progress_every)


# The shared options one by one, for commands that take only a few of them (check, glossary).
TargetOpt = SHARED["target"][1]
SourceLangOpt = SHARED["source_lang"][1]
ConfigOpt = SHARED["config"][1]
OptOpt = SHARED["opt"][1]

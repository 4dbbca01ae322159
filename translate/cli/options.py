"""Options shared by every command that opens a job, declared once.

`@job_options()` adds the shared options (`--src`, `--backend`, `--opt`, …) to a command's signature and hands the
command one `JobFlags` value instead, so a new shared option is one line here and every command gets it.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, fields
from typing import Any, Callable, Optional

import typer

from translate.config import RunConfig, load_config, parse_pairs


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
                "glossary": self.glossary, "window": self.window, "on_reject": self.on_reject}

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
}
assert set(SHARED) == {f.name for f in fields(JobFlags)}

QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress bar.")


def job_options(exclude: tuple[str, ...] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give the decorated command the shared options (except `exclude`) as one `job: JobFlags` argument."""
    names = [name for name in SHARED if name not in exclude]

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
            return command(*args, job=JobFlags(**given), **kwargs)

        # typer reads this signature (inspect stops unwrapping at __signature__); __wrapped__ stays, so the command's
        # own annotations still resolve in its own module.
        wrapper.__signature__ = signature.replace(parameters=shared + own)  # type: ignore[attr-defined]
        return wrapper

    return decorate

# The shared options one by one, for commands that take only a few of them (check, glossary).
TargetOpt = SHARED["target"][1]
SourceLangOpt = SHARED["source_lang"][1]
ConfigOpt = SHARED["config"][1]
OptOpt = SHARED["opt"][1]

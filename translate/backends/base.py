"""The backend protocol, batching helpers and the registry.

A backend is one class in one file. It declares its name, a fingerprint (the model and the options that change its
output; part of every memory key), its batch limits, its placeholder style and its `Capabilities`, and implements
``translate(texts) -> texts`` (None for a text it gave up on). Third parties add backends through the entry-point group
``translate.backends``.

Nothing outside a backend guesses what it can do: the pipeline, `estimate`, the glossary and the executors read
`capabilities`, `request_characters` and `sync_glossary`, which every backend has (the defaults say "free, CPU, no
native glossary, one text at a time").
"""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import entry_points
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterator, Sequence

from translate.errors import ConfigError
from translate.protect import BRACKETS, PlaceholderStyle

ENTRY_POINT_GROUP = "translate.backends"

# Built-ins resolve without installed metadata (a source checkout works too), and import lazily so that a missing
# optional dependency only matters for the backend that needs it.
BUILTIN_BACKENDS = {
    "pseudo": "translate.backends.pseudo:PseudoBackend",
    "nllb": "translate.backends.nllb:NLLBBackend",
    "deepl": "translate.backends.deepl:DeepLBackend",
    "google": "translate.backends.google:GoogleBackend",
    "openai": "translate.backends.openai:OpenAIBackend",
}


@dataclass(frozen=True)
class Capabilities:
    """What a backend declares about itself, so that nothing has to probe it from outside.

    - `billed`: requests cost money per character or token; `estimate` shows a bill.
    - `wants_gpu`: runs a local model that wants one GPU per instance (Ray gives each actor one when it can).
    - `native_glossary`: the engine applies a glossary itself (`sync_glossary`), so terms are not replaced by
      placeholders.
    - `record_context`: the engine translates better with the segments of one record together (an LLM keeps one
      speech level and one rendering per conversation); the pipeline then calls `translate_records`.
    """

    billed: bool = False
    wants_gpu: bool = False
    native_glossary: bool = False
    record_context: bool = False


@dataclass
class RecordTexts:
    """The segments of one record that still need a translation, for engines with `record_context`.

    `texts` are protected bodies in turn order; a segment shared by several records of one batch travels once, with
    the first. `roles` gives each text's role ("human", "gpt", "bench", …). `context` holds the record's other
    translatable values (protected source text, in turn order, with their roles) that are already translated or
    empty, so the engine can still see the whole conversation. `image` is the record's image path as written in the
    source (None for text-only records), for engines that look at the picture."""

    texts: list[str]
    roles: list[str]
    context: list[tuple[str, str]] = field(default_factory=list)
    image: str | None = None
    record_id: Any = None


class Backend:
    """Base class for backends. Subclasses set the class attributes and implement `translate`."""

    name: ClassVar[str] = "base"
    placeholder: ClassVar[PlaceholderStyle] = BRACKETS
    capabilities: ClassVar[Capabilities] = Capabilities()
    max_batch_texts: int = 64
    max_batch_chars: int = 50_000
    # A glossary already on the engine's account that the run should use (DeepL); None: sync one if needed.
    glossary_id: str | None = None
    # Packages the backend imports lazily, and the extra that installs them: checked before it is built, so a missing
    # one is exit 2 with the pip command rather than an ImportError in the middle of the first batch.
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None

    def __init__(self, source_lang: str, target_lang: str):
        self.source_lang = source_lang
        self.target_lang = target_lang

    def fingerprint(self) -> str:
        """Model and output-changing options. Never a secret."""
        return self.name

    def translate(self, texts: list[str]) -> list[str | None]:
        """One translation per text, in order. Placeholders (see `placeholder`) must come back unchanged.

        Return None for a text the engine gave up on after its own retries (e.g. it only ever echoed the source):
        nothing is stored for it, its record is rejected as `backend_failed`, and a rerun tries it again. Raise a
        `translate.errors.BackendError` (or a subclass) to stop the run resumably."""
        raise NotImplementedError

    def translate_records(self, records: list[RecordTexts]) -> list[list[str | None]]:
        """One list of translations per record, one per text of `RecordTexts.texts`. Called instead of `translate`
        when `capabilities.record_context` is set. The default flattens and calls `translate`, so every backend
        accepts it. On failure, `BackendError.partial` is flat (one entry per text across all records, in order)."""
        flat = [text for record in records for text in record.texts]
        outputs = self.translate(flat)
        if not isinstance(outputs, (list, tuple)) or len(outputs) != len(flat):
            return outputs  # type: ignore[return-value]  # the caller reports the count mismatch
        grouped, start = [], 0
        for record in records:
            grouped.append(list(outputs[start:start + len(record.texts)]))
            start += len(record.texts)
        return grouped

    def request_characters(self, text: str) -> int:
        """Characters the engine bills for `text` as sent (DeepL counts its XML escapes). Default: `len`."""
        return len(text)

    def estimate_usage(self, texts: list[str]) -> dict[str, Any] | None:
        """What sending `texts` would use, for an engine billed by something other than characters (an LLM: requests,
        prompt and completion tokens, `estimated_cost`). Numbers only; `estimate` sums them over windows. None: the
        engine bills by characters or not at all."""
        return None

    def sync_glossary(self, terms: dict[str, str], name: str) -> str | None:
        """Make the engine's own glossary hold `terms` and use it; return its id. Only backends with
        `capabilities.native_glossary` do anything here."""
        return None

    def usage(self) -> dict[str, Any]:
        """Backend-specific counters for the manifest (e.g. billed characters)."""
        return {}

    def close(self) -> None:
        """Release models, sessions and threads."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_batches(texts: Sequence[str], max_texts: int, max_chars: int) -> Iterator[list[int]]:
    """Indices of `texts` grouped so no batch exceeds `max_texts` items or `max_chars` characters (a single longer
    text goes alone)."""
    batch: list[int] = []
    chars = 0
    for i, text in enumerate(texts):
        n = len(text)
        if batch and (len(batch) >= max_texts or chars + n > max_chars):
            yield batch
            batch, chars = [], 0
        batch.append(i)
        chars += n
    if batch:
        yield batch


def available_backends() -> dict[str, str]:
    found = dict(BUILTIN_BACKENDS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def load_backend_class(name: str) -> type[Backend]:
    target = available_backends().get(name)
    if target is None:
        raise ConfigError(f"unknown backend {name!r}; available: {', '.join(sorted(available_backends()))}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"backend {name!r} needs an optional dependency that is not installed ({exc.name or exc}); "
            f"install it with: pip install 'llava-translate[{name}]'"
        ) from exc
    return getattr(module, attr)


def check_requirements(cls: type[Backend], name: str) -> None:
    """ConfigError with the pip command when a package the backend declares in `requires` is missing."""
    for package in cls.requires:
        try:
            importlib.import_module(package)
        except ImportError as exc:
            raise ConfigError(f"backend {name!r} needs the optional package {package!r}, which is not installed "
                              f"({type(exc).__name__}); install it with: pip install "
                              f"'llava-translate[{cls.extra or name}]'") from None


def create_backend(name: str, source_lang: str, target_lang: str, options: dict[str, Any] | None = None) -> Backend:
    """Build a backend from its name and options; an unknown option is an error that lists the accepted ones."""
    cls = load_backend_class(name)
    check_requirements(cls, name)
    options = dict(options or {})
    params = inspect.signature(cls.__init__).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = [p for p in params if p not in ("self", "source_lang", "target_lang")]
    unknown = [k for k in options if k not in accepted]
    if unknown and not accepts_any:
        raise ConfigError(
            f"backend {name!r} does not take option(s) {', '.join(unknown)}; it accepts: {', '.join(accepted) or 'none'}"
        )
    for key, param in params.items():
        if key in options and isinstance(options[key], str) and param.annotation not in (str, "str", inspect._empty):
            options[key] = _coerce(options[key], param.annotation, key)
    return cls(source_lang, target_lang, **options)


def _coerce(value: str, annotation: Any, key: str) -> Any:
    """`--opt key=value` gives strings; convert them to the constructor's annotated type."""
    ann = str(annotation)
    try:
        if ann.startswith("bool") or annotation is bool:
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if ann.startswith("int") or annotation is int:
            return int(value)
        if ann.startswith("float") or annotation is float:
            return float(value)
    except ValueError:
        raise ConfigError(f"option {key}={value!r} is not a valid {ann}") from None
    return value

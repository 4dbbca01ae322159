"""The backend protocol, batching helpers and the registry.

A backend is one class in one file. It declares its name, a fingerprint (the model and the options that change its
output; part of every memory key), its batch limits and its placeholder style, and implements
``translate(texts) -> texts`` (None for a text it gave up on). Third parties add backends through the entry-point group ``translate.backends``.
"""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import entry_points
from typing import Any, ClassVar, Iterable, Iterator, Sequence

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
}


class Backend:
    """Base class for backends. Subclasses set the class attributes and implement `translate`."""

    name: ClassVar[str] = "base"
    placeholder: ClassVar[PlaceholderStyle] = BRACKETS
    max_batch_texts: int = 64
    max_batch_chars: int = 50_000

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


def create_backend(name: str, source_lang: str, target_lang: str, options: dict[str, Any] | None = None) -> Backend:
    """Build a backend from its name and options; an unknown option is an error that lists the accepted ones."""
    cls = load_backend_class(name)
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


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk

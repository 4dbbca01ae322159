"""Optional quality estimation (QE): a model's score per translated turn, off by default.

The rule-based checks see form and anchors; a QE scorer sees meaning, at a cost (a model, usually a GPU). A scorer
is anything with a `name` and `score(sources, outputs) -> list[float]` (higher is better; the built-ins give 0..1).
Scorers come from a registry: the built-ins below plus the entry-point group ``translate.qe``, so a package can add
one (reference-free COMET, say) without touching this code:

    [project.entry-points."translate.qe"]
    cometkiwi = "my_package.qe:CometKiwiScorer"

A scorer class is built as ``cls(source_lang, target_lang, **options)``.

Built-in: ``roundtrip-chrf`` translates each output back into the source language with any configured backend
(`translate.backends.base.create_backend`, the reverse direction) and scores the back-translation against the source
with chrF (character n-grams, order 6, β = 2; sacrebleu's when installed, else `chrf` below, which gives the same
numbers), divided by 100.

`QeStage` is what the pipeline calls, once per window: `score_window(pairs)` scores every (source, output) turn in
one batch, `apply(check, score, field)` gives the turn's `TurnCheck` with the score on it (the QC log's ``qe`` key)
and, below the threshold, the reason ``qe_low``. Configured as ``[qc.qe]``::

    [qc.qe]
    scorer = "roundtrip-chrf"
    threshold = 0.25            # below: reason qe_low (omit to only log the scores)
    [qc.qe.options]             # the scorer's own options
    backend = "nllb"
    backend_options = { model = "..." }
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, Sequence, runtime_checkable

from translate.errors import ConfigError
from translate.qc.text import strip_image
from translate.qc.verdict import TurnCheck
from translate.reasons import Reason

ENTRY_POINT_GROUP = "translate.qe"
BUILTIN_SCORERS = {"roundtrip-chrf": "translate.qc.qe:RoundTripChrF"}
QE_LOW = "qe_low"


@runtime_checkable
class Scorer(Protocol):
    name: str

    def score(self, sources: list[str], outputs: list[str]) -> list[float]:
        """One score per (source, output) pair, in order; higher is better."""
        ...


def available_scorers() -> dict[str, str]:
    """name → "module:attribute", built-ins first; an installed entry point cannot shadow a built-in."""
    found = dict(BUILTIN_SCORERS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def create_scorer(name: str, source_lang: str, target_lang: str, options: dict[str, Any] | None = None) -> Scorer:
    """Build a registered scorer; an unknown name or option is a ConfigError that lists what is known."""
    target = available_scorers().get(name)
    if target is None:
        raise ConfigError(f"[qc.qe] unknown scorer {name!r}; available: {', '.join(sorted(available_scorers()))}")
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"[qc.qe] scorer {name!r} ({target}) cannot be loaded: {exc}") from None
    options = dict(options or {})
    params = inspect.signature(cls).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = [p for p in params if p not in ("source_lang", "target_lang")]
        unknown = [k for k in options if k not in accepted]
        if unknown:
            raise ConfigError(f"[qc.qe] scorer {name!r} does not take option(s) {', '.join(unknown)}; it accepts: "
                              f"{', '.join(accepted) or 'none'}")
    scorer = cls(source_lang, target_lang, **options)
    if not isinstance(scorer, Scorer):
        raise ConfigError(f"[qc.qe] {target} is not a scorer: it needs a `name` and `score(sources, outputs)`")
    return scorer


# -- chrF ---------------------------------------------------------------------------------------------------------

def _ngrams(text: str, n: int) -> Counter:
    return Counter(text[i: i + n] for i in range(len(text) - n + 1))


def chrf(hypothesis: str, reference: str, order: int = 6, beta: float = 2.0) -> float:
    """Sentence chrF (Popović 2015) as sacrebleu computes it by default: character n-grams of orders 1..`order` with
    whitespace removed, precision and recall averaged over the orders both sides have, then F-beta; 0..100."""
    hyp, ref = "".join(hypothesis.split()), "".join(reference.split())
    precision = recall = 0.0
    effective = 0
    for n in range(1, order + 1):
        h, r = _ngrams(hyp, n), _ngrams(ref, n)
        n_hyp, n_ref = sum(h.values()), sum(r.values())
        if n_hyp and n_ref:
            matches = sum((h & r).values())
            precision += matches / n_hyp
            recall += matches / n_ref
            effective += 1
    if not effective:
        return 0.0
    precision /= effective
    recall /= effective
    factor = beta ** 2
    if precision + recall == 0:
        return 0.0
    return 100 * (1 + factor) * precision * recall / (factor * precision + recall)


def _chrf_function():
    """sacrebleu's sentence chrF when it is installed (the reference implementation), else `chrf`."""
    try:
        from sacrebleu.metrics import CHRF
    except ImportError:
        return chrf
    metric = CHRF()
    return lambda hypothesis, reference: metric.sentence_score(hypothesis, [reference]).score


class RoundTripChrF:
    """chrF between the source and the output translated back into the source language, divided by 100 (0..1)."""

    name = "roundtrip-chrf"

    def __init__(self, source_lang: str, target_lang: str, backend: str = "nllb",
                 backend_options: dict[str, Any] | None = None):
        from translate.backends.base import create_backend

        # The reverse direction: the output's language back into the source's.
        self.backend = create_backend(backend, target_lang, source_lang, backend_options)
        self._chrf = _chrf_function()

    def score(self, sources: list[str], outputs: list[str]) -> list[float]:
        back = []
        for batch in _batches(outputs, self.backend.max_batch_texts, self.backend.max_batch_chars):
            back.extend(self.backend.translate(batch))
        if len(back) != len(outputs):
            raise ConfigError(f"[qc.qe] backend {self.backend.name!r} returned {len(back)} back-translations for "
                              f"{len(outputs)} texts")
        # A text the backend gave up on (None) says nothing about the translation: NaN, which QeStage leaves unscored.
        return [math.nan if b is None else self._chrf(b, s) / 100 for b, s in zip(back, sources)]


def _batches(texts: list[str], max_texts: int, max_chars: int):
    batch: list[str] = []
    chars = 0
    for text in texts:
        if batch and (len(batch) >= max_texts or chars + len(text) > max_chars):
            yield batch
            batch, chars = [], 0
        batch.append(text)
        chars += len(text)
    if batch:
        yield batch


# -- settings and the stage the pipeline calls ------------------------------------------------------------------------

@dataclass(frozen=True)
class QeSettings:
    """The ``[qc.qe]`` table. `threshold` None: scores are logged, nothing is rejected."""

    scorer: str
    threshold: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, table: Any) -> "QeSettings | None":
        """From ``[qc.qe]`` (a table, or a scorer name as a string); None (off) for an absent or false value."""
        if table in (None, False, ""):
            return None
        if isinstance(table, str):
            table = {"scorer": table}
        if not isinstance(table, dict):
            raise ConfigError(f"[qc.qe] must be a table or a scorer name, not {table!r}")
        unknown = [k for k in table if k not in ("scorer", "threshold", "options", "enabled")]
        if unknown:
            raise ConfigError(f"[qc.qe] unknown key(s) {', '.join(unknown)}; known: scorer, threshold, options, "
                              "enabled")
        if table.get("enabled") is False:
            return None
        scorer = table.get("scorer")
        if not isinstance(scorer, str) or not scorer:
            raise ConfigError(f"[qc.qe] scorer must name a scorer ({', '.join(sorted(available_scorers()))})")
        threshold = table.get("threshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
            raise ConfigError(f"[qc.qe] threshold must be a number, not {threshold!r}")
        options = table.get("options") or {}
        if not isinstance(options, dict):
            raise ConfigError(f"[qc.qe] options must be a table, not {options!r}")
        return cls(scorer, None if threshold is None else float(threshold), dict(options))


class QeStage:
    """Scores the translated turns of a window in one batch and turns low scores into the reason ``qe_low``."""

    def __init__(self, settings: QeSettings, source_lang: str, target_lang: str, scorer: Scorer | None = None):
        self.settings = settings
        self.scorer = scorer or create_scorer(settings.scorer, source_lang, target_lang, settings.options)

    @classmethod
    def from_config(cls, table: Any, source_lang: str, target_lang: str) -> "QeStage | None":
        """The stage for a ``[qc.qe]`` table, or None when QE is off (the default)."""
        settings = QeSettings.parse(table)
        return None if settings is None else cls(settings, source_lang, target_lang)

    def score_window(self, pairs: Sequence[tuple[str, str]]) -> list[float | None]:
        """A score per (source, output) turn, in order; None for a turn with nothing to score (an empty or
        ``<image>``-only side) or that the scorer could not score (NaN). One call of the scorer for the whole
        window."""
        texts = [(strip_image(s), strip_image(o)) for s, o in pairs]
        wanted = [i for i, (s, o) in enumerate(texts) if s and o]
        out: list[float | None] = [None] * len(texts)
        if not wanted:
            return out
        scores = self.scorer.score([texts[i][0] for i in wanted], [texts[i][1] for i in wanted])
        if len(scores) != len(wanted):
            raise ConfigError(f"[qc.qe] scorer {self.scorer.name!r} gave {len(scores)} scores for {len(wanted)} turns")
        for i, value in zip(wanted, scores):
            value = float(value)
            out[i] = round(value, 4) if math.isfinite(value) else None  # the QC log holds no NaN
        return out

    def apply(self, check: TurnCheck, score: float | None, field: str) -> tuple[TurnCheck, Reason | None]:
        """The turn's check with `score` on it and, below the threshold, the reason ``qe_low`` (also returned, for
        the record's reasons). A new TurnCheck: the pipeline shares clean checks between records."""
        threshold = self.settings.threshold
        if score is None or threshold is None or score >= threshold:
            return dataclasses.replace(check, qe=score), None
        reason = Reason(QE_LOW, field, f"{self.scorer.name} score {score:.3f} is below {threshold:g}")
        return dataclasses.replace(check, qe=score, reasons=[*check.reasons, reason]), reason

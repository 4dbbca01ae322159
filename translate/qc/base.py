"""What every quality check is made of: the target it judges for, the turn it looks at, and the `Check` base class.

A check is a small class with a `name` (its reason code and its key in the config's ``[qc]`` table), its `defaults`
(thresholds, overridable per target language in `defaults_for`), and `__call__(turn) -> detail | None`. The turn
carries the source, the output and the role, plus measurements several checks share (the script share is counted
once, from UTF-8 bytes, whoever asks first). Adding a check is one class in one module plus its line in
`translate.qc.registry`.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

from translate.qc.scripts import Target, script_share

SEVERITIES = ("reject", "warn")
_MISSING = object()
_KOREAN_GRAMMAR = frozenset("은는이을를에의로와과도고며요니습있했한된게지")


class Turn:
    """One turn under inspection: `source` and `output` without ``<image>`` and outer whitespace, and the
    measurements shared between checks, computed on first use.

    Measurements of the source alone (`source_memo`) and of the output alone (`memo`) go into per-text dicts, which
    the checker takes from its `TextCache`s, so a source that recurs is split and scanned once for the whole run."""

    __slots__ = ("source", "output", "role", "target", "settled", "_script", "_src", "_out")

    def __init__(self, source: str, output: str, role: str, target: Target,
                 source_facts: dict[str, Any] | None = None, output_facts: dict[str, Any] | None = None):
        self.source = source
        self.output = output
        self.role = role
        self.target = target
        self.settled = False  # set by a check whose finding makes every later check moot
        self._script: tuple[float | None, int, float] | None = None
        self._src = source_facts
        self._out = output_facts

    def script(self, sure_share: float) -> tuple[float | None, int, float]:
        """(target-script share of the letters, letter count, ASCII-letter share) of the output."""
        if self._script is None:
            self._script = script_share(self.output, self.target, sure_share)
        return self._script

    @property
    def measured_script(self) -> tuple[float | None, int, float] | None:
        return self._script

    def reads_as_target(self) -> bool:
        """Whether the output has the grammar the language-specific checks read. For Korean: at least one of the
        commonest particles and endings (은 는 이 을 를 에 의 …). Hangul-looking text without any of them (the pseudo
        backend's output, a transliteration) has no sentence endings or negations to read, so those checks stay
        silent on it; other checks still judge it."""
        if self.target.family != "ko":
            return True
        return self.memo("reads_as_target", lambda: not _KOREAN_GRAMMAR.isdisjoint(self.output))

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A measurement of the output alone (its sentences, its speech levels), computed once per output text."""
        facts = self._out
        if facts is None:
            facts = self._out = {}
        value = facts.get(key, _MISSING)  # not try/except: a miss is common, and raising KeyError costs
        if value is _MISSING:
            value = facts[key] = compute()
        return value

    def source_memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """A measurement of the source alone (its sentences, its negations, its units), computed once per source
        text: LLaVA repeats its prompts."""
        facts = self._src
        if facts is None:
            facts = self._src = {}
        value = facts.get(key, _MISSING)  # not try/except: a miss is common, and raising KeyError costs
        if value is _MISSING:
            value = facts[key] = compute()
        return value


class Check:
    """Base of every per-turn check. Subclasses set `name`, `defaults` and implement `__call__`."""

    name: ClassVar[str]
    # Thresholds and their defaults; every key may be set under ``[qc.<name>]``.
    defaults: ClassVar[dict[str, Any]] = {}
    # Whether a finding rejects the record ("reject") or is only logged ("warn"); ``[qc.<name>] severity``.
    severity: ClassVar[str] = "reject"
    # Whether keys beyond `defaults` are accepted (length_ratio: a role of one's own).
    open_options: ClassVar[bool] = False
    # Switched on by default for this target? (A check without a rule set for a language stays off there.)
    on_by_default: ClassVar[bool] = True

    def __init__(self, target: Target, options: dict[str, Any]):
        self.target = target
        self.options = options

    @classmethod
    def defaults_for(cls, target: Target) -> dict[str, Any]:
        """The defaults for `target`; override for per-language thresholds."""
        return dict(cls.defaults)

    @classmethod
    def enabled_for(cls, target: Target) -> bool:
        return cls.on_by_default

    @classmethod
    def validate(cls, options: dict[str, Any]) -> None:
        """Raise ConfigError for values that cannot work (called after the ``[qc]`` table is merged in)."""

    def __call__(self, turn: Turn) -> str | None:
        raise NotImplementedError

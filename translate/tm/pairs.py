"""An English value and its translation → the memory row a run would have stored, or why it cannot be one.

A run stores, under the key of the protected English body, the engine's answer with the placeholders in it. To import
someone else's translation we do the reverse: protect the English exactly as a run does (same protector, same
segmenter, same backend fingerprint), find in the translation the text each placeholder stands for (the span itself,
or a glossary term's target) and put the placeholder back. The result is checked by restoring it as the assembler
would: only a pair whose restored output is the imported text (up to the <image> shell, which a run always takes from
the source) is stored, so the next run writes exactly the imported Korean.
"""

from __future__ import annotations

from dataclasses import dataclass

from translate.pipeline import Segmenter
from translate.protect import PlaceholderStyle, Protected, Span, SpanLost
from translate.qc import QualityChecker
from translate.reasons import Reason

# Outcomes that are neither imported nor a problem.
NO_SEGMENT = "no_segment"  # nothing for an engine (empty, <image> alone, a box or a number): a run copies it
TEMPLATE = "template"  # a curated glossary template: a run takes it from the glossary, whatever the memory holds


@dataclass(slots=True)
class Pair:
    key: bytes
    body: str  # protected English, as a run sends it
    target: str  # the translation with placeholders, as an engine would have answered
    spans: tuple[Span, ...]
    output: str  # what a run writes for this value
    normalised: bool  # output differs from the imported text (whitespace around <image>, a particle)


class PairMaker:
    def __init__(self, segmenter: Segmenter, checker: QualityChecker):
        self.segmenter = segmenter
        self.protector = segmenter.protector
        self.checker = checker

    def make(self, source: str, translated: str, role: str, field: str) -> Pair | str | list[Reason]:
        """A `Pair`, NO_SEGMENT / TEMPLATE, or the reasons this pair stays out of the memory."""
        protected = self.protector.protect(source)
        key = self.segmenter.key_for_protected(protected)
        if key is None:
            return NO_SEGMENT
        if self.segmenter.is_template(key):
            return TEMPLATE
        # The imported text as published: a lost or moved <image>, English left in, changed numbers, ...
        reasons = self.checker.inspect(source, translated, role, field).reasons
        if reasons:
            return reasons
        shell = self.protector.protect(translated)  # only its prefix and suffix (the <image> shell) are used
        inner = translated[len(shell.prefix): len(translated) - len(shell.suffix)]
        target = put_placeholders(inner, protected.spans, self.protector.style)
        if isinstance(target, Reason):
            return [Reason(target.code, field, target.detail)]
        try:
            output = self.protector.restore(protected, target)
        except SpanLost as lost:  # e.g. the translation itself holds text that looks like a placeholder
            return [Reason("span_lost", field, lost.detail)]
        if output != translated:
            # What a run would write must pass too (the particle after a term may have been corrected).
            reasons = self.checker.inspect(source, output, role, field).reasons
            if reasons:
                return reasons
        return Pair(key, protected.body, target, protected.spans, output, output != translated)


def put_placeholders(text: str, spans: tuple[Span, ...], style: PlaceholderStyle) -> str | Reason:
    """`text` with each span's restored form replaced by its placeholder, or a Reason naming the first span that is
    not there. Spans may appear in any order (Korean moves them); longer ones are placed first so that a term inside
    a longer span cannot steal its text, and repeated spans take their occurrences left to right."""
    if not spans:
        return text
    taken: list[tuple[int, int, int]] = []  # start, end, span index
    resume: dict[str, int] = {}
    for i in sorted(range(len(spans)), key=lambda n: (-len(spans[n].restore), n)):
        want = spans[i].restore
        pos = text.find(want, resume.get(want, 0)) if want else -1
        while pos >= 0 and any(pos < end and start < pos + len(want) for start, end, _ in taken):
            pos = text.find(want, pos + 1)
        if pos < 0:
            span = spans[i]
            if span.kind == "term":
                return Reason("glossary_term_missing", "", f"the glossary renders {span.source!r} as "
                              f"{span.restore!r}, which the translation does not use")
            if span.kind == "image":
                return Reason("image_token", "", "<image> is missing from the translation")
            return Reason("span_lost", "", f"{span.kind} span {span.source!r} is missing or changed in the "
                          "translation")
        taken.append((pos, pos + len(want), i))
        resume[want] = pos + len(want)
    out, last = [], 0
    for start, end, i in sorted(taken):
        out.append(text[last:start])
        out.append(style.render(i, spans[i]))
        last = end
    out.append(text[last:])
    return "".join(out)


def restored_source(protected_body: str, spans: tuple[Span, ...], style: PlaceholderStyle) -> str:
    """The English body with every placeholder replaced by its span's own text (not a glossary target)."""
    from translate.protect import restore_spans

    return restore_spans(style, tuple(Span(s.kind, s.source, s.source) for s in spans), protected_body)


__all__ = ["NO_SEGMENT", "TEMPLATE", "Pair", "PairMaker", "Protected", "put_placeholders", "restored_source"]


def open_pair_maker(cfg) -> tuple[PairMaker, object]:
    """The `PairMaker` for a run config, built exactly as a run builds its segmenter, and the backend (close it).

    The backend is only asked for its fingerprint and placeholder style: NLLB does not load its model for that (a
    hub id is named, a local folder hashed), and a DeepL backend is put offline, so its glossary is fingerprinted,
    not uploaded."""
    from translate.backends.base import create_backend
    from translate.runtime import open_segmenter

    backend = create_backend(cfg.backend, cfg.source, cfg.target, cfg.backend_options)
    backend.offline = True
    try:
        segmenter = open_segmenter(cfg, backend)
    except BaseException:
        backend.close()
        raise
    return PairMaker(segmenter, QualityChecker(cfg.target, cfg.qc)), backend

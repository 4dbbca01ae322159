"""The prepare stage: a record becomes protected fields with memory keys, and a window becomes the set of keys
it asks for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from translate.formats.readers import SourceItem
from translate.formats.records import (
    FieldPath,
    translatable_fields,
    validate,
)
from translate.memory import segment_key
from translate.pipeline.options import SegmentCounts
from translate.protect import Protected, Protector
from translate.reasons import Reason

# Entries in each per-value cache before it is emptied: enough for LLaVA's repeated prompts, small enough that memory
# use stays flat on any file size.
CACHE_SIZE = 4096
# A word an engine could translate: two letters in a row, or one letter outside ASCII (a CJK character).
_WORD = re.compile(r"[^\W\d_]{2}|[^\W\d_A-Za-z]")


@dataclass(slots=True)
class PreparedField:
    path: FieldPath
    role: str
    value: str
    protected: Protected
    key: bytes | None  # None: nothing to translate (empty, whitespace, or <image> alone)


@dataclass(slots=True)
class PreparedRecord:
    item: SourceItem
    problems: list[Reason]
    fields: list[PreparedField]




def collect_segments(fields: Iterable[Any], segmenter: Segmenter) -> SegmentCounts:
    """The one prepare → count → collect step shared by the pipeline, `plan` and the prompt folders. `fields`: any
    objects with `.key` (None: nothing to translate) and `.protected`."""
    counts = SegmentCounts({})
    wanted = counts.wanted
    has_templates = bool(segmenter.templates)
    for f in fields:
        counts.total += 1
        key = f.key
        if key is None:
            counts.empty += 1
            continue
        if key not in wanted:
            wanted[key] = f.protected.body
            if f.protected.spans:
                counts.spans[key] = f.protected.spans
        if has_templates and segmenter.is_template(key):
            counts.templates += 1
    return counts


class Segmenter:
    """Record → protected fields with memory keys (the plan stage for one record)."""

    def __init__(self, protector: Protector, source_lang: str, target_lang: str, fingerprint: str,
                 templates: dict[str, str] | None = None):
        self.protector = protector
        self.source_lang = source_lang
        self.target_lang = target_lang
        self.fingerprint = fingerprint
        self.templates = templates or {}
        # Curated templates (glossary) are looked up by their exact body and keyed apart from any backend, so one
        # curated translation serves every backend and costs nothing.
        self._template_keys = {
            segment_key(body, source_lang, target_lang, "template"): body for body in self.templates
        }
        # LLaVA repeats its questions and prompts thousands of times: protect and key each distinct value once.
        self._protected_cache: dict[str, tuple[Protected, bytes | None]] = {}

    def key_for(self, body: str) -> bytes:
        if body in self.templates:
            return segment_key(body, self.source_lang, self.target_lang, "template")
        return segment_key(body, self.source_lang, self.target_lang, self.fingerprint)

    def key_for_protected(self, protected: Protected) -> bytes | None:
        """The memory key of a protected value, or None when there is nothing for an engine: an empty body, or one
        without a word outside its protected spans (a box answer "[0.53, 0.2, 0.91, 0.98]", a count "22", an option
        letter "D"), which stays byte for byte as it is instead of being sent, paid for, and judged "untranslated"."""
        if not protected.needs_translation:
            return None
        if all(span.restore == span.source for span in protected.spans) and not _WORD.search(
            self.protector.style.pattern.sub("", protected.body)
        ):
            return None
        return self.key_for(protected.body)

    def is_template(self, key: bytes) -> bool:
        return key in self._template_keys

    def template_text(self, key: bytes) -> str:
        return self.templates[self._template_keys[key]]

    def prepare(self, item: SourceItem) -> PreparedRecord:
        if item.error is not None:  # unparseable; a JSON null record is parsed, and rejected as not an object
            return PreparedRecord(item, [Reason("invalid_json", "", item.error)], [])
        problems = validate(item.record)
        if problems:
            return PreparedRecord(item, problems, [])
        fields = []
        cache = self._protected_cache
        for fpath, role, value in translatable_fields(item.record):
            hit = cache.get(value)
            if hit is None:
                protected = self.protector.protect(value)
                hit = (protected, self.key_for_protected(protected))
                if len(cache) >= CACHE_SIZE:
                    cache.clear()
                cache[value] = hit
            fields.append(PreparedField(fpath, role, value, hit[0], hit[1]))
        return PreparedRecord(item, [], fields)

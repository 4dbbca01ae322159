"""Record-level checks: what only shows across the turns of one record.

- ``swapped_turns``: two answers (same role) fit each other's source better than their own, by length, sentence
  count, numbers and kept Latin names. An engine that gets a whole conversation (DeepL, an LLM) can return the answers
  in the wrong order; each answer on its own still reads as fine Korean.
- ``record_speech_level``: the turns of one role use different speech-level groups (one answer in 합쇼체, the next
  in 반말). Korean only.

A record check is a `Check` with `__call__(turns) -> [(turn index, detail)]`; `QualityChecker.inspect_record` runs
the enabled ones.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from translate.qc.base import Check, Target, Turn
from translate.qc.sentence_align import output_units, source_units
from translate.qc.speech_level import KOREAN_NAMES, POLITE, turn_levels
from translate.qc.text import numbers

_NAMES = re.compile(r"\b[A-Z][A-Za-z0-9-]+|\b[A-Za-z]*\d[A-Za-z0-9-]*")


class RecordCheck(Check):
    def __call__(self, turns: list[Turn]) -> list[tuple[int, str]]:  # type: ignore[override]
        raise NotImplementedError


def _anchors(text: str) -> set[str]:
    return set(numbers(text)) | set(_NAMES.findall(text))


class SwappedTurns(RecordCheck):
    """Two turns of the same role whose outputs fit the other's source better than their own."""

    name = "swapped_turns"
    # `margin`: how much better (in cost units: |ln length-ratio deviation| + 1 per anchor or sentence that does
    # not match) the swapped pairing must fit. `min_chars`: shorter sources are not compared.
    defaults = {"margin": 0.8, "min_chars": 10}

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.margin = float(options["margin"])
        self.min_chars = int(options["min_chars"])

    def __call__(self, turns: list[Turn]) -> list[tuple[int, str]]:
        by_role: dict[str, list[int]] = {}
        for i, t in enumerate(turns):
            if len(t.source) >= self.min_chars and t.output:
                by_role.setdefault(t.role, []).append(i)
        found: list[tuple[int, str]] = []
        for role, idx in by_role.items():
            if len(idx) < 2:
                continue
            c = sum(len(turns[i].output) for i in idx) / max(sum(len(turns[i].source) for i in idx), 1)
            if c <= 0:
                continue
            info = {i: (_anchors(turns[i].source), _anchors(turns[i].output), len(source_units(turns[i])),
                        len(output_units(turns[i]))) for i in idx}

            def cost(s: int, o: int) -> float:
                a_src, _, n_src, _ = info[s]
                _, a_out, _, n_out = info[o]
                ratio = len(turns[o].output) / (len(turns[s].source) * c)
                return abs(math.log(ratio)) + len(a_src ^ a_out) + abs(n_src - n_out) * 0.5

            done: set[int] = set()
            for x, i in enumerate(idx):
                for j in idx[x + 1:]:
                    if i in done or j in done:
                        continue
                    gain = cost(i, i) + cost(j, j) - cost(i, j) - cost(j, i)
                    if gain > self.margin:
                        done.update((i, j))
                        found.append((i, f"turns {i + 1} and {j + 1} ({role}) fit each other's source better "
                                         f"than their own (by {gain:.1f}): answers swapped?"))
                        found.append((j, f"turns {j + 1} and {i + 1} ({role}) fit each other's source better "
                                         f"than their own (by {gain:.1f}): answers swapped?"))
        return found


class RecordSpeechLevel(RecordCheck):
    """Korean turns of one role in different speech-level groups (polite 합쇼체/해요체 vs plain 해라체/반말)."""

    name = "record_speech_level"
    # `tolerance`: the share of classified sentences in the minority group (over the record's turns of one role).
    defaults = {"tolerance": 0.0}

    @classmethod
    def enabled_for(cls, target: Target) -> bool:
        return target.family == "ko"

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.active = target.family == "ko"
        self.tolerance = float(options["tolerance"])

    def __call__(self, turns: list[Turn]) -> list[tuple[int, str]]:
        if not self.active:
            return []
        groups: dict[str, dict[int, bool]] = {}
        for i, t in enumerate(turns):
            found: Counter = turn_levels(t)
            if not found:
                continue
            polite = sum(n for k, n in found.items() if k in POLITE)
            plain = sum(found.values()) - polite
            if polite and plain:
                continue  # a mixed turn is the turn check's finding
            groups.setdefault(t.role, {})[i] = polite > 0
        out: list[tuple[int, str]] = []
        for role, turn_groups in groups.items():
            polite_turns = [i for i, p in turn_groups.items() if p]
            plain_turns = [i for i, p in turn_groups.items() if not p]
            if not polite_turns or not plain_turns:
                continue
            minority = plain_turns if len(plain_turns) <= len(polite_turns) else polite_turns
            if len(minority) / len(turn_groups) <= self.tolerance:
                continue
            kind = "plain (해라체/반말)" if minority is plain_turns else "polite (합쇼체/해요체)"
            for i in minority:
                levels = ", ".join(f"{KOREAN_NAMES[k]} {n}" for k, n in turn_levels(turns[i]).most_common())
                out.append((i, f"{role} turn {i + 1} is {kind} ({levels}) where the record's other {role} turns "
                               "are not"))
        return out

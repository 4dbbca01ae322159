"""Sentence alignment per turn: a dropped, added or merged sentence or list item.

Both sides are cut into sentence units (`translate.qc.units.units`: sentences, list items, lines; Korean endings
다. 요. 니다. included) and aligned with a Gale–Church dynamic programme on character lengths. The expected
target/source length ratio is the turn's own (so a wordy or terse translator is not penalised), and the spread is
measured on the hand-translated fixtures. Beads: 1-1, 2-1 and 1-2 (a translator merging or splitting sentences, which
is fine), 2-2, and 1-0 / 0-1 (a sentence with nothing on the other side: dropped or invented). A turn fails when the
best alignment needs a 1-0 or 0-1 bead for a unit of at least `min_unit_chars`, or pairs two units whose lengths
differ beyond `max_pair_ratio` from the turn's ratio. Unlike Gale–Church, a 1-0 / 0-1 bead costs only its prior:
with the turn's own ratio the lengths cannot tell a deletion apart from a merge, but a merge needs a connective
(see `_KO_LINK`).
"""

from __future__ import annotations

import math
import re
from typing import Any

from translate.qc.base import Check, Target, Turn
from translate.qc.units import units

# Bead priors (Gale & Church 1993): -log P(bead).
_BEADS = ((1, 1, -math.log(0.89)), (2, 1, -math.log(0.0445)), (1, 2, -math.log(0.0445)),
          (2, 2, -math.log(0.011)), (1, 0, -math.log(0.0099)), (0, 1, -math.log(0.0099)))


def source_units(turn: Turn) -> list[str]:
    return turn.source_memo("units", lambda: units(turn.source))


def output_units(turn: Turn) -> list[str]:
    return turn.memo("units", lambda: units(turn.output))


def _match_cost(ls: int, lt: int, c: float, s2: float) -> float:
    """-log P(length lt | length ls): the two-tailed normal tail of the standardised length difference."""
    delta = (lt - ls * c) / math.sqrt(max(ls, 1) * s2)
    p = math.erfc(abs(delta) / math.sqrt(2))
    return -math.log(max(p, 1e-12))


# A Korean sentence that joins two English ones carries a clause connective (…며, …고, …지만, …는데, a comma);
# an English sentence split in two carries a conjunction or a comma. A merge or split without one costs `unlinked`.
_KO_LINK = re.compile(r"(?:며|지만|는데|은데|인데|면서|므로|니까|어서|아서|여서|해서|고(?! 있| 계| 싶))[ ,]|,")
_EN_LINK = re.compile(r",|;|:| (?:and|but|while|which|who|where|so|because|as|with|whereas) ")


def align(src: list[int], out: list[int], c: float, s2: float,
          merge_cost=None) -> list[tuple[int, int, int, int]]:
    """The cheapest bead sequence as (source start, source count, output start, output count). `merge_cost(i, di,
    j, dj)` adds a cost to 2-1 and 1-2 beads."""
    n, m = len(src), len(out)
    inf = float("inf")
    cost = [[inf] * (m + 1) for _ in range(n + 1)]
    back: list[list[tuple[int, int] | None]] = [[None] * (m + 1) for _ in range(n + 1)]
    cost[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            here = cost[i][j]
            if here == inf:
                continue
            for di, dj, prior in _BEADS:
                a, b = i + di, j + dj
                if a > n or b > m:
                    continue
                if di and dj:
                    step = prior + _match_cost(sum(src[i:a]), sum(out[j:b]), c, s2)
                    if merge_cost is not None and di != dj:
                        step += merge_cost(i, di, j, dj)
                else:
                    step = prior  # a unit without counterpart: its length says nothing more
                if here + step < cost[a][b]:
                    cost[a][b] = here + step
                    back[a][b] = (di, dj)
    beads = []
    i, j = n, m
    while i or j:
        di, dj = back[i][j]
        i, j = i - di, j - dj
        beads.append((i, di, j, dj))
    beads.reverse()
    return beads


class SentenceAlignment(Check):
    """A sentence or list item dropped, invented or merged away; an aligned pair of wildly different lengths."""

    name = "sentence_alignment"
    # `variance`: the Gale–Church spread of target length per source character, measured on the fixtures (ko
    # output/source ratios per aligned sentence). `min_source_unit_chars` / `min_unit_chars`: a dropped source
    # unit or an invented translated unit shorter than this is ignored ("Yes." / "네."). `max_pair_ratio`: an aligned 1-1 pair whose ratio differs
    # from the turn's by more than this factor fails (source units of `min_pair_chars` or more).
    # `unlinked`: the extra cost of a merge (2-1) or split (1-2) without a connective.
    # `ratio`: the typical target/source character ratio of the language (Korean: 0.47, median of the parallel
    # fixture); 0 = the turn's own ratio alone.
    defaults = {"ratio": 0.0, "variance": 0.5, "min_unit_chars": 12, "min_source_unit_chars": 15, "max_pair_ratio": 2.0, "min_pair_chars": 30,
                "unlinked": 4.0}

    @classmethod
    def defaults_for(cls, target: Target) -> dict[str, Any]:
        values = dict(cls.defaults)
        if target.family in ("ko", "ja", "zh"):
            values["min_unit_chars"] = 8  # Hangul and Han carry more per character
        if target.family == "ko":
            values["ratio"] = 0.47
        return values

    def __init__(self, target: Target, options: dict[str, Any]):
        super().__init__(target, options)
        self.s2 = float(options["variance"])
        self.min_unit = int(options["min_unit_chars"])
        self.min_source_unit = int(options["min_source_unit_chars"])
        self.max_pair = float(options["max_pair_ratio"])
        self.min_pair = int(options["min_pair_chars"])
        self.unlinked = float(options["unlinked"])
        self.prior = float(options["ratio"])

    def __call__(self, turn: Turn) -> str | None:
        if not turn.reads_as_target():
            return None
        src, out = source_units(turn), output_units(turn)
        if len(src) <= 1 and len(out) <= 1:
            return None
        ls = [len(s) for s in src]
        lt = [len(t) for t in out]
        c = sum(lt) / max(sum(ls), 1)
        if len(src) == len(out):
            return self._pairs(src, out, ls, lt, c)
        if self.prior and c > 0:
            # A dropped sentence lowers the turn's own ratio and so hides itself: lean on the language's typical
            # ratio as well (geometric mean).
            c = math.sqrt(c * self.prior)
        def merge_cost(i: int, di: int, j: int, dj: int) -> float:
            if di == 2:  # two source sentences in one translated sentence
                return 0.0 if _KO_LINK.search(out[j]) else self.unlinked
            return 0.0 if _EN_LINK.search(src[i]) else self.unlinked

        for i, di, j, dj in align(ls, lt, c, self.s2, merge_cost):
            if di == 1 and dj == 0 and ls[i] >= self.min_source_unit:
                return (f"source sentence {i + 1} of {len(src)} has no counterpart in the translation "
                        f"({len(out)} sentences): {src[i][:60]!r}")
            if di == 0 and dj == 1 and lt[j] >= self.min_unit:
                return (f"translation sentence {j + 1} of {len(out)} has no counterpart in the source "
                        f"({len(src)} sentences): {out[j][:60]!r}")
        return None

    def _pairs(self, src: list[str], out: list[str], ls: list[int], lt: list[int], c: float) -> str | None:
        if c <= 0:
            return None
        for i, (a, b) in enumerate(zip(ls, lt)):
            if a < self.min_pair:
                continue
            rel = b / (a * c)
            if rel > self.max_pair or rel * self.max_pair < 1:
                return (f"sentence {i + 1} of {len(src)}: {b}/{a} chars is {rel:.1f}x the turn's ratio "
                        f"({src[i][:40]!r} → {out[i][:40]!r})")
        return None

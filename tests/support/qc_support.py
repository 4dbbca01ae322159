"""The Korean parallel fixture, its corrupted variants, and precision/recall of the quality checks on them.

tests/fixtures/parallel_ko holds English turns from LLaVA's own data with Korean translations written by hand
(see its README). Every corruption here imitates a failure seen from machine translation: English left in, a lost
``<image>``, a decoding loop, a cut-off output, the wrong language, a changed number, an empty turn.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "parallel_ko"

# Which reason codes rightly fire on each kind of corruption; the first is the one the kind is about.
# The meaning-level codes are right on a corrupted turn too when it really lost what they look for (a sentence, a
# negation, a name).
KINDS: dict[str, tuple[str, ...]] = {
    "english_left": ("untranslated", "wrong_script", "length_ratio", "english_left", "negation",
                     "sentence_alignment"),
    "image_lost": ("image_token",),
    "repetition": ("repetition", "length_ratio", "truncated", "sentence_alignment", "negation"),
    "truncation": ("truncated", "length_ratio", "sentence_alignment", "negation"),
    "wrong_language": ("wrong_script", "length_ratio", "english_left", "negation", "sentence_alignment"),
    "number_changed": ("number_mismatch", "anchor_mismatch"),
    "empty": ("empty_output",),
}
PER_KIND = 20  # at most this many samples per kind, spread evenly over the turns where the kind applies


@dataclass(frozen=True)
class Turn:
    id: str
    turn: int
    role: str
    source: str
    output: str


@dataclass(frozen=True)
class Sample:
    kind: str | None  # None: the clean translation
    turn: Turn
    output: str


def load_records() -> tuple[list[dict], list[dict]]:
    en = json.loads((FIXTURE / "en.json").read_text(encoding="utf-8"))
    ko = json.loads((FIXTURE / "ko.json").read_text(encoding="utf-8"))
    return en, ko


def load_turns() -> list[Turn]:
    en, ko = load_records()
    turns = []
    for e, k in zip(en, ko):
        for i, (te, tk) in enumerate(zip(e["conversations"], k["conversations"])):
            turns.append(Turn(e["id"], i, te["from"], te["value"], tk["value"]))
    return turns


def _shell(value: str) -> tuple[str, str, str]:
    prefix = "<image>\n" if value.startswith("<image>\n") else ""
    suffix = "\n<image>" if value.endswith("\n<image>") else ""
    return prefix, value[len(prefix): len(value) - len(suffix)], suffix


def _english_left(t: Turn, n: int) -> str | None:
    if len(t.source.split()) < 3:
        return None
    if n % 3 == 0:
        return t.source  # the backend echoed its input
    prefix, ko_body, suffix = _shell(t.output)
    _, en_body, _ = _shell(t.source)
    ko_sents = re.split(r"(?<=[.!?])\s+", ko_body)
    en_sents = re.split(r"(?<=[.!?])\s+", en_body)
    if len(ko_sents) < 2 or len(en_sents) < 2:
        return t.source
    if n % 3 == 1:  # only the first sentence translated
        return prefix + ko_sents[0] + " " + " ".join(en_sents[1:]) + suffix
    return prefix + " ".join(ko_sents[:-1]) + " " + en_sents[-1] + suffix  # one sentence left in English


def _image_lost(t: Turn, n: int) -> str | None:
    if "<image>" not in t.output:
        return None
    return t.output.replace("<image>\n", "").replace("\n<image>", "")


def _repetition(t: Turn, n: int) -> str | None:
    prefix, body, suffix = _shell(t.output)
    words = body.split()
    if len(words) < 3:
        return None
    if n % 2 == 0:  # the decoder falls into a loop of a few words and runs to the length limit
        head = words[: max(2, int(len(words) * 0.4))]
        loop = " ".join(head[-2:])
        return prefix + " ".join(head) + (" " + loop) * 12 + suffix
    first = re.split(r"(?<=[.!?])\s+", body)[0]  # one sentence, over and over
    return prefix + " ".join([first] * 6) + suffix


def _truncation(t: Turn, n: int) -> str | None:
    prefix, body, suffix = _shell(t.output)
    src = _shell(t.source)[1].rstrip()
    if len(src) < 20 or src[-1] not in ".!?" or len(body.split()) < 4:
        return None
    cut = body.rfind(" ", 0, int(len(body) * 0.55))
    while cut > 0 and body[cut - 1] in ".!?":
        cut = body.find(" ", cut + 1)
    if cut <= 0:
        return None
    return prefix + body[:cut].rstrip(" ,") + suffix


def _number_changed(t: Turn, n: int) -> str | None:
    in_source = set(re.findall(r"\d+", t.source))
    match = next((m for m in re.finditer(r"\d+", t.output) if m.group(0) in in_source), None)
    if match is None:
        return None  # only numbers the source has can be checked
    digits = match.group(0)
    changed = digits[:-1] + str((int(digits[-1]) + 1) % 10)
    return t.output[: match.start()] + changed + t.output[match.end():]


def _empty(t: Turn, n: int) -> str | None:
    prefix, _, suffix = _shell(t.output)
    return prefix + suffix if n % 2 == 0 else prefix + "  " + suffix


def _wrong_language_table() -> dict[tuple[str, int], str]:
    rows = json.loads((FIXTURE / "wrong_language.json").read_text(encoding="utf-8"))
    return {(r["id"], r["turn"]): r["value"] for r in rows}


MAKERS = {
    "english_left": _english_left,
    "image_lost": _image_lost,
    "repetition": _repetition,
    "truncation": _truncation,
    "number_changed": _number_changed,
    "empty": _empty,
}


def corrupted(turns: list[Turn] | None = None) -> list[Sample]:
    """Every kind of corruption, at most PER_KIND samples each, deterministically chosen."""
    turns = turns if turns is not None else load_turns()
    samples: list[Sample] = []
    for kind, make in MAKERS.items():
        applicable = [(t, out) for n, t in enumerate(turns) if (out := make(t, n)) is not None]
        step = max(1, len(applicable) / PER_KIND)
        chosen = [applicable[int(i * step)] for i in range(min(PER_KIND, len(applicable)))]
        samples.extend(Sample(kind, t, out) for t, out in chosen)
    wrong = _wrong_language_table()
    by_key = {(t.id, t.turn): t for t in turns}
    samples.extend(Sample("wrong_language", by_key[key], value) for key, value in wrong.items())
    return samples


def all_samples() -> list[Sample]:
    turns = load_turns()
    return [Sample(None, t, t.output) for t in turns] + corrupted(turns)


def evaluate(checker, samples: list[Sample] | None = None) -> dict:
    """Precision and recall of `checker` on the clean and corrupted samples.

    A sample is *flagged* when any reason fires. Record-level: precision = corrupted flagged / all flagged, recall =
    corrupted flagged / corrupted. Per reason code: a firing is right when the code is one the sample's kind allows
    (nothing is allowed on a clean turn). Per kind: recall of any flag, and of the kind's own code.
    """
    samples = samples if samples is not None else all_samples()
    fired: Counter = Counter()
    right: Counter = Counter()
    kind_n: Counter = Counter()
    kind_flagged: Counter = Counter()
    kind_primary: Counter = Counter()
    false_alarms: list[tuple[str, int, list[str]]] = []
    misses: list[tuple[str, str, int]] = []
    tp = fp = 0
    for s in samples:
        field = f"conversations[{s.turn.turn}].value"
        codes = {r.code for r in checker.check_turn(s.turn.source, s.output, s.turn.role, field)}
        allowed = set(KINDS[s.kind]) if s.kind else set()
        for code in codes:
            fired[code] += 1
            right[code] += code in allowed
        if s.kind is None:
            if codes:
                fp += 1
                false_alarms.append((s.turn.id, s.turn.turn, sorted(codes)))
            continue
        kind_n[s.kind] += 1
        if codes:
            tp += 1
            kind_flagged[s.kind] += 1
        else:
            misses.append((s.kind, s.turn.id, s.turn.turn))
        kind_primary[s.kind] += KINDS[s.kind][0] in codes
    corrupted_n = sum(kind_n.values())
    return {
        "samples": len(samples),
        "clean": len(samples) - corrupted_n,
        "corrupted": corrupted_n,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / corrupted_n if corrupted_n else 1.0,
        "false_alarms": false_alarms,
        "misses": misses,
        "per_kind": {k: {"n": kind_n[k], "recall": kind_flagged[k] / kind_n[k],
                         "own_code_recall": kind_primary[k] / kind_n[k]} for k in KINDS if kind_n[k]},
        "per_code": {c: {"fired": fired[c], "precision": right[c] / fired[c]} for c in sorted(fired)},
    }


def format_evaluation(result: dict) -> str:
    lines = [f"samples: {result['samples']} ({result['clean']} clean turns, {result['corrupted']} corrupted)",
             f"record-level precision {result['precision']:.3f}, recall {result['recall']:.3f}",
             "", f"{'kind':16} {'n':>4} {'recall':>7} {'own code':>9}"]
    for kind, m in result["per_kind"].items():
        lines.append(f"{kind:16} {m['n']:>4} {m['recall']:>7.2f} {m['own_code_recall']:>9.2f}  ({KINDS[kind][0]})")
    lines += ["", f"{'code':16} {'fired':>6} {'precision':>9}"]
    for code, m in result["per_code"].items():
        lines.append(f"{code:16} {m['fired']:>6} {m['precision']:>9.2f}")
    if result["false_alarms"]:
        lines += ["", "false alarms on clean turns: " + ", ".join(f"{i}#{t} {c}" for i, t, c in result["false_alarms"])]
    if result["misses"]:
        lines += ["", "missed: " + ", ".join(f"{k} {i}#{t}" for k, i, t in result["misses"])]
    return "\n".join(lines)


def corrupted_file() -> tuple[list[dict], dict[str, str]]:
    """A whole translated file with one corruption in most records and one record missing, plus the truth:
    {id: kind | "clean" | "missing"}. `check` must flag exactly the corrupted and missing ids."""
    en, ko = load_records()
    turns = load_turns()
    samples = corrupted(turns)
    by_record: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_record[s.turn.id].append(s)
    kinds = list(KINDS)
    out: list[dict] = []
    labels: dict[str, str] = {}
    for n, record in enumerate(ko):
        rid = record["id"]
        if n == 5:
            labels[rid] = "missing"
            continue
        if n % 4 == 3:
            labels[rid] = "clean"
            out.append(record)
            continue
        wanted = kinds[n % len(kinds)]
        options = by_record.get(rid, [])
        pick = next((s for s in options if s.kind == wanted), options[n % len(options)] if options else None)
        if pick is None:
            labels[rid] = "clean"
            out.append(record)
            continue
        convs = [dict(t) for t in record["conversations"]]
        convs[pick.turn.turn]["value"] = pick.output
        out.append(dict(record, conversations=convs))
        labels[rid] = pick.kind
    return out, labels



from translate.backends.base import Backend  # noqa: E402


class ReverseDictionaryBackend(Backend):
    """Translates back from a fixed table (Korean output → English), for round-trip QE tests: the hand translations
    of the parallel fixture come back as their English sources exactly. A text not in the table comes back as None,
    as from a backend that gave up on it. The tests register it through an entry point, as a plug-in would be."""

    name = "reverse-dictionary"
    max_batch_texts = 8  # small, so a window goes out in several batches

    def __init__(self, source_lang: str, target_lang: str, table: dict[str, str] | None = None):
        super().__init__(source_lang, target_lang)
        self.table = dict(table or {})
        self.batches: list[list[str]] = []

    def translate(self, texts):
        self.batches.append(list(texts))
        return [self.table.get(t) for t in texts]

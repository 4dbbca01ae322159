"""Where each LLaVA file comes from, and what is known about its terms, for the dataset card.

A translation is a derivative of its source, so the card inherits the source's licence. What is written here is
only what the source datasets state; where they state no single licence, or where the file is unknown, the card says
``other`` and explains, and the publisher decides (``--license``). This table is not legal advice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceInfo:
    dataset: str | None  # Hugging Face dataset id of the source, when known
    license: str  # a Hub licence id, or "other"
    note: str


INSTRUCT = SourceInfo(
    "liuhaotian/LLaVA-Instruct-150K", "cc-by-4.0",
    "LLaVA-Instruct-150K is released under CC BY 4.0, and its card adds that use should also abide by OpenAI's "
    "terms of use, since the conversations were generated with GPT-4. The COCO images are not part of it.")
MIX665K = SourceInfo(
    "liuhaotian/LLaVA-Instruct-150K", "other",
    "llava_v1_5_mix665k.json mixes LLaVA-Instruct (CC BY 4.0, plus OpenAI's terms of use) with records derived "
    "from VQAv2, GQA, OCR-VQA, TextVQA, Visual Genome, RefCOCO and ShareGPT, each under its own terms; no single "
    "licence covers the mixture. Check each part before redistributing.")
PRETRAIN = SourceInfo(
    "liuhaotian/LLaVA-Pretrain", "other",
    "BLIP-generated captions of images from LAION, Conceptual Captions and SBU. The source card refers users to the "
    "terms of those datasets and of BLIP rather than to one licence; check them before redistributing.")
CC3M = SourceInfo(
    "liuhaotian/LLaVA-CC3M-Pretrain-595K", "other",
    "A filtered subset of Conceptual Captions (CC-3M); use must comply with CC-3M's terms, as the source card says.")
BENCH = SourceInfo(
    "liuhaotian/llava-bench-in-the-wild", "other",
    "LLaVA-Bench (In-the-Wild): this tool does not know its licence; the reference answers were written by GPT-4 "
    "(OpenAI's terms of use). Check the source card.")
UNKNOWN = SourceInfo(None, "other", "This file's source is not known to llava-translate: state its licence with "
                                    "--license and describe where it comes from.")

BY_NAME: dict[str, SourceInfo] = {
    "llava_instruct_150k.json": INSTRUCT, "llava_instruct_80k.json": INSTRUCT, "conversation_58k.json": INSTRUCT,
    "detail_23k.json": INSTRUCT, "complex_reasoning_77k.json": INSTRUCT, "llava_v1_5_mix665k.json": MIX665K,
    "blip_laion_cc_sbu_558k.json": PRETRAIN, "chat.json": CC3M, "questions.jsonl": BENCH,
    "answers_gpt4.jsonl": BENCH, "context.jsonl": BENCH,
}

# Terms of the engines themselves, where they are known and may matter to a publisher.
BACKEND_NOTES = {
    "nllb": "The NLLB-200 model weights are released by Meta under CC BY-NC 4.0; whether that reaches the "
            "translations it produces is for the publisher to judge.",
    "deepl": "Translated with DeepL's API under the account holder's DeepL terms.",
    "google": "Translated through googletrans, an unofficial client of Google Translate's web endpoint.",
    "pseudo": "Made with the `pseudo` backend: deterministic pseudo-Korean for testing, not a translation.",
}


def source_info(file_name: str) -> SourceInfo:
    """What is known about a source file, by its name (LLaVA-Bench files may carry a ``llava_bench_`` prefix)."""
    if file_name in BY_NAME:
        return BY_NAME[file_name]
    if file_name.startswith("llava_bench") or file_name.startswith("llava-bench"):
        return BENCH
    return UNKNOWN


def combined_license(infos: list[SourceInfo]) -> str:
    """One licence for the card's metadata: the files' common licence, else ``other``."""
    licenses = {info.license for info in infos}
    return licenses.pop() if len(licenses) == 1 else "other"

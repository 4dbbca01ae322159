"""Helpers for the glossary tests: small glossary folders written from rows, and a defective one for lint."""

from __future__ import annotations

import json
from pathlib import Path

from translate.glossary import DNT_FILE, TEMPLATES_FILE, TERMS_FILE
from conftest import run_main  # noqa: F401  (re-exported for the tests that import it from here)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "glossaries" / "ko"


def write_tsv(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def make_glossary(folder: Path, terms: list[str] = (), dnt: list[str] = (), templates: list[str] = ()) -> Path:
    """Rows are tab-separated strings; headers are the canonical ones."""
    write_tsv(folder / TERMS_FILE, "source\ttarget\tcase_sensitive\treading\tnote", list(terms))
    write_tsv(folder / DNT_FILE, "text\treading\tnote", list(dnt))
    write_tsv(folder / TEMPLATES_FILE, "source\ttarget\tset\tnote", list(templates))
    return folder


# Each defect on its own line; DEFECTS maps (file, line) to the lint code it must raise. Line 1 is the header.
DEFECTIVE_TERMS = [
    "fire hydrant\t소화전\tno",  # 2 fine
    "fire hydrant\t소화전\tno",  # 3 duplicate of 2
    "hot dog\t핫도그\tno",  # 4 fine
    "hot dog\t뜨거운 개\tno",  # 5 conflict with 4
    " teddy bear\t곰 인형\tno",  # 6 leading whitespace: never matches
    "Stop Sign\t정지 표지판\tyes",  # 7 fine alone ...
    "stop sign\t일시 정지 표지판\tno",  # 8 ... but this case-insensitive one competes with 7
    "laptop\tnotebook\tno",  # 9 target not in Hangul
    "kite\tカイト\tno",  # 10 target in katakana
    "LLaVA\t라바\tno",  # 11 shadowed by the dnt span LLaVA
    "wifi router\t와이파이 router\tno",  # 12 warning: ends in a Latin word without a reading
    "gpu box\tGPU 상자\tno\tGPU",  # 13 reading not in Hangul
    "frisbee\t프리스비\tmaybe",  # 14 bad case_sensitive value
    "skateboard\t스케이트보드\tno\t\tnote\textra",  # 15 a stray tab: too many cells
    "\t서프보드\tno",  # 16 empty source
    "surfboard\t서프보드  \tno",  # 17 trailing whitespace in the target
]
DEFECTIVE_DNT = [
    "LLaVA\t라바",  # 2 fine
    "LLaVA\t라바",  # 3 duplicate
    "CLIP \t클립",  # 4 trailing whitespace
    "BLIP\tblip",  # 5 reading not in Hangul
]
DEFECTIVE_TEMPLATES = [
    "Describe the image concisely.\t이미지를 간결하게 설명해 주세요.\tblip",  # 2 fine
    "Describe the image concisely.\t이미지를 간결하게 설명해 주세요.\tblip",  # 3 duplicate
    "What is this?\t이것은 무엇인가요?\tblip",  # 4 fine
    "What is this?\t이건 뭐예요?\tblip",  # 5 conflict
    "<image>\nWhat is in the photo?\t사진에 무엇이 있나요?\tblip",  # a line break: 6 has no target, 7 is fine
    "Describe the fire hydrant.\t그 물건을 설명해 주세요.\tx",  # 8 source holds a term the target lacks
    "Summarize  the image.\t이미지를 요약해 주세요.\tx",  # 9 double space: never matches
    "Describe <image> here.\t여기 <image>를 설명해 주세요.\tx",  # 10 <image> inside
    "Describe it.\tDescribe it.\tx",  # 11 target not Korean
]
DEFECTS = {
    (TERMS_FILE, 3): "duplicate",
    (TERMS_FILE, 5): "conflict",
    (TERMS_FILE, 6): "whitespace",
    (TERMS_FILE, 8): "case",
    (TERMS_FILE, 9): "script",
    (TERMS_FILE, 10): "script",
    (TERMS_FILE, 11): "shadowed",
    (TERMS_FILE, 12): "no-reading",
    (TERMS_FILE, 13): "reading",
    (TERMS_FILE, 14): "case_sensitive",
    (TERMS_FILE, 15): "columns",
    (TERMS_FILE, 16): "empty",
    (TERMS_FILE, 17): "whitespace",
    (DNT_FILE, 3): "duplicate",
    (DNT_FILE, 4): "whitespace",
    (DNT_FILE, 5): "reading",
    (TEMPLATES_FILE, 3): "duplicate",
    (TEMPLATES_FILE, 5): "conflict",
    (TEMPLATES_FILE, 6): "empty",
    (TEMPLATES_FILE, 8): "template-span",
    (TEMPLATES_FILE, 9): "whitespace",
    (TEMPLATES_FILE, 10): "image",
    (TEMPLATES_FILE, 11): "script",
}


def make_defective(folder: Path) -> Path:
    return make_glossary(folder, DEFECTIVE_TERMS, DEFECTIVE_DNT, DEFECTIVE_TEMPLATES)


def write_records(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def conv(rid: str, human: str, gpt: str) -> dict:
    return {"id": rid, "image": f"{rid}.jpg",
            "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]}



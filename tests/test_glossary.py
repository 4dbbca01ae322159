"""glossary.py: loading, lint, the protector and templates it builds, coverage, and its use in a run."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from glossary_support import (
    DEFECTS,
    SHIPPED,
    conv,
    make_defective,
    make_glossary,
    write_records,
)
from translate.backends.base import Backend
from translate.backends.pseudo import PseudoBackend, pseudo_localise
from translate.config import RunConfig
from translate.glossary import (
    Glossary,
    GlossaryError,
    coverage,
    find_glossary_dir,
    lint,
    protection_for_run,
)
from translate.memory import TranslationMemory
from translate.protect import BRACKETS, XML_KEEP, SpanLost

# LLaVA's detailed-description prompts (paper, Table 9; llava/eval code), verbatim.
LLAVA_DETAIL = [
    "Describe the following image in detail.",
    "Provide a detailed description of the given image.",
    "Give an elaborate explanation of the image you see.",
    "Share a comprehensive rundown of the presented image.",
    "Offer a thorough analysis of the image.",
    "Explain the various aspects of the image before you.",
    "Clarify the contents of the displayed image with great detail.",
    "Characterize the image using a well-detailed description.",
    "Break down the elements of the image in a detailed manner.",
    "Walk through the important details of the image.",
    "Portray the image with a rich, descriptive narrative.",
    "Narrate the contents of the image with precision.",
    "Analyze the image in a comprehensive and detailed manner.",
    "Illustrate the image through a descriptive explanation.",
    "Examine the image closely and share its details.",
    "Write an exhaustive depiction of the given image.",
]


@pytest.fixture(scope="module")
def shipped() -> Glossary:
    return Glossary.load(SHIPPED)


# -- the shipped glossary ------------------------------------------------------------------------------------------

def test_shipped_glossary_lints_clean(shipped):
    assert lint(shipped) == []
    assert len(shipped.terms) >= 20 and len(shipped.dnt) >= 10 and len(shipped.templates) >= 40


def test_shipped_templates_cover_every_blip_prompt(shipped, blip_excerpt):
    protector = shipped.protector()
    templates = shipped.template_map(protector)
    records = json.loads(blip_excerpt.read_text(encoding="utf-8"))
    bodies = {protector.protect(r["conversations"][0]["value"]).body for r in records}
    assert len(bodies) == 11  # the 11 brief-caption templates of the BLIP subset
    assert bodies <= set(templates)
    for body in bodies:
        target = templates[body]
        assert re.search(r"[가-힣]", target) and target[-1] in ".?"
        assert "<image>" not in target


def test_shipped_templates_hold_llava_detail_prompts(shipped):
    sources = {t.source for t in shipped.templates}
    assert set(LLAVA_DETAIL) <= sources


def test_template_keeps_image_token_position(shipped, blip_excerpt, tmp_path):
    """Both layouts ("<image>\\nPrompt" and "Prompt\\n<image>") resolve to the same curated text, token kept."""
    protector = shipped.protector()
    templates = shipped.template_map(protector)
    for value in ("<image>\nWhat is this?", "What is this?\n<image>"):
        p = protector.protect(value)
        restored = protector.restore(p, templates[p.body])
        assert restored.count("<image>") == 1
        assert restored.startswith("<image>\n") == value.startswith("<image>")
        assert "이것은 무엇인가요?" in restored


# -- loading -------------------------------------------------------------------------------------------------------

def test_load_reads_columns_in_any_order_and_skips_comments(tmp_path):
    folder = tmp_path / "ko"
    folder.mkdir()
    (folder / "terms.tsv").write_text("# comment\n\nnote\ttarget\tsource\nN\t소화전\tfire hydrant\n", encoding="utf-8")
    g = Glossary.load(folder)
    assert [(t.source, t.target, t.note, t.case_sensitive, t.line) for t in g.terms] == [
        ("fire hydrant", "소화전", "N", False, 4)]
    assert g.dnt == [] and g.templates == [] and g.lang == "ko"


def test_strict_load_names_file_and_line(tmp_path):
    folder = make_glossary(tmp_path / "ko", terms=["kite\t연\tmaybe"])
    with pytest.raises(GlossaryError, match=r"terms\.tsv:2: error: case_sensitive"):
        Glossary.load(folder)


def test_bad_header_is_an_error(tmp_path):
    folder = tmp_path / "ko"
    folder.mkdir()
    (folder / "terms.tsv").write_text("source\ttranslation\nkite\t연\n", encoding="utf-8")
    with pytest.raises(GlossaryError, match=r"terms\.tsv:1: bad header.*missing column\(s\) target.*unknown"):
        Glossary.load(folder, strict=False)
    with pytest.raises(GlossaryError, match="does not exist"):
        Glossary.load(tmp_path / "nowhere")


# -- lint ----------------------------------------------------------------------------------------------------------

def test_lint_finds_each_kind_of_defect(tmp_path):
    g = Glossary.load(make_defective(tmp_path / "ko"), strict=False)
    found = {(p.file, p.line, p.code) for p in lint(g)}
    assert found == {(f, line, code) for (f, line), code in DEFECTS.items()}
    severities = {p.code: p.severity for p in lint(g)}
    assert severities["no-reading"] == "warning" and severities["conflict"] == "error"


def test_lint_passes_good_entries_and_flags_only_the_case_clash(tmp_path):
    g = Glossary.load(make_glossary(
        tmp_path / "ko",
        terms=["fire hydrant\t소화전\tno", "Fire Hydrant\t소화전\tyes", "USB port\tUSB 포트\tno",
               "wifi router\t와이파이 router\tno\t와이파이 라우터", "소화전(消火栓)\t소화전(消火栓)\tno"],
        dnt=["LLaVA\t라바", "llava\t라바"],
        templates=["Describe the fire hydrant.\t소화전을 설명해 주세요.\tx"]))
    # Line 3 differs from line 2 only in case, and line 2 is case-insensitive: the two compete for the same text.
    assert [(p.file, p.line, p.code) for p in lint(g)] == [("terms.tsv", 3, "case")]


def test_lint_case_sensitive_pair_is_fine(tmp_path):
    g = Glossary.load(make_glossary(tmp_path / "ko", terms=["Apple\t애플\tyes", "apple\t사과\tyes"]))
    assert lint(g) == []


# -- protector, particles and templates ------------------------------------------------------------------------------

@pytest.mark.parametrize("style", [BRACKETS, XML_KEEP], ids=lambda s: s.name)
def test_terms_dnt_and_particles_through_restore(shipped, style):
    protector = shipped.protector(style)
    p = protector.protect("LLaVA sees a Fire Hydrant next to CLIP and a teddy bear <im_start>.")
    kinds = [(s.kind, s.source) for s in p.spans]
    assert kinds == [("dnt", "LLaVA"), ("term", "Fire Hydrant"), ("dnt", "CLIP"), ("term", "teddy bear"),
                     ("dnt", "<im_start>")]
    r = [style.render(i, s) for i, s in enumerate(p.spans)]
    # What an engine writes: its particles are guesses, made without seeing the nouns.
    engine = f"{r[0]}가 {r[1]}를 {r[2]}와 {r[3]} 옆에서 본다{r[4]}은."
    assert protector.restore(p, engine) == "LLaVA가 소화전을 CLIP과 곰 인형 옆에서 본다<im_start>은."
    engine = f"{r[0]}이 {r[1]}으로 {r[2]}는 {r[3]}가 {r[4]}."
    assert protector.restore(p, engine) == "LLaVA가 소화전으로 CLIP은 곰 인형이 <im_start>."


def test_particle_after_term_with_reading(tmp_path):
    g = Glossary.load(make_glossary(tmp_path / "ko", terms=["wifi router\t와이파이 router\tno\t와이파이 라우터",
                                                            "pencil case\t필통\tno", "pencil\t연필\tno"]))
    pr = g.protector()
    p = pr.protect("a wifi router, a pencil and a pencil case")
    assert [s.source for s in p.spans] == ["wifi router", "pencil", "pencil case"]
    assert pr.restore(p, "⟦0⟧은, ⟦1⟧으로, ⟦2⟧로") == "와이파이 router는, 연필로, 필통으로"


def test_no_particle_hook_for_other_languages(tmp_path):
    g = Glossary.load(make_glossary(tmp_path / "ja", terms=["fire hydrant\t消火栓\tno"]))
    pr = g.protector()
    assert pr.after_span is None
    p = pr.protect("a fire hydrant")
    assert pr.restore(p, "⟦0⟧는") == "消火栓는"


def test_template_holding_a_term_gets_its_placeholder(tmp_path):
    g = Glossary.load(make_glossary(tmp_path / "ko", terms=["fire hydrant\t소화전\tno"],
                                    templates=["Describe the fire hydrant.\t소화전을 설명해 주세요.\tx"]))
    pr = g.protector()
    templates = g.template_map(pr)
    assert templates == {"Describe the ⟦0⟧.": "⟦0⟧을 설명해 주세요."}
    p = pr.protect("<image>\nDescribe the fire hydrant.")
    assert pr.restore(p, templates[p.body]) == "<image>\n소화전을 설명해 주세요."
    # With terms off (a native-glossary engine) the same template has no placeholder.
    assert g.template_map(g.protector(use_terms=False)) == {"Describe the fire hydrant.": "소화전을 설명해 주세요."}


def test_template_lacking_a_term_target_raises_on_strict_use(tmp_path):
    g = Glossary.load(make_glossary(tmp_path / "ko", terms=["fire hydrant\t소화전\tno"],
                                    templates=["Describe the fire hydrant.\t물건을 설명해 주세요.\tx"]))
    with pytest.raises(GlossaryError, match="template-span"):
        g.template_map(g.protector())


def test_span_lost_still_raised_with_the_hook(shipped):
    pr = shipped.protector()
    p = pr.protect("a fire hydrant")
    with pytest.raises(SpanLost):
        pr.restore(p, "소화전는")


# -- finding the glossary ------------------------------------------------------------------------------------------

def test_find_glossary_dir(tmp_path):
    assert find_glossary_dir("none", "ko") is None
    with pytest.raises(GlossaryError, match="no such folder"):
        find_glossary_dir(str(tmp_path / "missing"), "ko")
    explicit = make_glossary(tmp_path / "mine")
    assert find_glossary_dir(str(explicit), "ko") == explicit
    local = make_glossary(tmp_path / "glossaries" / "ko")
    assert find_glossary_dir(None, "ko", cwd=tmp_path) == local
    # No local folder: the glossary shipped with the tool.
    shipped = find_glossary_dir(None, "ko", cwd=tmp_path / "elsewhere")
    assert shipped is not None and (shipped / "templates.tsv").read_bytes() == (SHIPPED / "templates.tsv").read_bytes()
    assert find_glossary_dir(None, "xx", cwd=tmp_path) is None


# -- coverage ------------------------------------------------------------------------------------------------------

def test_coverage_counts(tmp_path):
    g = Glossary.load(make_glossary(tmp_path / "ko", terms=["fire hydrant\t소화전\tno", "teddy bear\t곰 인형\tno",
                                                            "kite\t연\tno"], dnt=["LLaVA\t라바"]))
    src = write_records(tmp_path / "src.jsonl", [
        conv("a", "<image>\nWhat is this?", "A fire hydrant and a teddy bear."),  # 2 terms
        conv("b", "<image>\nWhat is this?", "A Fire Hydrant."),  # 1 term; record rejected below
        conv("c", "Is the fire hydrant red?\n<image>", "Yes, LLaVA says the kite is red."),  # 1 + 1 terms, 1 dnt
        conv("d", "<image>\nWhat is this?", "A dog."),  # no term
    ])
    out = write_records(tmp_path / "ko_src.jsonl", [
        conv("a", "<image>\n이것은?", "소화전과 곰 인형."),  # both covered
        conv("c", "빨간 소화전인가요?\n<image>", "네, 라바는 그것이 빨갛다고 합니다."),  # 1 of 2 covered; dnt lost
        conv("d", "<image>\n이것은?", "개."),
    ])
    cov = coverage(g, src, out)
    assert (cov.records_source, cov.records_output, cov.segments) == (4, 3, 6)
    assert cov.segments_with_terms == 3 and cov.segments_fully_covered == 2
    assert (cov.term_pairs, cov.term_pairs_covered) == (4, 3)
    assert (cov.dnt_pairs, cov.dnt_pairs_kept) == (1, 0)
    per = {k: (v.segments, v.covered) for k, v in cov.terms.items()}
    assert per == {"fire hydrant": (2, 2), "teddy bear": (1, 1), "kite": (1, 0)}
    assert cov.misses == [{"id": "c", "field": "conversations[1].value", "term": "kite", "target": "연",
                           "source": "Yes, LLaVA says the kite is red.", "output": "네, 라바는 그것이 빨갛다고 합니다."}]
    assert cov.as_dict()["rate"] == 0.75


def test_coverage_refuses_an_output_of_another_source(tmp_path):
    g = Glossary.load(make_glossary(tmp_path / "ko", terms=["kite\t연\tno"]))
    src = write_records(tmp_path / "src.jsonl", [conv("a", "hi", "a kite")])
    out = write_records(tmp_path / "out.jsonl", [conv("zzz", "hi", "연")])
    with pytest.raises(GlossaryError, match="id 'zzz'.*no counterpart"):
        coverage(g, src, out)


# -- in a run ------------------------------------------------------------------------------------------------------

def _run(src: Path, out: Path, glossary: str | None, backend: Backend | None = None, memory: Path | None = None):
    from translate.runtime import open_job

    cfg = RunConfig(src=[str(src)], out=str(out), backend="pseudo", glossary=glossary,
                    memory=str(memory) if memory else None)
    with open_job(cfg, backend=backend) as job:
        stats = job.pipeline.run_file(src, out)
    return stats, json.loads((out / f"ko_{src.stem}.manifest.json").read_text(encoding="utf-8"))


def test_blip_run_templates_cost_zero_characters(shipped, blip_excerpt, tmp_path):
    stats, manifest = _run(blip_excerpt, tmp_path / "out", str(SHIPPED))
    counts = manifest["counts"]
    records = json.loads(blip_excerpt.read_text(encoding="utf-8"))
    protector = shipped.protector()
    captions = {protector.protect(r["conversations"][1]["value"]).body for r in records}
    prompts = {protector.protect(r["conversations"][0]["value"]).body for r in records}
    assert counts["segments_templates"] == len(records) == 120
    assert counts["segments_sent"] == len(captions)
    assert counts["characters_sent"] == sum(map(len, captions))
    assert manifest["backend"]["usage"]["characters"] == sum(map(len, captions))
    # What the memory holds: the captions from the engine, the 11 prompts from the glossary.
    with TranslationMemory(tmp_path / "out" / "translation_memory.sqlite") as memory:
        origins = {}
        for _, source, target, origin in memory.rows():
            origins.setdefault(origin, set()).add(source)
    assert origins["template"] == prompts and origins["pseudo/v1"] == captions
    kept = json.loads((tmp_path / "out" / "ko_blip_excerpt.json").read_text(encoding="utf-8"))
    first = {r["id"]: r["conversations"][0]["value"] for r in kept}
    for r in records:
        if r["id"] in first:
            assert first[r["id"]].count("<image>") == 1
            assert re.search("[가-힣]", first[r["id"]])
    # Without the glossary the prompts are paid for.
    _, bare = _run(blip_excerpt, tmp_path / "bare", "none")
    assert bare["counts"]["segments_templates"] == 0
    assert bare["counts"]["characters_sent"] > counts["characters_sent"] + sum(map(len, prompts)) - 1


def test_edited_template_takes_effect_with_the_same_memory(tmp_path):
    folder = make_glossary(tmp_path / "ko", templates=["What is this?\t이것은 무엇인가요?\tblip"])
    src = write_records(tmp_path / "src.jsonl", [conv("a", "<image>\nWhat is this?", "a dog")])
    memory = tmp_path / "tm.sqlite"
    _run(src, tmp_path / "o1", str(folder), memory=memory)
    (folder / "templates.tsv").write_text("source\ttarget\nWhat is this?\t이건 뭐예요?\n", encoding="utf-8")
    _, manifest = _run(src, tmp_path / "o2", str(folder), memory=memory)
    out = [json.loads(line) for line in (tmp_path / "o2" / "ko_src.jsonl").read_text(encoding="utf-8").splitlines()]
    assert out[0]["conversations"][0]["value"] == "<image>\n이건 뭐예요?"
    assert manifest["counts"]["characters_sent"] == 0  # the caption came from the memory, the prompt from the glossary


class ParticleGuessingBackend(PseudoBackend):
    """Pseudo-localises and, like a real engine that cannot see the noun behind a placeholder, writes 는 after it."""

    name = "pseudo-particles"

    def fingerprint(self) -> str:
        return "pseudo-particles/v1"

    def translate(self, texts: list[str]) -> list[str]:
        return [re.sub(r"(⟦\d+⟧)", r"\1는", t) for t in super().translate(texts)]


def test_run_corrects_particles_after_terms(tmp_path):
    folder = make_glossary(tmp_path / "ko", terms=["fire hydrant\t소화전\tno", "kite\t연\tno", "teddy bear\t곰 인형\tno"],
                           dnt=["LLaVA\t라바"])
    src = write_records(tmp_path / "src.jsonl", [
        conv("a", "<image>\nWhat is this?", "a fire hydrant"),
        conv("b", "<image>\nWhat is this?", "LLaVA flies a kite"),
    ])
    _run(src, tmp_path / "out", str(folder), backend=ParticleGuessingBackend("en", "ko"))
    out = [json.loads(line) for line in (tmp_path / "out" / "ko_src.jsonl").read_text(encoding="utf-8").splitlines()]
    assert out[0]["conversations"][1]["value"] == pseudo_localise("a ") + "소화전은"
    assert out[1]["conversations"][1]["value"] == "LLaVA는 " + pseudo_localise("flies a ") + "연은"


# -- native glossary (DeepL) ---------------------------------------------------------------------------------------

def test_native_glossary_engine_gets_no_term_placeholders(tmp_path, monkeypatch):
    from fakes import FakeDeepL
    from translate.backends.base import create_backend

    monkeypatch.setenv("DEEPL_AUTH_KEY", "glossary-test-key:fx")
    folder = make_glossary(tmp_path / "ko", terms=["fire hydrant\t소화전\tno", "kite\t연\tno"], dnt=["LLaVA\t라바"],
                           templates=["Describe the fire hydrant.\t소화전을 설명해 주세요.\tx"])
    with FakeDeepL(auth_keys={"glossary-test-key:fx"}) as fake:
        backend = create_backend("deepl", "en", "ko", {"server_url": fake.url, "retry_backoff": 0.01})
        try:
            protector, templates = protection_for_run(str(folder), "en", "ko", backend)
            assert len(fake.glossaries) == 1
            (stored,) = fake.glossaries.values()
            assert stored["entries"] == {"fire hydrant": "소화전", "kite": "연"}
            assert backend.glossary_id == stored["glossary_id"] and "glossary=" in backend.fingerprint()
            p = protector.protect("LLaVA sees a fire hydrant.")
            assert [s.kind for s in p.spans] == ["dnt"] and "fire hydrant" in p.body
            assert templates == {"Describe the fire hydrant.": "소화전을 설명해 주세요."}
            # Given a glossary id, nothing is synced.
            again = create_backend("deepl", "en", "ko", {"server_url": fake.url, "glossary_id": backend.glossary_id})
            requests = fake.requests
            protection_for_run(str(folder), "en", "ko", again)
            assert fake.requests == requests
            again.close()
        finally:
            backend.close()


def test_templates_are_nfc(shipped):
    for t in shipped.templates:
        assert unicodedata.normalize("NFC", t.target) == t.target


def test_coverage_aligns_records_sharing_an_id(tmp_path):
    g = Glossary.load(make_glossary(tmp_path / "ko", terms=["fire hydrant\t소화전\tno", "kite\t연\tno"]))
    first, second = conv("x", "hi", "a fire hydrant"), conv("x", "hi", "a kite")
    second["image"] = "other.jpg"
    src = write_records(tmp_path / "src.jsonl", [first, second])
    kept = conv("x", "안녕", "연")
    kept["image"] = "other.jpg"
    out = write_records(tmp_path / "out.jsonl", [kept])  # the first record was rejected
    cov = coverage(g, src, out)
    assert (cov.term_pairs, cov.term_pairs_covered) == (1, 1)
    assert {k: v.segments for k, v in cov.terms.items()} == {"fire hydrant": 0, "kite": 1}

"""tm/pairs.py: placeholders put back into someone else's translation, and the pair a run would have stored."""

from __future__ import annotations

from translate.config import RunConfig
from translate.memory import segment_key
from translate.protect import BRACKETS, XML_KEEP, Protector, Span
from translate.reasons import Reason
from translate.tm.pairs import (
    NO_SEGMENT,
    TEMPLATE,
    Pair,
    open_pair_maker,
    put_placeholders,
)


def test_spans_are_found_in_any_order_and_repeats_left_to_right():
    spans = (Span("code", "`a`", "`a`"), Span("url", "www.x.com", "www.x.com"), Span("code", "`a`", "`a`"))
    # Korean moved the URL first; the two `a` spans keep their order.
    text = "www.x.com 에서 `a` 다음에 `a`"
    assert put_placeholders(text, spans, BRACKETS) == "⟦1⟧ 에서 ⟦0⟧ 다음에 ⟦2⟧"
    assert put_placeholders(text, spans, XML_KEEP) == '<x i="1">www.x.com</x> 에서 <x i="0">`a`</x> 다음에 <x i="2">`a`</x>'


def test_a_missing_span_or_term_is_a_reason():
    code = put_placeholders("`b` 를 출력", (Span("code", "`a`", "`a`"),), BRACKETS)
    assert isinstance(code, Reason) and code.code == "span_lost" and "`a`" in code.detail
    term = put_placeholders("테디베어", (Span("term", "teddy bear", "곰 인형"),), BRACKETS)
    assert isinstance(term, Reason) and term.code == "glossary_term_missing"
    # A longer span is placed first, so a shorter one cannot take its text.
    both = (Span("term", "bus", "버스"), Span("term", "double-decker bus", "2층 버스"))
    assert put_placeholders("2층 버스와 버스", both, BRACKETS) == "⟦1⟧와 ⟦0⟧"


def _maker(tmp_path, **cfg):
    cfg = {"backend": "pseudo", **cfg}
    return open_pair_maker(RunConfig(src=[], memory=str(tmp_path / "m.sqlite"), **cfg))


def test_pair_has_the_key_and_body_a_run_uses_and_restores_to_the_import(tmp_path):
    maker, backend = _maker(tmp_path)
    source = "<image>\nIs there a fire hydrant near `main.py`?"
    korean = "<image>\n`main.py` 근처에 소화전이 있나요?"
    pair = maker.make(source, korean, "human", "conversations[0].value")
    assert isinstance(pair, Pair)
    protected = maker.protector.protect(source)
    assert pair.body == protected.body and "⟦" in pair.body
    assert pair.key == segment_key(protected.body, "en", "ko", backend.fingerprint())
    assert maker.protector.restore(protected, pair.target) == korean == pair.output
    assert not pair.normalised


def test_outcomes_other_than_a_pair(tmp_path):
    maker, _ = _maker(tmp_path)
    assert maker.make("[0.1, 0.2, 0.3, 0.4]", "[0.1, 0.2, 0.3, 0.4]", "gpt", "f") == NO_SEGMENT
    assert maker.make("<image>\nDescribe the image concisely.", "<image>\n짧게", "human", "f") == TEMPLATE
    lost = maker.make("<image>\nWhat is on the table?", "탁자 위에 무엇이 있나요?", "human", "f")
    assert [r.code for r in lost] == ["image_token"]
    # The shell is the source's: extra whitespace after <image> is normalised, not a reason.
    pair = maker.make("<image>\nWhat is on the table?", "<image>\n  탁자 위에 무엇이 있나요?", "human", "f")
    assert isinstance(pair, Pair) and pair.normalised and pair.output == "<image>\n탁자 위에 무엇이 있나요?"


def test_without_a_glossary_the_published_wording_of_a_term_is_kept(tmp_path):
    """`--glossary none` (for import and run alike): no term placeholders, so 테디베어 is imported as published."""
    maker, _ = _maker(tmp_path, glossary="none")
    pair = maker.make("A small teddy bear is lying on the pillow at the head of the bed.",
                      "작은 테디베어가 침대 머리맡 베개 위에 놓여 있습니다.", "gpt", "f")
    assert isinstance(pair, Pair) and "⟦" not in pair.target


def test_nllb_import_needs_no_model(tmp_path):
    """The key of an NLLB run names the model without loading it: a hub id that is not on this machine works."""
    from translate.backends.nllb import NLLBBackend

    maker, backend = _maker(tmp_path, backend="nllb",
                            backend_options={"model": "example/not-downloaded-nllb", "device": "cpu"})
    pair = maker.make("What is on the table?", "탁자 위에 무엇이 있나요?", "human", "f")
    expected = NLLBBackend("en", "ko", model="example/not-downloaded-nllb", device="cpu").fingerprint()
    assert backend.fingerprint() == expected and "example/not-downloaded-nllb" in expected
    assert pair.key == segment_key("What is on the table?", "en", "ko", expected)
    assert backend._translator is None  # never loaded
    backend.close()


def test_protector_round_trip_on_the_shipped_glossary(tmp_path):
    """A term followed by a particle comes back exactly (the particle already fits the term)."""
    maker, _ = _maker(tmp_path)
    assert isinstance(maker.protector, Protector)
    pair = maker.make("Yes, a yellow fire hydrant stands at the edge of the sidewalk.",
                      "네, 인도 가장자리에 노란색 소화전이 서 있습니다.", "gpt", "f")
    assert isinstance(pair, Pair) and pair.output == "네, 인도 가장자리에 노란색 소화전이 서 있습니다."
    assert "⟦0⟧이" in pair.target

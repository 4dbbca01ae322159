"""protect.py: the <image> shell, protected spans, placeholders and exact restoration."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from translate.backends.pseudo import pseudo_localise
from translate.protect import BRACKETS, XML_KEEP, Protector, SpanLost, image_layout


@pytest.fixture(params=[BRACKETS, XML_KEEP], ids=lambda s: s.name)
def protector(request):
    return Protector(style=request.param)


def test_leading_image_stays_in_the_shell(protector):
    p = protector.protect("<image>\nWhat is in the photo?")
    assert p.prefix == "<image>\n" and p.body == "What is in the photo?" and p.suffix == ""
    assert "<image>" not in p.body


def test_trailing_image_stays_in_the_shell(protector):
    p = protector.protect("What is in the photo?\n<image>")
    assert p.suffix == "\n<image>" and p.body == "What is in the photo?"


def test_image_alone_needs_no_translation(protector):
    p = protector.protect("<image>")
    assert not p.needs_translation
    assert protector.restore(p, "") == "<image>"


def test_whitespace_only_passes_through(protector):
    for value in ("", "   ", "\n\t"):
        p = protector.protect(value)
        assert not p.needs_translation
        assert protector.restore(p, "ignored") == value


def test_image_in_the_middle_becomes_a_span(protector):
    p = protector.protect("Look at <image> here")
    assert [s.kind for s in p.spans] == ["image"]
    assert "<image>" not in p.body.replace(protector.style.render(0, p.spans[0]), "")


@pytest.mark.parametrize(
    "text, kind, span",
    [
        ("The dog is at [0.12, 0.34, 0.56, 0.78] in the image.", "bbox", "[0.12, 0.34, 0.56, 0.78]"),
        ("Run `pip install llava` first.", "code", "`pip install llava`"),
        ("Code:\n```python\nprint('hi')\n```\nDone.", "code", "```python\nprint('hi')\n```"),
        ("See https://llava-vl.github.io/ for more.", "url", "https://llava-vl.github.io/"),
        ("Visit www.example.com.", "url", "www.example.com"),
    ],
)
def test_spans_are_found_and_restored(protector, text, kind, span):
    p = protector.protect(text)
    assert [(s.kind, s.source) for s in p.spans] == [(kind, span)]
    if protector.style is BRACKETS:  # the XML style carries the span inside its tag on purpose
        assert span not in p.body
    assert protector.restore(p, p.body) == text


def test_translation_may_move_placeholders():
    pr = Protector()
    p = pr.protect("A at [1, 2] and B at [3, 4].")
    moved = "⟦1⟧에 B, ⟦0⟧에 A."
    assert pr.restore(p, moved) == "[3, 4]에 B, [1, 2]에 A."


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda body: body.replace("⟦0⟧", ""), "missing"),
        (lambda body: body.replace("⟦0⟧", "⟦0⟧ ⟦0⟧"), "twice"),
        (lambda body: body + " ⟦7⟧", "unknown"),
        (lambda body: body.replace("⟦0⟧", "⟦ 0 ⟧"), "missing"),
    ],
)
def test_lost_spans_raise_never_patch(damage, message):
    pr = Protector()
    p = pr.protect("Box [0.1, 0.2, 0.3, 0.4] here.")
    with pytest.raises(SpanLost, match=message):
        pr.restore(p, damage(p.body))


def test_xml_carried_content_must_come_back_exactly():
    pr = Protector(style=XML_KEEP)
    p = pr.protect("Use `a<b & c>d` now.")
    assert '<x i="0">`a&lt;b &amp; c&gt;d`</x>' in p.body
    assert pr.restore(p, p.body) == "Use `a<b & c>d` now."
    with pytest.raises(SpanLost, match="came back as"):
        pr.restore(p, p.body.replace("c&gt;d", "C&gt;D"))


def test_literal_placeholder_text_in_source_is_itself_protected():
    pr = Protector()
    p = pr.protect("The string ⟦0⟧ is literal, box [1, 2].")
    assert [s.kind for s in p.spans] == ["placeholder", "bbox"]
    assert pr.restore(p, p.body) == "The string ⟦0⟧ is literal, box [1, 2]."


def test_dnt_and_terms():
    pr = Protector(dnt=["<im_start>", "LLaVA"], terms={"fire hydrant": "소화전"})
    p = pr.protect("LLaVA sees a Fire Hydrant <im_start>.")
    kinds = {s.kind: s for s in p.spans}
    assert kinds["dnt"].source in ("LLaVA", "<im_start>")
    assert kinds["term"].source == "Fire Hydrant" and kinds["term"].restore == "소화전"
    assert pr.restore(p, p.body).startswith("LLaVA sees a 소화전")


def test_image_layout():
    assert image_layout("<image>\nhi") == (1, True, False)
    assert image_layout("hi\n<image>") == (1, False, True)
    assert image_layout("hi") == (0, False, False)


# -- properties ----------------------------------------------------------------------------------------------------
_pieces = st.sampled_from([
    "the dog", " ", "\n", "[0.12, 0.34, 0.56, 0.78]", "`code`", "https://x.org/a", "<image>", "⟦3⟧", "[1, 2]",
    "Hello, world.", "```\nblock\n```", "\t", "é", "e\u0301", "100%", "[", "]",
])
_values = st.lists(_pieces, max_size=12).map("".join) | st.text(max_size=80)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_identity_translation_restores_every_value_exactly(value):
    for style in (BRACKETS, XML_KEEP):
        pr = Protector(style=style)
        p = pr.protect(value)
        restored = pr.restore(p, p.body)
        # Only the prose between spans may be NFC-normalised; everything else comes back byte for byte.
        import unicodedata

        assert unicodedata.normalize("NFC", restored) == unicodedata.normalize("NFC", value)
        assert image_layout(restored) == image_layout(value)
        for span in p.spans:
            assert span.source in restored


@settings(max_examples=300, deadline=None)
@given(_values)
def test_pseudo_translation_keeps_spans_and_image(value):
    pr = Protector()
    p = pr.protect(value)
    out = pr.restore(p, pseudo_localise(p.body))
    assert image_layout(out) == image_layout(value)
    for span in p.spans:
        assert span.source in out


@settings(max_examples=200, deadline=None)
@given(_values, st.data())
def test_dropping_any_placeholder_is_detected(value, data):
    pr = Protector()
    p = pr.protect(value)
    if not p.spans:
        return
    i = data.draw(st.integers(0, len(p.spans) - 1))
    with pytest.raises(SpanLost):
        pr.restore(p, p.body.replace(BRACKETS.render(i, p.spans[i]), "", 1))


def test_the_one_xml_style_reads_back_what_tag_handling_engines_return():
    """Either quote style, spaces in the tags and any entity in the carried span: DeepL returns all of these."""
    from translate.protect import XML_KEEP, Protector

    protector = Protector(style=XML_KEEP)
    protected = protector.protect("Run `a<b && c` now.")
    assert protected.body == 'Run <x i="0">`a&lt;b &amp;&amp; c`</x> now.'
    for answer in ('지금 <x i="0">`a&lt;b &amp;&amp; c`</x> 실행', "지금 <x i='0'>`a&#60;b &#x26;&amp; c`</x> 실행",
                   '지금 <x i = "0" >`a&lt;b &amp;&amp; c`</x > 실행'):
        assert protector.restore(protected, answer) == "지금 `a<b && c` 실행"

"""Sentence splitting: split → join is the identity, and what is sent is only ever sentence text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from translate.protect import BRACKETS
from translate.sentences import Chunk, has_letter, join, sentences, split

P = BRACKETS.pattern


def parts(text: str, max_chars: int = 500) -> list[tuple[str, bool]]:
    return [(c.text, c.translate) for c in split(text, P, max_chars)]


def test_paragraph_becomes_sentences_with_their_spaces():
    text = "It is a harbor filled with boats. Among the boats, there are yachts! Is it sunny? Yes."
    assert parts(text) == [
        ("It is a harbor filled with boats.", True), (" ", False), ("Among the boats, there are yachts!", True),
        (" ", False), ("Is it sunny?", True), (" ", False), ("Yes.", True),
    ]


def test_lists_bullets_headings_and_blank_lines_are_kept():
    text = "Steps:\n1. Fill the glass.\n2) Drink it.\n\n- one\n* two\n  • three\n## Notes\n(3) last"
    assert parts(text) == [
        ("Steps:", True), ("\n1. ", False), ("Fill the glass.", True), ("\n2) ", False), ("Drink it.", True),
        ("\n\n- ", False), ("one", True), ("\n* ", False), ("two", True), ("\n  • ", False), ("three", True),
        ("\n## ", False), ("Notes", True), ("\n(3) ", False), ("last", True),
    ]


def test_abbreviations_initials_decimals_and_lowercase_do_not_end_sentences():
    text = "Mr. Smith met Dr. J. Jones, e.g. at 3.5 km from the U.S. border. Then they left."
    assert sentences(split(text, P)) == ["Mr. Smith met Dr. J. Jones, e.g. at 3.5 km from the U.S. border.",
                                         "Then they left."]


def test_quotes_and_brackets_stay_with_their_sentence():
    assert sentences(split('He said "stop." Then (quietly.) It ended.', P)) == [
        'He said "stop."', "Then (quietly.)", "It ended."]


def test_cjk_sentences_split_without_spaces():
    assert parts("这是一只猫。它在睡觉。") == [("这是一只猫。", True), ("它在睡觉。", True)]


def test_placeholders_are_never_inside_a_sentence():
    text = "The box ⟦0⟧ holds a cat. See ⟦1⟧.\n⟦2⟧ Next line"
    got = parts(text)
    assert got == [("The box", True), (" ⟦0⟧ ", False), ("holds a cat.", True), (" ", False), ("See", True),
                   (" ⟦1⟧.\n⟦2⟧ ", False), ("Next line", True)]


def test_text_without_letters_is_kept():
    assert parts("42. 3.14 — ⟦0⟧ !!") == [("42. 3.14 — ⟦0⟧ !!", False)]


def test_long_sentences_are_cut_at_clauses_then_spaces_then_anywhere():
    clause = "word " * 10  # 50 chars
    text = (clause.strip() + ", ") * 3 + "end."
    got = split(text, P, max_chars=60)
    assert join(got, sentences(got)) == text
    assert all(len(s) <= 60 for s in sentences(got))
    assert sentences(got)[0].endswith(",")  # the first cut is at a comma
    nospace = "x" * 130
    got = split(nospace, P, max_chars=60)
    assert sentences(got) == ["x" * 60, "x" * 60, "x" * 10]


def test_join_replaces_sentences_in_order_and_checks_the_count():
    chunks = split("One. Two.\n- Three", P)
    assert join(chunks, ["1", "2", "3"]) == "1 2\n- 3"
    with pytest.raises(ValueError):
        join(chunks, ["1", "2"])
    with pytest.raises(ValueError):
        join(chunks, ["1", "2", "3", "4"])


# -- properties -----------------------------------------------------------------------------------------------

_pieces = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from(["The cat sat.", " ", "  ", "\n", "\r\n", "\n\n", "1. ", "- ", "* ", "• ", "## ", "Dr. ", "e.g. ",
                     "⟦0⟧", "⟦12⟧", "?", "!", "...", "。", "猫が寝ている。", "\t", "(2) ", "3.5", "Yes! No? ", "a, b; c: d"]),
)
texts = st.lists(_pieces, max_size=25).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts, st.integers(min_value=1, max_value=80))
def test_split_then_join_is_identity(text, max_chars):
    chunks = split(text, P, max_chars)
    assert "".join(c.text for c in chunks) == text
    assert join(chunks, sentences(chunks)) == text
    assert all(c.text for c in chunks)
    # Kept chunks never sit next to each other (they are merged).
    assert not any(not a.translate and not b.translate for a, b in zip(chunks, chunks[1:]))


@settings(max_examples=400, deadline=None)
@given(texts, st.integers(min_value=1, max_value=80))
def test_what_is_sent_is_clean_sentence_text(text, max_chars):
    for s in sentences(split(text, P, max_chars)):
        assert s == s.strip() and s
        assert "\n" not in s and "\r" not in s
        assert not P.search(s)
        assert has_letter(s)
        assert len(s) <= max_chars


@settings(max_examples=300, deadline=None)
@given(texts)
def test_layout_survives_any_translation(text):
    """Whatever comes back for the sentences, newlines and placeholders stay in place and in order."""
    chunks = split(text, P)
    out = join(chunks, ["#" * (i % 3 + 1) for i, _ in enumerate(sentences(chunks))])
    assert P.findall(out) == P.findall(text)
    assert re.findall(r"\r\n|\r|\n", out) == re.findall(r"\r\n|\r|\n", text)


def test_chunk_is_a_value():
    assert Chunk("a", True) == Chunk("a", True)

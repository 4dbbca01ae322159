"""translate.qc.units: the sentence units the meaning checks compare (sentences, list items, lines)."""

from __future__ import annotations

import pytest

from translate.qc.units import units


def test_sentences_list_items_and_korean_endings():
    assert units("버스는 42번입니다. 정류장에 서 있어요 나무가 있다.\n1. 빵\n2. 햄") == [
        "버스는 42번입니다.", "정류장에 서 있어요", "나무가 있다.", "빵", "햄"]
    assert units("The bus number is 42. It is parked near the stop.") == [
        "The bus number is 42.", "It is parked near the stop."]
    assert units("Steps: 1. Fill the glass 2. Drink it.") == ["Steps: 1. Fill the glass 2. Drink it."]
    assert units("Dr. Smith met J. Doe, e.g. at noon. Then they left!") == [
        "Dr. Smith met J. Doe, e.g. at noon.", "Then they left!"]
    assert units("これはペンです。あれは本です。") == ["これはペンです。", "あれは本です。"]
    assert units("소화전이 있습니다\t눈이 덮여 있어요") == ["소화전이 있습니다", "눈이 덮여 있어요"]
    assert units("A cat. 42.") == ["A cat. 42."]  # a piece without a letter joins the unit before it
    assert units("") == [] and units(" \n ") == []


@pytest.mark.parametrize("text", ["The area is 10². It is large.", "x ². Next one.", "Item ١٢. Next one."])
def test_digits_that_are_not_ascii_before_a_period_do_not_crash(text):
    # "²".isdigit() is True but int("²") fails: the enumerator test only takes decimal digits.
    assert len(units(text)) == 2

"""particles.py: the Korean particle after a substituted noun, for every particle and every final-sound class."""

from __future__ import annotations

import pytest

from translate.particles import (
    CONSONANT,
    PARTICLES,
    RIEUL,
    VOWEL,
    attach,
    correct_particle,
    final_sound,
    latin_sound,
    number_sound,
)

# -- final sounds --------------------------------------------------------------------------------------------------
# (noun, reading, expected class): Hangul, digits read as Sino-Korean numbers, Latin with and without readings.
NOUNS = [
    ("사과", None, VOWEL),
    ("소화전", None, CONSONANT),
    ("연필", None, RIEUL),
    ("곰 인형", None, CONSONANT),
    ("2층 버스", None, VOWEL),
    ("소화전(消火栓)", None, CONSONANT),
    ("'사과'", None, VOWEL),
    # digits: 이 / 삼 / 칠 / 일 / 영 / 십 / 백 / 천 / 만 / 억 / 조, and digit-by-digit after a decimal point
    ("2", None, VOWEL),
    ("3", None, CONSONANT),
    ("7", None, RIEUL),
    ("1", None, RIEUL),
    ("0", None, CONSONANT),
    ("10", None, CONSONANT),
    ("20", None, CONSONANT),
    ("100", None, CONSONANT),
    ("1000", None, CONSONANT),
    ("10000", None, CONSONANT),
    ("100000000", None, CONSONANT),
    ("1000000000000", None, VOWEL),
    ("25", None, VOWEL),
    ("1.5", None, VOWEL),
    ("1.50", None, CONSONANT),
    ("GPT-4", None, VOWEL),
    ("v1.7", None, RIEUL),
    # Latin with a reading: the reading decides, whatever the spelling suggests
    ("LLaVA", "라바", VOWEL),
    ("CLIP", "클립", CONSONANT),
    ("Google", "구글", RIEUL),
    ("BLIP", "블립", CONSONANT),
    # Latin without a reading: acronyms by letter names, words by spelling
    ("GPU", None, VOWEL),  # …유
    ("HTML", None, RIEUL),  # …엘
    ("CNN", None, CONSONANT),  # …엔
    ("R", None, RIEUL),  # 알
    ("robot", None, CONSONANT),  # 로봇
    ("camera", None, VOWEL),  # 카메라
    ("hotel", None, RIEUL),  # 호텔
    ("table", None, RIEUL),  # 테이블
    ("smartphone", None, CONSONANT),  # 스마트폰
    ("king", None, CONSONANT),  # 킹
]


@pytest.mark.parametrize("noun, reading, sound", NOUNS, ids=[n for n, _, _ in NOUNS])
def test_final_sound(noun, reading, sound):
    assert final_sound(noun, reading) == sound


def test_final_sound_unknown_is_none():
    assert final_sound("消火栓") is None
    assert final_sound("") is None
    assert final_sound("→") is None


def test_number_and_latin_helpers():
    assert number_sound("0010") == CONSONANT and number_sound("12") == VOWEL
    assert latin_sound("") is None


# -- the particle table ----------------------------------------------------------------------------------------------
# particle (batchim/vowel form), the text after it, and the right form after a vowel, a consonant and ㄹ.
# None after a vowel: both forms are right there, and what the engine wrote is kept.
TABLE = [
    ("은/는", " 빨갛다.", "는", "은", "은"),
    ("이/가", " 있다.", "가", "이", "이"),
    ("을/를", " 본다.", "를", "을", "을"),
    ("과/와", " 함께", "와", "과", "과"),
    ("아/야", ", 안녕", "야", "아", "아"),
    ("이나/나", " 필요하다.", "나", "이나", "이나"),
    ("이랑/랑", " 같이", "랑", "이랑", "이랑"),
    ("이에요/예요", ".", "예요", "이에요", "이에요"),
    ("이야/야", ".", "야", "이야", "이야"),
    ("이란/란", " 무엇인가?", "란", "이란", "이란"),
    ("이든/든", " 상관없다.", "든", "이든", "이든"),
    ("이든지/든지", " 좋다.", "든지", "이든지", "이든지"),
    ("이나마/나마", " 있다.", "나마", "이나마", "이나마"),
    ("과는/와는", " 다르다.", "와는", "과는", "과는"),
    ("과도/와도", " 같다.", "와도", "과도", "과도"),
    ("과의/와의", " 거리", "와의", "과의", "과의"),
    ("과만/와만", " 있다.", "와만", "과만", "과만"),
    ("이랑은/랑은", " 다르다.", "랑은", "이랑은", "이랑은"),
    ("이랑도/랑도", " 있다.", "랑도", "이랑도", "이랑도"),
    ("이나마저/나마저", " 없다.", "나마저", "이나마저", "이나마저"),
    ("이라야/라야", " 한다.", "라야", "이라야", "이라야"),
    ("이여/여", "!", "여", "이여", "이여"),
    # (으)로: ㄹ takes 로
    ("으로/로", " 간다.", "로", "으로", "로"),
    ("으로는/로는", " 부족하다.", "로는", "으로는", "로는"),
    ("으로도/로도", " 쓴다.", "로도", "으로도", "로도"),
    ("으로만/로만", " 쓴다.", "로만", "으로만", "로만"),
    ("으로서/로서", " 쓰인다.", "로서", "으로서", "로서"),
    ("으로써/로써", " 막는다.", "로써", "으로써", "로써"),
    ("으로부터/로부터", " 왔다.", "로부터", "으로부터", "로부터"),
    ("으로의/로의", " 변화", "로의", "으로의", "로의"),
    # copula forms where 이 may stay after a vowel
    ("이다/다", ".", None, "이다", "이다"),
    ("이며/며", " 크다.", None, "이며", "이며"),
    ("이고/고", " 크다.", None, "이고", "이고"),
    ("이지만/지만", " 작다.", None, "이지만", "이지만"),
    ("이면/면", " 좋다.", None, "이면", "이면"),
    ("이자/자", " 도구다.", None, "이자", "이자"),
    ("이니까/니까", " 괜찮다.", None, "이니까", "이니까"),
    # copula stems, followed by the rest of the ending
    ("이었/였", "다.", "였", "이었", "이었"),
    ("이라/라", "고 한다.", "라", "이라", "이라"),
]

CLASS_NOUNS = {
    # one noun per final-sound class, each written in Hangul, digits and Latin (with and without a reading)
    VOWEL: [("사과", None), ("2", None), ("LLaVA", "라바"), ("GPU", None)],
    CONSONANT: [("소화전", None), ("10", None), ("CLIP", "클립"), ("CNN", None)],
    RIEUL: [("연필", None), ("7", None), ("Google", "구글"), ("HTML", None)],
}


def test_table_covers_every_particle():
    listed = {row[0] for row in TABLE}
    assert listed == {f"{p.batchim}/{p.vowel}" for p in PARTICLES}


def _cases():
    for pair, tail, after_vowel, after_consonant, after_rieul in TABLE:
        batchim, vowel = pair.split("/")
        for sound, right in ((VOWEL, after_vowel), (CONSONANT, after_consonant), (RIEUL, after_rieul)):
            for noun, reading in CLASS_NOUNS[sound]:
                for guess in (batchim, vowel):  # the engine may have written either
                    expected = guess if right is None else right
                    yield pytest.param(noun, reading, guess + tail, expected + tail,
                                       id=f"{noun}+{guess}{tail.strip()[:3]}")


@pytest.mark.parametrize("noun, reading, following, expected", list(_cases()))
def test_particle_table(noun, reading, following, expected):
    assert noun + correct_particle(following, final_sound(noun, reading)) == noun + expected


@pytest.mark.parametrize("noun, following", [
    ("소화전", "가방이 있다."),  # a noun starting with 가 is not the particle 가
    ("사과", "이야기를 한다."),  # 이야기 is not 이야
    ("소화전", "는커녕"),  # not in the closed list: left alone
    ("소화전", " 는"),  # a space: no particle attached
    ("소화전", ""),
    ("소화전", "에서"),  # 에서 does not change
    ("소화전", "의"),
    ("소화전", "도"),
    ("사과", "이다."),  # both right after a vowel
])
def test_untouched(noun, following):
    assert correct_particle(following, final_sound(noun)) == following


def test_unknown_sound_changes_nothing():
    assert correct_particle("는 있다", None) == "는 있다"


def test_vocative_and_copula_ya_are_told_apart():
    assert correct_particle("야, 이리 와", CONSONANT) == "아, 이리 와"
    assert correct_particle("야.", CONSONANT) == "이야."
    assert correct_particle("야?", CONSONANT) == "이야?"


def test_attach():
    assert attach("소화전", "을/를") == "소화전을"
    assert attach("사과", "을/를") == "사과를"
    assert attach("연필", "으로/로") == "연필로"
    assert attach("소화전", "으로/로") == "소화전으로"
    assert attach("LLaVA", "은/는", reading="라바") == "LLaVA는"
    with pytest.raises(ValueError):
        attach("消火栓", "은/는")

"""tests/support/fakes/deepl_server.py speaks DeepL's protocol: the real `deepl` client and plain HTTP (form bodies) agree
with it, and each injected fault shows up as the real service's status code."""

from __future__ import annotations

import deepl
import pytest
import requests

from fakes import FakeDeepL
from remote_support import KEY, fast_deepl_sdk  # noqa: F401  (fixture)
from translate.backends.pseudo import pseudo_localise


@pytest.fixture
def fake():
    with FakeDeepL(auth_keys={KEY}) as server:
        yield server


@pytest.fixture
def client(fake, fast_deepl_sdk):  # noqa: F811
    c = deepl.Translator(KEY, server_url=fake.url)
    yield c
    c.close()


def test_json_body_translation_bills_characters(client, fake):
    results = client.translate_text(["Hello world", "A dog"], target_lang="KO", source_lang="EN")
    assert [r.text for r in results] == [pseudo_localise("Hello world"), pseudo_localise("A dog")]
    assert [r.billed_characters for r in results] == [11, 5]
    assert fake.billed_characters == 16 and fake.translate_requests == 1
    usage = client.get_usage()
    assert usage.character.count == 16 and not usage.any_limit_reached


def test_form_body_with_comma_separated_tags():
    with FakeDeepL(auth_keys={KEY}) as fake:
        r = requests.post(f"{fake.url}/v2/translate", headers={"Authorization": f"DeepL-Auth-Key {KEY}"},
                          data={"text": ['Keep <k>this</k> and <y>that</y>', "two"], "target_lang": "KO",
                                "tag_handling": "xml", "ignore_tags": "k,y", "show_billed_characters": "1"})
        assert r.status_code == 200
        out = r.json()["translations"]
        # Both elements are ignored: their content survives, and the engine swapped them.
        assert out[0]["text"] == f"{pseudo_localise('Keep ')}<y>that</y>{pseudo_localise(' and ')}<k>this</k>"
        assert out[1]["billed_characters"] == 3 and fake.billed_characters == len("Keep <k>this</k> and <y>that</y>") + 3


def test_tag_handling_keeps_ignored_content_and_decodes_entities(client, fake):
    text = 'A &amp; B <x i="0">[0.1, 0.2]</x> then <b>bold text</b> <x i="1">a&lt;b</x>.'
    out = client.translate_text(text, target_lang="KO", tag_handling="xml", ignore_tags=["x"]).text
    assert '<x i="0">[0.1, 0.2]</x>' in out and '<x i="1">a&lt;b</x>' in out
    assert out.index('<x i="1">') < out.index('<x i="0">')  # moved, as an engine may
    assert "&amp;" in out and f"<b>{pseudo_localise('bold text')}</b>" in out
    fake.reorder_tags, fake.requote = False, True
    out = client.translate_text(text, target_lang="KO", tag_handling="xml", ignore_tags=["x"]).text
    assert "<x i='0'>[0.1, 0.2]</x>" in out and out.index("i='0'") < out.index("i='1'")
    # Without tag handling the tags are text like any other, and come back broken.
    out = client.translate_text(text, target_lang="KO").text
    assert '<x i="0">' not in out


def test_unescaped_markup_under_xml_handling_is_a_400(client):
    with pytest.raises(deepl.DeepLException, match="Bad request.*Tag handling"):
        client.translate_text("a < b", target_lang="KO", tag_handling="xml")


def test_limits_and_parameter_checks(client, fake):
    with pytest.raises(deepl.DeepLException, match="Too many texts"):
        client.translate_text(["x"] * 51, target_lang="KO")
    with pytest.raises(deepl.DeepLException, match="413"):
        client.translate_text(["y" * 70_000, "z" * 70_000], target_lang="KO")
    with pytest.raises(deepl.DeepLException, match="formality"):
        client.translate_text("hi", target_lang="KO", formality="more")
    assert client.translate_text("hi", target_lang="KO", formality="prefer_more").text == pseudo_localise("hi")
    assert client.translate_text("hi", target_lang="DE", formality="more").text == pseudo_localise("hi")
    r = client.translate_text("hi", target_lang="KO", model_type="prefer_quality_optimized", context="a photo")
    assert r.model_type_used == "quality_optimized"
    assert fake.translate_log[-1]["context"] == "a photo"
    assert fake.billed_characters == 6  # only the three answered requests


def test_bad_key_is_403(fake, fast_deepl_sdk):  # noqa: F811
    c = deepl.Translator("wrong:fx", server_url=fake.url)
    with pytest.raises(deepl.AuthorizationException):
        c.translate_text("hi", target_lang="KO")
    assert fake.answered[403] == 1 and fake.billed_characters == 0


def test_429_and_5xx_are_retried_by_the_sdk(client, fake):
    fake.too_many_requests = 2
    assert client.translate_text("hi", target_lang="KO").text == pseudo_localise("hi")
    fake.server_errors, fake.server_error_status = 2, 502
    assert client.translate_text("hi", target_lang="KO").text == pseudo_localise("hi")
    assert fake.answered[429] == 2 and fake.answered[502] == 2 and fake.billed_characters == 4
    fake.too_many_requests = 5  # more than the SDK's 2 retries
    with pytest.raises(deepl.TooManyRequestsException):
        client.translate_text("hi", target_lang="KO")


def test_quota_after_n_characters(client, fake):
    fake.quota_characters = 10
    client.translate_text("12345678", target_lang="KO")
    with pytest.raises(deepl.QuotaExceededException):
        client.translate_text("abc", target_lang="KO")
    assert fake.billed_characters == 8 and fake.answered[456] == 1
    assert client.get_usage().character.limit == 10


def test_resets_and_slow_answers_are_retried(client, fake):
    fake.resets = 1
    assert client.translate_text("hi", target_lang="KO").text == pseudo_localise("hi")
    assert fake.resets_done == 1
    fake.slow, fake.slow_seconds = 1, 1.0  # longer than the 0.3 s client timeout
    assert client.translate_text("yo", target_lang="KO").text == pseudo_localise("yo")
    assert fake.slow_done == 1


def test_glossary_lifecycle(client, fake):
    g = client.create_glossary("captions", "EN", "KO", {"hot dog": "핫도그", "kite": "연"})
    assert g.ready and g.entry_count == 2 and g.source_lang == "EN" and g.target_lang == "KO"
    assert client.get_glossary(g.glossary_id).name == "captions"
    assert client.get_glossary_entries(g) == {"hot dog": "핫도그", "kite": "연"}
    assert [x.glossary_id for x in client.list_glossaries()] == [g.glossary_id]
    out = client.translate_text("A Hot Dog and a kite", source_lang="EN", target_lang="KO", glossary=g).text
    assert out == pseudo_localise("A ") + "핫도그" + pseudo_localise(" and a ") + "연"
    with pytest.raises(ValueError):  # the SDK insists on source_lang with a glossary
        client.translate_text("x", target_lang="KO", glossary=g.glossary_id)
    csv = client.create_glossary_from_csv("c", "EN", "KO", "cat,고양이\n")
    assert client.get_glossary_entries(csv) == {"cat": "고양이"}
    client.delete_glossary(g)
    with pytest.raises(deepl.GlossaryNotFoundException):
        client.get_glossary(g.glossary_id)
    assert [x.name for x in client.list_glossaries()] == ["c"]

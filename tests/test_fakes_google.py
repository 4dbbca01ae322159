"""tests/support/fakes/google_server.py answers googletrans's `translate_a/single` in the real array format; the real
googletrans client (pointed at it through the backend's redirecting transport) parses it."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from fakes import FakeGoogleTranslate
from translate.backends.google import _Redirect
from translate.backends.pseudo import pseudo_localise


@pytest.fixture
def fake():
    with FakeGoogleTranslate() as server:
        yield server


def _translate(fake, text, service_urls=("translate.googleapis.com",), raise_exception=True):
    from googletrans import Translator

    async def go():
        t = Translator(service_urls=list(service_urls), raise_exception=raise_exception)
        await t.client.aclose()
        t.client = httpx.AsyncClient(transport=_Redirect(fake.url))
        t.token_acquirer.client = t.client
        async with t:
            return await t.translate(text, dest="ko", src="en")

    return asyncio.run(go())


def test_raw_answer_has_googles_shape(fake):
    r = httpx.get(f"{fake.url}/translate_a/single", params={"client": "gtx", "sl": "en", "tl": "ko",
                                                             "dt": ["t", "rm"], "q": "One dog. Two cats!"})
    data = json.loads(r.text)
    assert data[0][0] == [pseudo_localise("One dog. "), "One dog. ", None, None, 10]
    assert data[0][1] == [pseudo_localise("Two cats!"), "Two cats!", None, None, 10]
    assert data[0][2][:2] == [None, None]  # the transliteration entry
    assert data[2] == "en" and data[8][0] == ["en"]


def test_googletrans_parses_sentences_and_keeps_placeholders(fake):
    result = _translate(fake, "A man rides. He waves at ⟦0⟧!  Done.")
    assert result.text == pseudo_localise("A man rides. He waves at ⟦0⟧!  Done.")
    assert result.src == "en" and fake.queries == ["A man rides. He waves at ⟦0⟧!  Done."]
    assert fake.characters == len(fake.queries[0])


def test_webapp_client_gets_a_token_first(fake):
    assert _translate(fake, "hello", service_urls=("translate.google.com",)).text == pseudo_localise("hello")
    assert fake.requests == 2  # the page with the tkk seed, then the translation


def test_429_raises_with_raise_exception(fake):
    fake.too_many_requests = 1
    with pytest.raises(Exception, match='status code "429"'):
        _translate(fake, "hello")
    assert fake.answered[429] == 1
    # Without raise_exception googletrans passes the source off as its translation: why the backend never uses it.
    fake.too_many_requests = 1
    assert _translate(fake, "hello", raise_exception=False).text == "hello"


def test_echo_faults(fake):
    fake.echo = 1
    assert _translate(fake, "hello").text == "hello"
    assert _translate(fake, "hello").text == pseudo_localise("hello")
    fake.echo_texts = {"stuck"}
    assert _translate(fake, "stuck").text == "stuck" and _translate(fake, "stuck").text == "stuck"
    assert fake.echoed == 3

"""tests/support/fakes/openai_server.py speaks the OpenAI chat protocol: raw HTTP and the official client agree with it, and
each injected fault shows up as a real server or model shows it."""

from __future__ import annotations

import json

import httpx
import pytest
from fakes.openai_server import FakeOpenAI

from translate.backends.pseudo import pseudo_localise

DOC = {"r1": {"q1": "What is on the table?", "a2": "A cup of ⟦0⟧ and a long loaf of bread on a plate."}}


def user(doc=DOC) -> str:
    return "Translate this.\n\nJSON:\n" + json.dumps(doc, ensure_ascii=False)


def chat(fake, content=None, **body):
    payload = {"model": "fake-llm", "messages": [{"role": "system", "content": "You translate."},
                                                 {"role": "user", "content": content or user()}]}
    payload.update(body)
    return httpx.post(f"{fake.url}/v1/chat/completions", json=payload, headers={"Authorization": "Bearer k"},
                      timeout=10)


def translated(doc=DOC):
    return {r: {k: pseudo_localise(v) for k, v in texts.items()} for r, texts in doc.items()}


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def test_models_and_a_well_behaved_answer(fake):
    models = httpx.get(f"{fake.url}/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["fake-llm"]
    r = chat(fake, max_tokens=1000)
    assert r.status_code == 200
    answer = r.json()
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    assert json.loads(choice["message"]["content"]) == translated()
    assert "⟦0⟧" in choice["message"]["content"]
    usage = answer["usage"]
    assert usage["completion_tokens"] == -(-len(choice["message"]["content"]) // 2)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert fake.chat_requests == 1 and fake.chat_log[0]["texts"] == list(DOC["r1"].values())


def test_the_official_client_reads_it_streamed_and_not():
    import openai

    with FakeOpenAI() as fake:
        client = openai.OpenAI(api_key="k", base_url=f"{fake.url}/v1", max_retries=0)
        messages = [{"role": "user", "content": user()}]
        plain = client.chat.completions.create(model="fake-llm", messages=messages)
        assert json.loads(plain.choices[0].message.content) == translated()
        chunks = list(client.chat.completions.create(model="fake-llm", messages=messages, stream=True,
                                                     stream_options={"include_usage": True}))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == plain.choices[0].message.content
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
        fake.stream_done = False  # transformers serve closes the stream without [DONE]; the client copes
        raw = httpx.post(f"{fake.url}/v1/chat/completions",
                         json={"model": "fake-llm", "messages": messages, "stream": True}).text
        assert raw.endswith("\n\n") and "[DONE]" not in raw and '"finish_reason": "stop"' in raw
        again = list(client.chat.completions.create(model="fake-llm", messages=messages, stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in again if c.choices) == text


def test_errors_in_openai_and_fastapi_shapes():
    with FakeOpenAI(auth_keys={"sk-right-key-123456"}) as fake:
        r = httpx.post(f"{fake.url}/v1/chat/completions", json={"model": "fake-llm", "messages": []},
                       headers={"Authorization": "Bearer sk-wrong-key-987654"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert "sk-" in r.json()["error"]["message"] and "7654" in r.json()["error"]["message"]  # partly masked
        ok = {"Authorization": "Bearer sk-right-key-123456"}
        r = httpx.post(f"{fake.url}/v1/chat/completions", headers=ok,
                       json={"model": "other", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
        fake.detail_errors = True
        r = httpx.post(f"{fake.url}/v1/chat/completions", headers=ok,
                       json={"model": "other", "messages": [{"role": "user", "content": "hi"}]})
        assert r.status_code == 404 and "does not exist" in r.json()["detail"]


def test_rate_limits_server_errors_quota_and_response_format(fake):
    fake.too_many_requests, fake.server_errors = 1, 1
    r = chat(fake)
    assert r.status_code == 429 and r.headers["retry-after"] == "0.05"
    assert chat(fake).status_code == 500
    assert chat(fake).status_code == 200
    schema = {"type": "json_schema", "json_schema": {"name": "t", "schema": {"type": "object"}}}
    assert chat(fake, response_format=schema).status_code == 200
    assert chat(fake, response_format={"type": "json_schema", "json_schema": {}}).status_code == 400
    fake.reject_response_format = True
    r = chat(fake, response_format=schema)
    assert r.status_code == 400 and r.json()["error"]["param"] == "response_format"
    assert chat(fake).status_code == 200
    fake.quota_exhausted = True
    r = chat(fake)
    assert r.status_code == 429 and r.json()["error"]["code"] == "insufficient_quota"
    assert fake.answered == {429: 2, 500: 1, 200: 3, 400: 2}


def content_of(r) -> str:
    assert r.status_code == 200
    return r.json()["choices"][0]["message"]["content"]


def test_content_faults(fake):
    good = json.dumps(translated(), ensure_ascii=False)
    fake.fences = 1
    assert content_of(chat(fake)) == f"```json\n{good}\n```"
    fake.chatter = 1
    text = content_of(chat(fake))
    assert text.startswith("Sure!") and good in text and not text.startswith("{")
    fake.drop_key = 1
    assert json.loads(content_of(chat(fake))) == {"r1": {"q1": translated()["r1"]["q1"]}}
    fake.echo = 1
    assert json.loads(content_of(chat(fake))) == DOC
    fake.truncate = 1
    r = chat(fake)
    assert r.json()["choices"][0]["finish_reason"] == "length" and content_of(r) == good[:len(good) // 2]
    fake.invalid_json = 1
    with pytest.raises(json.JSONDecodeError):
        json.loads(content_of(chat(fake)))
    fake.swap = 1
    swapped = json.loads(content_of(chat(fake)))["r1"]
    assert swapped == {"q1": translated()["r1"]["a2"], "a2": translated()["r1"]["q1"]}
    fake.drop_placeholder = 1
    assert "⟦0⟧" not in content_of(chat(fake))
    assert content_of(chat(fake)) == good  # every fault was used once
    assert dict(fake.faults_done) == {k: 1 for k in ("fences", "chatter", "drop_key", "echo", "truncate",
                                                     "invalid_json", "swap", "drop_placeholder")}


def test_swap_waits_for_a_request_it_can_apply_to(fake):
    fake.swap = 1
    even = {"r1": {"q1": "Two words.", "a2": "Also two."}}
    assert json.loads(content_of(chat(fake, user(even)))) == translated(even)
    assert fake.swap == 1
    assert json.loads(content_of(chat(fake)))["r1"]["q1"] == translated()["r1"]["a2"]


def test_max_tokens_cuts_the_answer_and_no_document_gets_chatter(fake):
    r = chat(fake, max_tokens=5)
    assert r.json()["choices"][0]["finish_reason"] == "length" and len(content_of(r)) == 10
    assert r.json()["usage"]["completion_tokens"] == 5
    text = content_of(chat(fake, "Hello, how are you?"))
    assert "{" not in text and fake.chat_log[-1]["texts"] == []


def test_images_are_counted_and_latency_is_applied():
    with FakeOpenAI(delay=0.05) as fake:
        parts = [{"type": "text", "text": user()},
                 {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/AA=="}}]
        r = chat(fake, parts)
        assert json.loads(content_of(r)) == translated()
        assert fake.chat_log[-1]["images"] == 1
        assert r.elapsed.total_seconds() >= 0.05

"""A local OpenAI-compatible chat server for tests: the official `openai` client (or curl) talks to it at
``<fake.url>/v1``.

It speaks what the LLM backend uses, with the real shapes and status codes:

* ``GET /v1/models``: ``{"object": "list", "data": [{"id", "object": "model", "created", "owned_by"}]}``.
* ``POST /v1/chat/completions``: ``model``, ``messages`` (string content or content parts, ``image_url`` parts
  counted), ``temperature``, ``max_tokens`` / ``max_completion_tokens``, ``response_format`` (``json_schema`` is
  checked for a schema, ``json_object`` accepted), ``stream`` (server-sent events: a role chunk, content chunks, a
  finish chunk, a usage chunk when ``stream_options.include_usage``, then ``data: [DONE]``).
* Errors as OpenAI writes them, ``{"error": {"message", "type", "param", "code"}}``, or as FastAPI servers do
  (``{"detail": "…"}``) with ``detail_errors = True``.
* Authentication: with `auth_keys` set, ``Authorization: Bearer <key>`` must hold one of them, else 401, whose
  message quotes the key partly masked, as OpenAI's does. An unknown model answers 404 ``model_not_found``.

The "model": it finds the JSON document in the last user message (after the last line ``JSON:``, see
`translate.backends.llm_prompt`), replaces every string in it by its `pseudo_localise` (placeholders ``⟦n⟧`` pass
untouched), and answers the document as compact JSON. A message without a document gets a chatty non-JSON answer.
Usage: prompt tokens = characters of all text content / 4, completion tokens = characters of the answer / 2 (both
rounded up). An answer longer than ``max_tokens`` tokens is cut there, with ``finish_reason: "length"``.

Faults (attributes; counters are consumed one chat request at a time, thread-safely, in this order of precedence;
a request gets at most one of the content faults, from ``fences`` on, the first in the table that applies to it):

================================  ======================================================================================
``too_many_requests = n``         429 with ``Retry-After: retry_after`` (default "0.05")
``server_errors = n``             500
``quota_exhausted = True``        every request answers 429 ``insufficient_quota``
``fail_after = N``                once N chat requests have been answered 200, every later one answers 500 (an
                                  outage; set back to None to end it)
``reject_response_format = True`` a request with ``response_format`` answers 400 (a server without structured output)
``fences = n``                    the answer is wrapped in a ```json code fence
``chatter = n``                   a sentence before and after the JSON
``drop_key = n``                  the last text of the first record is missing
``echo = n``                      the document comes back untranslated
``truncate = n``                  the answer is cut in half, ``finish_reason: "length"``
``invalid_json = n``              the answer loses its closing brace
``swap = n``                      the translations of two texts whose lengths differ at least twofold trade places
                                  (not consumed by a request that has no such pair)
``drop_placeholder = n``          the first ``⟦n⟧`` of the document is missing from its translation (not consumed by a
                                  request without one)
``stream_done = False``           a stream ends without ``data: [DONE]`` (transformers serve)
``resets`` / ``slow`` / ``delay`` see `FakeHTTPServer` (``delay`` is the per-request latency)
================================  ======================================================================================

Counters: `chat_requests` (answered 200), `answered` (status → count), `faults_done` (fault → count), `texts_translated`,
and `chat_log`: one entry per chat request with ``model``, ``texts`` (the document's strings), ``user`` (the last
user message's text), ``response_format`` (type or None), ``stream``, ``images``, ``status``, ``fault`` and, when
answered, ``usage``.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import Counter
from typing import Any

from translate.backends.pseudo import pseudo_localise

from ._http import RESET, FakeHTTPServer, Reply, Request

DOCUMENT_MARKER = "\nJSON:\n"
CONTENT_FAULTS = ("fences", "chatter", "drop_key", "echo", "truncate", "invalid_json", "swap", "drop_placeholder")


class FakeOpenAI(FakeHTTPServer):
    def __init__(self, models: tuple[str, ...] | list[str] = ("fake-llm",), auth_keys: set[str] | None = None,
                 delay: float = 0.0):
        super().__init__()
        self.models = list(models)
        self.auth_keys = set(auth_keys) if auth_keys else None
        self.delay = delay
        self.too_many_requests = 0
        self.retry_after = "0.05"
        self.server_errors = 0
        self.quota_exhausted = False
        self.fail_after: int | None = None
        self.reject_response_format = False
        self.detail_errors = False
        self.stream_done = True
        for name in CONTENT_FAULTS:
            setattr(self, name, 0)
        self.chat_requests = 0
        self.texts_translated = 0
        self.answered: Counter[int] = Counter()
        self.faults_done: Counter[str] = Counter()
        self.chat_log: list[dict[str, Any]] = []

    def faulty(self, request: Request) -> bool:
        return request.path.rstrip("/").endswith("/chat/completions")

    # -- dispatch --------------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply | type[RESET]:
        if self.auth_keys is not None:
            auth = request.headers.get("authorization", "")
            key = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
            if key not in self.auth_keys:
                masked = (key[:3] + "*" * 8 + key[-4:]) if len(key) > 8 else "***"
                if self.faulty(request):
                    with self.lock:
                        self.answered[401] += 1
                return self._error(401, f"Incorrect API key provided: {masked}. You can find your API key at "
                                        "https://platform.openai.com/account/api-keys.", "invalid_api_key")
        path = request.path.rstrip("/")
        if path == "/v1/models" and request.method == "GET":
            return Reply.json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in self.models]})
        if path == "/v1/chat/completions" and request.method == "POST":
            entry: dict[str, Any] = {"status": None, "fault": None}
            reply = self._chat(request, entry)
            with self.lock:
                entry["status"] = reply.status
                self.answered[reply.status] += 1
                self.chat_log.append(entry)
            return reply
        return self._error(404, f"Unknown path {request.path}", None)

    def _error(self, status: int, message: str, code: str | None, param: str | None = None,
               **headers: str) -> Reply:
        if self.detail_errors:
            return Reply.json(status, {"detail": message}, **headers)
        kind = {401: "invalid_request_error", 404: "invalid_request_error", 429: "rate_limit_exceeded",
                500: "server_error"}.get(status, "invalid_request_error")
        return Reply.json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}},
                          **headers)

    # -- chat ------------------------------------------------------------------------------------------------------
    def _chat(self, request: Request, entry: dict[str, Any]) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return self._error(400, "We could not parse the JSON body of your request.", None)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
            return self._error(400, "'messages' is a required property", None, "messages")
        model = body.get("model")
        entry.update(model=model, stream=bool(body.get("stream")),
                     response_format=(body.get("response_format") or {}).get("type"))
        if model not in self.models:
            return self._error(404, f"The model `{model}` does not exist or you do not have access to it.",
                               "model_not_found")
        text, images = _last_user_text(body["messages"])
        entry["images"] = images
        entry["user"] = text
        document = _document(text)
        entry["texts"] = _strings(document) if document is not None else []
        if self._take("too_many_requests"):
            self._done("too_many_requests", entry)
            return self._error(429, "Rate limit reached for requests. Please try again in 50ms.",
                               "rate_limit_exceeded", **{"Retry-After": self.retry_after})
        if self._take("server_errors") or (self.fail_after is not None and self.chat_requests >= self.fail_after):
            self._done("server_errors", entry)
            return self._error(500, "The server had an error while processing your request.", None)
        if self.quota_exhausted:
            return self._error(429, "You exceeded your current quota, please check your plan and billing details.",
                               "insufficient_quota")
        rf = body.get("response_format")
        if rf is not None:
            if self.reject_response_format:
                return self._error(400, "response_format of type json_schema is not supported by this model",
                                   None, "response_format")
            if rf.get("type") == "json_schema" and not isinstance((rf.get("json_schema") or {}).get("schema"), dict):
                return self._error(400, "response_format.json_schema.schema is required", None, "response_format")
            if rf.get("type") not in ("json_schema", "json_object", "text"):
                return self._error(400, f"Invalid value for response_format.type: {rf.get('type')!r}", None,
                                   "response_format")
        content, finish = self._answer(document, entry)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if max_tokens is not None and math.ceil(len(content) / 2) > int(max_tokens):
            content, finish = content[:int(max_tokens) * 2], "length"
        prompt_chars = sum(len(t) for t in _all_text(body["messages"]))
        usage = {"prompt_tokens": math.ceil(prompt_chars / 4), "completion_tokens": math.ceil(len(content) / 2)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        entry["usage"] = usage
        with self.lock:
            self.chat_requests += 1
            self.texts_translated += len(entry["texts"])
        cid = "chatcmpl-" + uuid.uuid4().hex[:12]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return self._sse(cid, model, content, finish, usage if include_usage else None)
        return Reply.json(200, {
            "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": finish}],
            "usage": usage})

    def _done(self, fault: str, entry: dict[str, Any]) -> None:
        with self.lock:
            self.faults_done[fault] += 1
        entry["fault"] = fault

    def _answer(self, document: Any, entry: dict[str, Any]) -> tuple[str, str]:
        if document is None:
            return "I'm sorry, I am not sure what you would like me to translate. Could you share the text?", "stop"
        translated = _translate(document)
        text, finish = json.dumps(translated, ensure_ascii=False), "stop"
        fault = next((name for name in CONTENT_FAULTS if getattr(self, name) and self._applies(name, document)),
                     None)
        if fault is None or not self._take(fault):
            return text, finish
        self._done(fault, entry)
        leaves = _leaves(translated)
        if fault == "swap":
            i, j = self._swap_pair(document)
            (oi, ki), (oj, kj) = leaves[i], leaves[j]
            oi[ki], oj[kj] = oj[kj], oi[ki]
        elif fault == "drop_placeholder":
            o, k = next((o, k) for o, k in leaves if "⟦" in o[k])
            start = o[k].index("⟦")
            o[k] = o[k][:start] + o[k][o[k].index("⟧", start) + 1:]
        elif fault == "drop_key":
            first = next(iter(translated.values()))
            first.pop(list(first)[-1])
        elif fault == "echo":
            translated = document
        text = json.dumps(translated, ensure_ascii=False)
        if fault == "truncate":
            text, finish = text[:len(text) // 2], "length"
        elif fault == "invalid_json":
            text = text[:-1]
        elif fault == "fences":
            text = f"```json\n{text}\n```"
        elif fault == "chatter":
            text = f"Sure! Here is the translation:\n\n{text}\n\nLet me know if you need anything else."
        return text, finish

    @staticmethod
    def _swap_pair(document: Any) -> tuple[int, int] | None:
        sources = _strings(document)
        return next(((i, j) for i in range(len(sources)) for j in range(i + 1, len(sources))
                     if max(len(sources[i]), len(sources[j])) >= 2 * min(len(sources[i]), len(sources[j]))), None)

    def _applies(self, fault: str, document: Any) -> bool:
        if fault == "swap":
            return self._swap_pair(document) is not None
        if fault == "drop_placeholder":
            return any("⟦" in s for s in _strings(document))
        if fault == "drop_key":
            first = next(iter(document.values()), None)
            return isinstance(first, dict) and bool(first)
        return True

    def _sse(self, cid: str, model: str, content: str, finish: str, usage: dict[str, int] | None) -> Reply:
        def chunk(delta: dict[str, Any] | None, finish_reason: str | None = None, use: Any = None) -> str:
            payload: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                                       "model": model,
                                       "choices": [] if delta is None else
                                       [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
            if use is not None:
                payload["usage"] = use
            return "data: " + json.dumps(payload, ensure_ascii=False) + "\n\n"

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": content[i:i + 16]}) for i in range(0, len(content), 16)]
        events.append(chunk({}, finish))
        if usage is not None:
            events.append(chunk(None, use=usage))
        if self.stream_done:
            events.append("data: [DONE]\n\n")
        return Reply.text(200, "".join(events), "text/event-stream")


# -- helpers --------------------------------------------------------------------------------------------------------

def _all_text(messages: list[Any]) -> list[str]:
    out = []
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return out


def _last_user_text(messages: list[Any]) -> tuple[str, int]:
    """The text of the last user message, and how many image parts it has."""
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                return content, 0
            if isinstance(content, list):
                text = "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
                images = sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url"
                             and str((p.get("image_url") or {}).get("url", "")).startswith("data:image/"))
                return text, images
    return "", 0


def _document(text: str) -> Any:
    at = text.rfind(DOCUMENT_MARKER)
    if at == -1:
        return None
    try:
        value = json.loads(text[at + len(DOCUMENT_MARKER):])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _translate(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _translate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_translate(v) for v in value]
    if isinstance(value, str):
        return pseudo_localise(value)
    return value


def _leaves(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every string, in document order."""
    out: list[tuple[Any, Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for k, v in items:
        if isinstance(v, str):
            out.append((value, k))
        else:
            out += _leaves(v)
    return out


def _strings(value: Any) -> list[str]:
    return [o[k] for o, k in _leaves(value)]

"""LLM translation through any OpenAI-compatible chat server (vLLM, OpenAI, Gemini, Ollama, llama.cpp, transformers).

* **Whole records per request.** The pipeline hands over records (`translate_records`); the turns of one record travel
  in one request, with the record's other turns as read-only context, so one conversation keeps one speech level and
  one rendering of each term. Short records are packed up to `records_per_request` per request and `request_chars`
  characters; a longer record is split at turn boundaries, its earlier turns given as context. The wire format and
  the prompt are in `llm_prompt`.
* **Every reply is checked** (`llm_reply.check_reply`) before anything is returned: it parses, has the same keys,
  keeps every placeholder exactly once, is no echo, no swap, and was not cut off. A failing reply is retried on half
  the records, then record by record (a cut-off record is split at its turns), then once more with a note saying what
  was wrong; after that its texts get None: nothing is stored, the record is rejected as ``backend_failed``, and a
  rerun tries again. A malformed reply never becomes a translation.
* **Structured output.** ``structured_output=auto`` sends a strict JSON schema (``response_format``); a server that
  answers 400/422 about it gets plain instructions from then on. ``json_schema`` insists, ``json_object`` asks for
  JSON mode, ``none`` never sends one.
* **Concurrency.** asyncio with the official `openai` client (``AsyncOpenAI``) on the backend's own event loop:
  `concurrency` requests in flight. Threads would work as well, but one loop holds hundreds of waiting requests
  cheaply, and splitting a failed request into halves is two more coroutines, not two more threads.
* **Errors.** The client's own retries are off; 429, 5xx, timeouts and dropped connections wait here
  (`translate.retry.Backoff`, honouring ``Retry-After``), each retry logged on ``translate.backends.openai``.
  401/403 → `AuthenticationError`; an unknown model (404, or a server pinned to another name) →
  `ModelNotFoundError` naming the models the server does serve; 429 ``insufficient_quota`` → `QuotaExceededError`;
  retries exhausted → `BackendError` with `partial` holding what did finish. Finished work is in the memory; a rerun
  resumes.
* **The key** is read from the environment variable `api_key_env` at the first request, never stored elsewhere,
  never logged, and scrubbed from any server message quoted in an error. Without one, a placeholder key is sent (the
  client needs one; local servers ignore it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from translate.backends.base import Backend, Capabilities, RecordTexts
from translate.backends.llm_prompt import (
    DEFAULT_SPEECH_LEVEL,
    SCHEMA_VERSION,
    image_data_url,
    load_prompt,
    response_format,
    text_key,
    user_text,
)
from translate.backends.llm_reply import FAILURE_KINDS, Failure, check_reply
from translate.errors import (
    AuthenticationError,
    BackendError,
    ConfigError,
    ModelNotFoundError,
    QuotaExceededError,
)
from translate.retry import Backoff

log = logging.getLogger("translate.backends.openai")

STRUCTURED_MODES = ("auto", "json_schema", "json_object", "none")
NO_KEY = "sk-no-key-required"
_SCHEMA_REJECTED = re.compile(r"response_format|json_schema|structured|guided|grammar|schema", re.IGNORECASE)
_TOO_LONG = re.compile(r"context length|context_length|maximum context|too long|too many tokens|max_tokens|"
                       r"reduce the length", re.IGNORECASE)
# Characters per token, for `estimate_usage`: English prompts run about 4 characters a token in the tokenizers of
# current open and commercial models; CJK and Thai output about 1.5 characters (a token per syllable or two), other
# scripts about 3.
_SOURCE_CHARS_PER_TOKEN = 4.0
_TARGET_TOKENS_PER_SOURCE_CHAR = {"ko": 0.45, "ja": 0.5, "zh": 0.4, "th": 0.5, "vi": 0.33}
_DEFAULT_TARGET_TOKENS_PER_SOURCE_CHAR = 0.33
_TOKENS_PER_TEXT = 8  # the key, quotes and punctuation of one text in the document, each way
_TEXTS_PER_RECORD_GUESS = 4  # LLaVA instruct records average about four translated turns


@dataclass
class _Item:
    """One record's share of a request: which of its texts, and which turns go along as context."""

    record: int
    texts: list[int]
    context: list[tuple[str, str]]


@dataclass
class _Unit:
    items: list[_Item]
    attempts: int = 0
    note: str | None = None


@dataclass
class _Answer:
    content: str | None
    finish_reason: str | None
    refusal: str | None = None


@dataclass
class _Run:
    """State of one `translate_records` call."""

    records: list[RecordTexts]
    results: list[list[str | None]]
    semaphore: asyncio.Semaphore
    abort: BaseException | None = None
    pending: set = field(default_factory=set)


def check_options(model: str, base_url: str, structured_output: str, image_root: str | None, counts: dict[str, int],
                  retries: int, reply_retries: int, few_shot: int, backoff: float, timeout: float,
                  prices: tuple[float, float]) -> None:
    """ConfigError naming the options of `OpenAIBackend` that cannot work. `counts`: the options that must be at
    least 1, by name."""
    if not model.strip():
        raise ConfigError("openai: name the model with --opt model=NAME (the exact name the server serves; "
                          "GET <base_url>/models lists them)")
    split = urlsplit(base_url)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise ConfigError(f"openai: base_url must be an http(s) URL, not {base_url!r}")
    if structured_output not in STRUCTURED_MODES:
        raise ConfigError(f"openai: structured_output must be one of {', '.join(STRUCTURED_MODES)}, "
                          f"not {structured_output!r}")
    too_small = [name for name, value in counts.items() if value < 1]
    if too_small:
        raise ConfigError(f"openai: {', '.join(too_small)} must be at least 1")
    if retries < 0 or reply_retries < 0 or few_shot < 0 or backoff < 0 or timeout <= 0:
        raise ConfigError("openai: retries, reply_retries, few_shot and backoff must not be negative, "
                          "timeout must be positive")
    if min(prices) < 0:
        raise ConfigError("openai: prices must not be negative")
    if image_root is not None and not Path(image_root).expanduser().is_dir():
        raise ConfigError(f"openai: image_root {image_root} is not a folder")


class OpenAIBackend(Backend):
    """Translation by an LLM behind an OpenAI-compatible server, whole records per request (docs/llm.md).

    Options (``--opt key=value``): `model`: the name the server serves (required). `base_url`: the server's
    OpenAI-compatible root, ending in /v1. `api_key_env`: the environment variable holding the key.
    `concurrency`: requests in flight. `records_per_request` and `request_chars`: how many records, and at most
    how many source characters, one request packs. `structured_output`: auto | json_schema | json_object | none.
    `stream`: read replies as server-sent events. `image_root`: a folder holding the records' images; each
    request then carries its record's image, its longer side downscaled to `image_max_side` pixels.
    `prompt_file`: the system prompt (default: ``llm_prompt.md`` of the target language's glossary folder).
    `speech_level`: formal | polite | plain, or any wording for the prompt. `few_shot`: curated templates shown
    as an example exchange. `retries`: per request, for 429, 5xx and network errors; `reply_retries`: extra
    tries for one record whose reply failed the checks. `backoff`/`max_backoff`: seconds before the first retry,
    doubling up to the cap. Prices per million tokens make `usage` and `estimate` show a cost.
    """

    name = "openai"
    requires = ("openai",)
    extra = "openai"
    capabilities: ClassVar[Capabilities] = Capabilities(record_context=True)

    def __init__(
        self,
        source_lang: str,
        target_lang: str,
        model: str = "",
        base_url: str = "https://api.openai.com/v1",
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 8,
        temperature: float = 0.0,
        max_tokens: int = 4096,
        records_per_request: int = 8,
        request_chars: int = 4000,
        structured_output: str = "auto",
        stream: bool = False,
        image_root: str | None = None,
        image_max_side: int = 768,
        prompt_file: str | None = None,
        speech_level: str = DEFAULT_SPEECH_LEVEL,
        few_shot: int = 0,
        timeout: float = 300.0,
        retries: int = 8,
        reply_retries: int = 1,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        price_prompt_per_million: float = 0.0,
        price_completion_per_million: float = 0.0,
    ):
        super().__init__(source_lang, target_lang)
        check_options(model, base_url, structured_output, image_root,
                      dict(concurrency=concurrency, max_tokens=max_tokens, records_per_request=records_per_request,
                           request_chars=request_chars, image_max_side=image_max_side),
                      retries, reply_retries, few_shot, backoff, timeout,
                      (price_prompt_per_million, price_completion_per_million))
        self.model = model.strip()
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.temperature = temperature
        self.max_tokens = max_tokens
        # One picture per request: with images, a request holds one record.
        self.records_per_request = 1 if image_root else records_per_request
        self.request_chars = request_chars
        self.structured_output = structured_output
        self._structured = "json_schema" if structured_output == "auto" else structured_output
        self.stream = stream
        self.image_root = Path(image_root).expanduser() if image_root else None
        self.image_max_side = image_max_side
        self.speech_level = speech_level
        self.prompt = load_prompt(source_lang, target_lang, prompt_file, speech_level, few_shot)
        self.timeout = timeout
        self.retries = retries
        self.reply_retries = reply_retries
        self.policy = Backoff(base=backoff, cap=max_backoff)
        self.price_prompt = price_prompt_per_million
        self.price_completion = price_completion_per_million
        self.capabilities = Capabilities(record_context=True, billed=bool(price_prompt_per_million
                                                                           or price_completion_per_million))
        # A pipeline batch (records, or single texts) is about two rounds of full requests: enough to keep
        # `concurrency` requests busy, little to lose to a kill.
        self.max_batch_texts = max(16, 2 * concurrency * self.records_per_request)
        self.max_batch_chars = 2 * concurrency * request_chars
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._key: str | None = None
        self._served: list[str] | None = None
        self._images_warned: set[str] = set()
        self.counters: dict[str, Any] = {
            "requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "records_sent": 0, "texts_sent": 0,
            "retries": 0, "reply_retries": 0, "texts_failed": 0, "images_sent": 0, "images_missing": 0,
        }
        self.failed_replies: Counter[str] = Counter()

    # -- identity --------------------------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        images = f"images={self.image_max_side}" if self.image_root else "images=off"
        return (f"openai/{self.model}/prompt={self.prompt.digest}/temperature={self.temperature:g}/"
                f"schema={SCHEMA_VERSION}/speech={self.speech_level}/{images}")

    def usage(self) -> dict[str, Any]:
        c = self.counters
        cost = (c["prompt_tokens"] * self.price_prompt + c["completion_tokens"] * self.price_completion) / 1e6
        return {
            "model": self.model,
            "requests": c["requests"],
            "prompt_tokens": c["prompt_tokens"],
            "completion_tokens": c["completion_tokens"],
            "records_per_request": round(c["records_sent"] / c["requests"], 2) if c["requests"] else 0.0,
            "texts_sent": c["texts_sent"],
            "retries": c["retries"],
            "reply_retries": c["reply_retries"],
            "failed_replies": {k: self.failed_replies[k] for k in FAILURE_KINDS if self.failed_replies[k]},
            "texts_failed": c["texts_failed"],
            "images_sent": c["images_sent"],
            "images_missing": c["images_missing"],
            "structured_output": self._structured,
            "estimated_cost": round(cost, 6),
        }

    def estimate_usage(self, texts: list[str]) -> dict[str, Any]:
        """A rough prediction for `estimate`, from characters alone (no tokenizer, no request):

        * requests: the texts packed as the backend packs them, up to `request_chars` characters and
          `records_per_request` × 4 texts (LLaVA records average about four translated turns);
        * prompt tokens: per request, the system prompt and few-shot example (at 3 characters a token: they mix
          English and the target script) plus 60 tokens of instructions; per text, its characters / 4 + 8;
        * completion tokens: per text, its characters × 0.45 for Korean (0.5 Japanese, 0.4 Chinese, 0.33 for
          Latin-script targets) + 8: LLM tokenizers spend about one token per one or two Hangul syllables.

        Expect ±30 %; the manifest of a real run has the counted figures."""
        requests, chars, in_request = 0, 0, 0
        limit = self.records_per_request * _TEXTS_PER_RECORD_GUESS
        for text in texts:
            if in_request and (chars + len(text) > self.request_chars or in_request >= limit):
                requests += 1
                chars, in_request = 0, 0
            chars += len(text)
            in_request += 1
        requests += 1 if in_request else 0
        fixed = len(self.prompt.system) + sum(len(str(m["content"])) for m in self.prompt.examples)
        total_chars = sum(map(len, texts))
        ratio = _TARGET_TOKENS_PER_SOURCE_CHAR.get(self.target_lang.split("-")[0].lower(),
                                                   _DEFAULT_TARGET_TOKENS_PER_SOURCE_CHAR)
        prompt_tokens = requests * (math.ceil(fixed / 3) + 60) + math.ceil(total_chars / _SOURCE_CHARS_PER_TOKEN) \
            + _TOKENS_PER_TEXT * len(texts)
        completion_tokens = math.ceil(total_chars * ratio) + _TOKENS_PER_TEXT * len(texts)
        cost = (prompt_tokens * self.price_prompt + completion_tokens * self.price_completion) / 1e6
        return {"requests": requests, "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "estimated_cost": round(cost, 6), "price_prompt_per_million": self.price_prompt,
                "price_completion_per_million": self.price_completion}

    # -- the synchronous surface -----------------------------------------------------------------------------------
    def translate(self, texts: list[str]) -> list[str | None]:
        """Each text as a one-text record (where no record grouping exists, e.g. cluster shards)."""
        grouped = self.translate_records([RecordTexts([t], ["text"]) for t in texts])
        return [g[0] for g in grouped]

    def translate_records(self, records: list[RecordTexts]) -> list[list[str | None]]:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._translate_all(records))

    def close(self) -> None:
        if self._loop is None:
            return
        if self._client is not None:
            self._loop.run_until_complete(self._client.close())
            self._client = None
        self._loop.close()
        self._loop = None

    # -- packing ---------------------------------------------------------------------------------------------------
    def _units(self, records: list[RecordTexts]) -> list[_Unit]:
        """Requests for `records`, in order: small records packed together, a long one split at its turns."""
        units: list[_Unit] = []
        current: list[_Item] = []
        chars = 0
        for r, record in enumerate(records):
            if not record.texts:
                continue
            size = sum(map(len, record.texts))
            if size > self.request_chars and len(record.texts) > 1:
                for item in self._split_record(r, record):
                    units.append(_Unit([item]))
                continue
            if current and (chars + size > self.request_chars or len(current) >= self.records_per_request):
                units.append(_Unit(current))
                current, chars = [], 0
            current.append(_Item(r, list(range(len(record.texts))), list(record.context)))
            chars += size
        if current:
            units.append(_Unit(current))
        return units

    def _split_record(self, r: int, record: RecordTexts) -> list[_Item]:
        chunks: list[list[int]] = [[]]
        chars = 0
        for i, text in enumerate(record.texts):
            if chunks[-1] and chars + len(text) > self.request_chars:
                chunks.append([])
                chars = 0
            chunks[-1].append(i)
            chars += len(text)
        return [self._chunk(r, record, chunk) for chunk in chunks]

    @staticmethod
    def _chunk(r: int, record: RecordTexts, texts: list[int]) -> _Item:
        """An item for some texts of a record: its context, plus the record's earlier texts (in source)."""
        earlier = [(record.texts[i], record.roles[i]) for i in range(texts[0])]
        return _Item(r, texts, list(record.context) + earlier)

    # -- one run ---------------------------------------------------------------------------------------------------
    async def _translate_all(self, records: list[RecordTexts]) -> list[list[str | None]]:
        run = _Run(records, [[None] * len(r.texts) for r in records], asyncio.Semaphore(self.concurrency))
        outcomes = await asyncio.gather(*(self._solve(run, u) for u in self._units(records)),
                                        return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, BackendError):
                raise outcome
        if run.abort is not None:
            stop = run.abort
            if isinstance(stop, BackendError):
                # Requests that were answered before the stop are kept: the pipeline stores them.
                stop.partial = [t for texts in run.results for t in texts]
            raise stop
        return run.results

    async def _solve(self, run: _Run, unit: _Unit) -> None:
        """Translate a unit into `run.results`, splitting and retrying a reply that fails the checks."""
        if run.abort is not None:
            return
        try:
            reply = await self._attempt(run, unit)
        except BackendError as exc:
            if run.abort is None:
                run.abort = exc
            raise
        if reply is None:  # the run stopped while this unit waited for its turn
            return
        if not isinstance(reply, Failure):
            for n, item in enumerate(unit.items, 1):
                got = reply[f"r{n}"]
                roles = run.records[item.record].roles
                for i in item.texts:
                    run.results[item.record][i] = got[text_key(roles[i], i + 1)]
            return
        self.failed_replies[reply.kind] += 1
        ids = ", ".join(self._record_name(run, item) for item in unit.items)
        log.warning("openai: reply for %s failed its check (%s: %s)", ids, reply.kind, reply.detail)
        if len(unit.items) > 1:
            half = len(unit.items) // 2
            await _all(self._solve(run, _Unit(unit.items[:half])), self._solve(run, _Unit(unit.items[half:])))
            return
        item = unit.items[0]
        if reply.kind == "length" and len(item.texts) > 1:
            record = run.records[item.record]
            half = len(item.texts) // 2
            first = _Item(item.record, item.texts[:half], item.context)
            second = self._chunk(item.record, record, item.texts[half:])
            await _all(self._solve(run, _Unit([first])), self._solve(run, _Unit([second])))
            return
        if unit.attempts < self.reply_retries:
            self.counters["reply_retries"] += 1
            note = (f"Your previous answer to this request was not usable ({reply.detail}). Answer with the JSON "
                    "document only, every key kept, every ⟦n⟧ marker copied exactly once.")
            await self._solve(run, _Unit(unit.items, unit.attempts + 1, note))
            return
        self.counters["texts_failed"] += len(item.texts)
        log.warning("openai: giving up on %s after %d tries (%s); its record is rejected and a rerun tries again",
                    ids, unit.attempts + 1, reply.kind)

    @staticmethod
    def _record_name(run: _Run, item: _Item) -> str:
        rid = run.records[item.record].record_id
        return f"record {rid!r}" if rid is not None else f"text {item.record + 1} of the batch"

    async def _attempt(self, run: _Run, unit: _Unit) -> dict[str, dict[str, str]] | Failure | None:
        document: dict[str, dict[str, str]] = {}
        context: dict[str, list[tuple[str, str]]] = {}
        for n, item in enumerate(unit.items, 1):
            record = run.records[item.record]
            document[f"r{n}"] = {text_key(record.roles[i], i + 1): record.texts[i] for i in item.texts}
            context[f"r{n}"] = item.context
        content: Any = user_text(document, context, self.target_lang, self.source_lang, unit.note)
        image = await self._image_part(run.records[unit.items[0].record]) if self.image_root else None
        if image is not None:
            content = [{"type": "text", "text": content}, image]
        messages = [{"role": "system", "content": self.prompt.system}, *self.prompt.examples,
                    {"role": "user", "content": content}]
        async with run.semaphore:
            if run.abort is not None:
                return None
            answer = await self._complete(messages, document)
        if isinstance(answer, Failure):
            return answer
        self.counters["records_sent"] += len(unit.items)
        self.counters["texts_sent"] += sum(len(texts) for texts in document.values())
        self.counters["images_sent"] += image is not None
        return check_reply(document, answer.content, answer.finish_reason, answer.refusal)

    async def _image_part(self, record: RecordTexts) -> dict[str, Any] | None:
        if not record.image:
            return None
        assert self.image_root is not None
        path = self.image_root / record.image
        try:
            url, _ = await asyncio.to_thread(image_data_url, path, self.image_max_side)
        except OSError as exc:
            self.counters["images_missing"] += 1
            name = f"record {record.record_id!r}" if record.record_id is not None else "a record"
            log.warning("openai: %s: image %s cannot be read (%s); translating it without the image", name, path,
                        getattr(exc, "strerror", None) or exc)
            return None
        return {"type": "image_url", "image_url": {"url": url}}

    # -- the HTTP call ---------------------------------------------------------------------------------------------
    def _get_client(self) -> Any:
        if self._client is None:
            try:
                from openai import AsyncOpenAI
            except ImportError:
                raise ConfigError("the openai backend needs the openai package: pip install "
                                  "'llava-translate[openai]'") from None
            self._key = os.environ.get(self.api_key_env, "").strip() or None
            self._client = AsyncOpenAI(api_key=self._key or NO_KEY, base_url=self.base_url, timeout=self.timeout,
                                       max_retries=0)
        return self._client

    def _scrub(self, text: str) -> str:
        """A server message with the key, and anything that looks like a (masked) key, taken out."""
        if self._key:
            text = text.replace(self._key, "***")
        return re.sub(r"\b(sk|key|AIza)[-_A-Za-z0-9*.]{6,}", "***", str(text))[:300]

    async def _complete(self, messages: list[dict[str, Any]], document: dict[str, dict[str, str]]
                        ) -> _Answer | Failure:
        """One chat completion, retried through 429, 5xx and network errors."""
        import openai

        client = self._get_client()
        attempt = 0
        while True:
            kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": self.temperature,
                                      "max_tokens": self.max_tokens}
            if self._structured == "json_schema":
                kwargs["response_format"] = response_format(document)
            elif self._structured == "json_object":
                kwargs["response_format"] = {"type": "json_object"}
            try:
                answer = await (self._streamed(client, kwargs) if self.stream else self._plain(client, kwargs))
                return answer
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise AuthenticationError(
                    f"openai: the server at {self.base_url} refused the credentials ({exc.status_code}). Check the "
                    f"key in the environment variable {self.api_key_env}"
                    + ("" if self._key else " (it is not set)") + ".") from None
            except openai.NotFoundError as exc:
                raise await self._not_found(exc) from None
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                message = self._scrub(_message(exc))
                if "response_format" in kwargs and self.structured_output == "auto" \
                        and _SCHEMA_REJECTED.search(message):
                    log.warning("openai: the server does not accept response_format (%s); sending plain "
                                "instructions from now on", message[:120])
                    self._structured = "none"
                    continue
                if "model" in message.lower() and await self._model_missing():
                    raise await self._not_found(exc) from None
                if _TOO_LONG.search(message):
                    return Failure("length", f"the request is too long for the model ({message[:120]})")
                raise BackendError(f"openai: the server at {self.base_url} rejected the request "
                                   f"({exc.status_code}): {message}") from None
            except openai.APIStatusError as exc:
                status = exc.status_code
                message = self._scrub(_message(exc))
                if status == 429 and (exc.code == "insufficient_quota" or "quota" in message.lower()
                                      and "rate" not in message.lower()):
                    raise QuotaExceededError(
                        f"openai: the account's quota is exhausted ({message}). Everything translated so far is in "
                        "the translation memory; rerun the same command when the quota allows.") from None
                if status == 413:
                    return Failure("length", "the request is too large for the server (413)")
                if status != 429 and status < 500 and status != 408:
                    raise BackendError(f"openai: the server at {self.base_url} answered {status}: {message}") \
                        from None
                reason = f"{status} {message[:80]}"
                retry_after = exc.response.headers.get("retry-after")
            except (openai.APIConnectionError, openai.APIError, ValueError) as exc:
                # Dropped connections, timeouts, an error event inside a stream, a garbled answer body.
                reason = f"{type(exc).__name__}: {self._scrub(_message(exc))[:80]}"
                retry_after = None
            if attempt >= self.retries:
                raise BackendError(
                    f"openai: the server at {self.base_url} kept failing after {attempt} retries (last: {reason}). "
                    "Everything translated so far is in the translation memory; rerun the same command to resume.")
            wait = self.policy.wait(attempt, retry_after)
            self.counters["retries"] += 1
            log.warning("openai: %s; retry %d in %.1fs", reason, attempt + 1, wait)
            await asyncio.sleep(wait)
            attempt += 1

    def _count(self, usage: Any) -> None:
        self.counters["requests"] += 1
        if usage is not None:
            self.counters["prompt_tokens"] += int(getattr(usage, "prompt_tokens", 0) or 0)
            self.counters["completion_tokens"] += int(getattr(usage, "completion_tokens", 0) or 0)

    async def _plain(self, client: Any, kwargs: dict[str, Any]) -> _Answer:
        response = await client.chat.completions.create(**kwargs)
        self._count(response.usage)
        if not response.choices:
            return _Answer(None, None)
        choice = response.choices[0]
        message = choice.message
        return _Answer(message.content, choice.finish_reason, getattr(message, "refusal", None))

    async def _streamed(self, client: Any, kwargs: dict[str, Any]) -> _Answer:
        """Server-sent events, read to the end of the stream: a server that closes it without ``[DONE]``
        (transformers serve) is fine; the finish reason comes from the last chunk that has one."""
        stream = await client.chat.completions.create(**kwargs, stream=True,
                                                      stream_options={"include_usage": True})
        parts: list[str] = []
        finish = None
        usage = None
        async for chunk in stream:
            if getattr(chunk, "usage", None) is not None:
                usage = chunk.usage
            for choice in chunk.choices or []:
                if choice.delta is not None and choice.delta.content:
                    parts.append(choice.delta.content)
                if choice.finish_reason:
                    finish = choice.finish_reason
        self._count(usage)
        return _Answer("".join(parts), finish)

    async def _model_missing(self) -> bool:
        served = await self._served_models()
        return served is not None and self.model not in served

    async def _served_models(self) -> list[str] | None:
        if self._served is None:
            try:
                page = await self._get_client().models.list()
                self._served = [m.id for m in page.data]
            except Exception:  # noqa: BLE001  (the listing is only a hint for the error message)
                return None
        return self._served

    async def _not_found(self, exc: Exception) -> BackendError:
        served = await self._served_models()
        if served is not None and self.model not in served:
            listing = ", ".join(served[:10]) or "none"
            return ModelNotFoundError(f"openai: the server at {self.base_url} does not serve the model "
                                      f"{self.model!r} (it serves: {listing}). Pass the exact name with "
                                      "--opt model=NAME.")
        return BackendError(f"openai: {self.base_url} answered 404 ({self._scrub(_message(exc))}); check that "
                            "base_url ends in /v1 and the model name is right")


async def _all(*coroutines: Any) -> None:
    """Run all to the end (none is left running behind the caller's back), then raise the first failure."""
    outcomes = await asyncio.gather(*coroutines, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def _message(exc: Exception) -> str:
    """The server's own words: OpenAI's ``{"error": {"message"}}``, FastAPI's ``{"detail"}``, or the text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        if isinstance(body.get("error"), dict) and body["error"].get("message"):
            return str(body["error"]["message"])
        for key in ("message", "detail", "error"):
            if body.get(key):
                return str(body[key])
    if isinstance(body, str) and body:
        return body
    return str(getattr(exc, "message", None) or exc)

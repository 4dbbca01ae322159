"""DeepL through the official `deepl` package.

* The key comes from the environment variable ``DEEPL_AUTH_KEY`` only, and only when the first request is made, so
  `estimate` and memory-only reruns need no key. It is never printed, logged or written.
* Requests are packed within DeepL's limits: at most 50 texts and 128 KiB of request body each.
* Protected spans travel as ``<x i="0">span</x>`` with ``tag_handling="xml"`` and ``ignore_tags=["x"]``: DeepL leaves
  their content alone and may move them in the sentence. The prose around them is XML-escaped on the way out and
  unescaped on the way back, so ``&`` and ``<`` in captions survive.
* Retries: the SDK's own backoff (429 and 5xx, ``deepl.http_client.max_network_retries``), then an outer retry with
  exponential backoff for 429, 5xx, timeouts and dropped connections.
* 456 (quota) raises `QuotaExceededError`, 403 raises `AuthenticationError`. Everything translated before is already
  in the translation memory, so rerunning the same command resumes without paying twice.
* ``billed_characters`` from every answer is summed into `usage()`, which goes into the run manifest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any, ClassVar

from translate.backends.base import Backend, Capabilities
from translate.errors import AuthenticationError, BackendError, ConfigError, QuotaExceededError
from translate.protect import XML_KEEP, XmlKeepStyle, xml_escape, xml_unescape
from translate.retry import Backoff

log = logging.getLogger("translate.backends.deepl")

ENV_KEY = "DEEPL_AUTH_KEY"
MAX_TEXTS = 50
MAX_REQUEST_BYTES = 128 * 1024
# Room for the non-text parameters (target_lang, tag_handling, ignore_tags, formality, glossary_id, ...) and the
# JSON punctuation; `context` is counted separately because it can be long.
_REQUEST_OVERHEAD = 2048

# Targets that take formality "more"/"less" (DeepL answers 400 for others; "prefer_*" is accepted everywhere).
FORMALITY_TARGETS = frozenset("DE ES FR IT JA NL PL PT-BR PT-PT RU".split())
FORMALITIES = ("default", "more", "less", "prefer_more", "prefer_less")
MODEL_TYPES = ("quality_optimized", "prefer_quality_optimized", "latency_optimized")
# ISO codes whose DeepL target needs a variant.
_TARGET_VARIANTS = {"en": "EN-US", "pt": "PT-BR", "zh": "ZH-HANS"}

# One XML placeholder style for every engine with tag handling (translate.protect.XML_KEEP).
DEEPL_XML = XML_KEEP


def to_xml(style: XmlKeepStyle, body: str) -> str:
    """Escape the prose between placeholders; the placeholders themselves are already valid XML."""
    out, last = [], 0
    for m in style.pattern.finditer(body):
        out.append(xml_escape(body[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(xml_escape(body[last:]))
    return "".join(out)


def from_xml(style: XmlKeepStyle, text: str) -> str:
    """Decode entities in the prose; placeholders stay as DeepL returned them (restore checks their content)."""
    out, last = [], 0
    for m in style.pattern.finditer(text):
        out.append(xml_unescape(text[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(xml_unescape(text[last:]))
    return "".join(out)


def _retry_after(exc: Exception) -> str | None:
    """The server's Retry-After, when the SDK exception carries the HTTP response."""
    response = getattr(exc, "http_response", None) or getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return headers.get("Retry-After") if headers is not None else None


def deepl_target(lang: str) -> str:
    lang = lang.strip()
    if "-" in lang or "_" in lang:
        return lang.replace("_", "-").upper()
    return _TARGET_VARIANTS.get(lang.lower(), lang.upper())


def deepl_source(lang: str) -> str:
    return lang.replace("_", "-").split("-")[0].upper()


class DeepLBackend(Backend):
    name = "deepl"
    requires = ("deepl",)
    extra = "deepl"
    placeholder: ClassVar[XmlKeepStyle] = XML_KEEP
    capabilities = Capabilities(billed=True, native_glossary=True)
    max_batch_texts = MAX_TEXTS
    # Characters per batch; the byte limit is enforced again on the encoded request (non-ASCII text grows).
    max_batch_chars = 60_000

    def __init__(
        self,
        source_lang: str,
        target_lang: str,
        server_url: str | None = None,
        formality: str | None = None,
        context: str | None = None,
        model_type: str | None = None,
        glossary_id: str | None = None,
        retries: int = 4,
        rate_limit_retries: int = 10,
        retry_backoff: float = 2.0,
        retry_max_backoff: float = 60.0,
        batch_size: int = MAX_TEXTS,
    ):
        """`server_url`: a proxy or DeepL-compatible server (default: DeepL's own, Free or Pro by the key).
        `formality`: default | more | less | prefer_more | prefer_less; "more"/"less" become "prefer_*" for targets
        DeepL has no formality for (Korean among them), which DeepL then ignores. `context`: text that guides the
        translation, not translated or billed. `model_type`: quality_optimized | prefer_quality_optimized |
        latency_optimized. `glossary_id`: a DeepL glossary to apply (see `sync_glossary`). `retries`: outer retries
        after the SDK's own for 5xx, timeouts and dropped connections; `rate_limit_retries`: the same for 429 (the
        service is up and asks for patience); both wait `retry_backoff` seconds, doubling up to
        `retry_max_backoff`. `batch_size`: texts per request (at most 50)."""
        super().__init__(source_lang, target_lang)
        self.server_url = server_url or None
        self.target_code = deepl_target(target_lang)
        self.source_code = deepl_source(source_lang)
        if formality is not None:
            formality = formality.strip().lower()
            if formality not in FORMALITIES:
                raise ConfigError(f"deepl: formality must be one of {', '.join(FORMALITIES)}, not {formality!r}")
            if formality in ("more", "less") and self.target_code not in FORMALITY_TARGETS:
                formality = "prefer_" + formality
        self.formality = formality
        if model_type is not None and model_type not in MODEL_TYPES:
            raise ConfigError(f"deepl: model_type must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}")
        self.model_type = model_type
        self.context = context or None
        self.glossary_id = glossary_id or None
        self._glossary_digest: str | None = None
        if retries < 0 or rate_limit_retries < 0 or retry_backoff < 0:
            raise ConfigError("deepl: retries, rate_limit_retries and retry_backoff must not be negative")
        self.retries = retries
        self.rate_limit_retries = rate_limit_retries
        self.retry_backoff = retry_backoff
        self.retry_max_backoff = retry_max_backoff
        self._backoff = Backoff(base=retry_backoff, cap=retry_max_backoff)
        if not 1 <= batch_size <= MAX_TEXTS:
            raise ConfigError(f"deepl: batch_size must be between 1 and {MAX_TEXTS}")
        self.max_batch_texts = batch_size
        self._translator: Any = None
        # offline: never contact DeepL (set by `estimate`): `sync_glossary` then only fixes the fingerprint, and the
        # upload waits for the first translation.
        self.offline = False
        self._pending_glossary: tuple[dict[str, str], str] | None = None
        self.counters = {"requests": 0, "texts": 0, "characters_sent": 0, "billed_characters": 0, "retries": 0,
                         "texts_too_large": 0}

    # -- identity --------------------------------------------------------------------------------------------------
    def fingerprint(self) -> str:
        parts = [f"deepl/{self.target_code}"]
        if self.formality and self.formality != "default":
            parts.append(f"formality={self.formality}")
        if self.model_type:
            parts.append(f"model={self.model_type}")
        if self.context:
            parts.append("context=" + hashlib.sha256(self.context.encode()).hexdigest()[:12])
        if self._glossary_digest:
            parts.append(f"glossary={self._glossary_digest}")
        elif self.glossary_id:
            parts.append(f"glossary={self.glossary_id}")
        return "/".join(parts)

    # -- client ----------------------------------------------------------------------------------------------------
    def _client(self):
        if self._translator is None:
            key = os.environ.get(ENV_KEY, "").strip()
            if not key:
                raise ConfigError(f"the deepl backend needs an API key in the environment variable {ENV_KEY}")
            import deepl

            from translate import __version__

            cls = getattr(deepl, "DeepLClient", deepl.Translator)
            self._translator = cls(key, server_url=self.server_url)
            self._translator.set_app_info("llava-translate", __version__)
        return self._translator

    def close(self) -> None:
        if self._translator is not None:
            self._translator.close()
            self._translator = None

    def _call(self, what: str, fn, *args, **kwargs):
        """One SDK call with the error mapping and the outer retry."""
        import deepl

        failures = throttled = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except deepl.AuthorizationException:
                raise AuthenticationError(
                    f"DeepL refused the API key in {ENV_KEY} (403). Check the key, and that a Free key (ending in "
                    f":fx) is not sent to the Pro server or the other way round"
                    + (f" (server: {self.server_url})" if self.server_url else "") + "."
                ) from None
            except deepl.QuotaExceededException:
                raise QuotaExceededError(
                    f"DeepL quota exhausted (456) after {self.counters['billed_characters']:,} billed characters in "
                    "this run. Everything translated so far is saved in the translation memory; when the quota is "
                    "renewed or raised, rerun the same command to resume: nothing already translated is sent again."
                ) from None
            except deepl.DeepLException as exc:
                status = getattr(exc, "http_status_code", None)
                rate_limited = isinstance(exc, deepl.TooManyRequestsException) or status == 429
                transient = (rate_limited or isinstance(exc, deepl.ConnectionException)
                             or getattr(exc, "should_retry", False) or (status is not None and status >= 500))
                if not transient:
                    raise BackendError(f"DeepL {what} failed: {exc}") from None
                # A rate limit means the service works and asks us to slow down: it gets its own, larger budget
                # of patient retries; errors and timeouts get `retries`.
                tries, limit = (throttled, self.rate_limit_retries) if rate_limited else (failures, self.retries)
                if tries >= limit:
                    raise BackendError(
                        f"DeepL {what} still failing after {tries} retries ({exc}). Everything translated so far "
                        "is in the translation memory; rerun the same command to resume."
                    ) from None
                if rate_limited:
                    throttled += 1
                else:
                    failures += 1
                self.counters["retries"] += 1
                self._backoff.sleep(tries, "deepl", f"{what}: {'rate limited (429)' if rate_limited else exc}",
                                    retry_after=_retry_after(exc))
            except ValueError as exc:
                raise BackendError(f"DeepL {what} failed: {exc}") from None

    # -- translate -------------------------------------------------------------------------------------------------
    def request_characters(self, text: str) -> int:
        """Characters DeepL will bill for `text`: as sent, with the prose XML-escaped."""
        return len(to_xml(self.placeholder, text))

    def _request_bytes(self, text: str) -> int:
        # The SDK sends JSON with ensure_ascii, so a non-ASCII character costs up to 12 bytes.
        return len(json.dumps(text)) + 2

    def _budget(self) -> int:
        context = len(json.dumps(self.context)) if self.context else 0
        return MAX_REQUEST_BYTES - _REQUEST_OVERHEAD - context

    def translate(self, texts: list[str]) -> list[str | None]:
        """Translations in order. A text that alone exceeds DeepL's request size gives None: it is not sent, its
        record is rejected, and nothing is stored for it."""
        results: list[str | None] = [None] * len(texts)
        payload = [to_xml(self.placeholder, t) for t in texts]
        budget = self._budget()
        group: list[int] = []
        size = 0
        for i, text in enumerate(payload):
            n = self._request_bytes(text)
            if n > budget:
                self.counters["texts_too_large"] += 1
                continue
            if group and (size + n > budget or len(group) >= self.max_batch_texts):
                self._send(group, payload, results)
                group, size = [], 0
            group.append(i)
            size += n
        if group:
            self._send(group, payload, results)
        return results

    def _send(self, group: list[int], payload: list[str], results: list[str | None]) -> None:
        texts = [payload[i] for i in group]
        if self.offline:
            raise BackendError("deepl: this backend was built offline (for an estimate) and sends nothing")
        if self._pending_glossary is not None:
            # Upload first: the request below must carry the id it produces (the fingerprint already names it).
            terms, name = self._pending_glossary
            self._pending_glossary = None
            self.sync_glossary(terms, name)
        kwargs: dict[str, Any] = {"source_lang": self.source_code, "target_lang": self.target_code,
                                  "tag_handling": "xml", "ignore_tags": [self.placeholder.tag]}
        if self.formality:
            kwargs["formality"] = self.formality
        if self.context:
            kwargs["context"] = self.context
        if self.model_type:
            kwargs["model_type"] = self.model_type
        if self.glossary_id:
            kwargs["glossary"] = self.glossary_id
        client = self._client()
        answer = self._call("translation", client.translate_text, texts, **kwargs)
        if len(answer) != len(texts):
            raise BackendError(f"DeepL returned {len(answer)} translations for {len(texts)} texts")
        self.counters["requests"] += 1
        self.counters["texts"] += len(texts)
        self.counters["characters_sent"] += sum(map(len, texts))
        self.counters["billed_characters"] += sum(int(r.billed_characters or 0) for r in answer)
        for i, result in zip(group, answer):
            results[i] = from_xml(self.placeholder, result.text)

    def usage(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.counters)
        if self.glossary_id:
            out["glossary_id"] = self.glossary_id
        return out

    # -- glossary --------------------------------------------------------------------------------------------------
    def sync_glossary(self, terms: dict[str, str], name: str) -> str:
        """Create or replace the DeepL glossary called `name` for this language pair so it holds exactly `terms`;
        use it from now on and return its id. An identical glossary already on the account is reused (no new id, so
        the fingerprint and the memory keys stay the same). Call it before the fingerprint is taken (before the
        pipeline is built): the fingerprint names the glossary by a digest of its content. With `offline` set it
        contacts nobody, returns "" and leaves the upload to the first `translate`."""
        if not terms:
            raise ConfigError("deepl: a glossary needs at least one term")
        wanted = {s.strip(): t.strip() for s, t in terms.items()}
        digest = hashlib.sha256(
            json.dumps(sorted(wanted.items()), ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
        if self.offline:
            self._glossary_digest = digest
            self._pending_glossary = (wanted, name)
            return ""
        client = self._client()
        source = self.source_code
        target = self.target_code.split("-")[0]
        same_name = [g for g in self._call("glossary listing", client.list_glossaries)
                     if g.name == name and g.source_lang == source and g.target_lang == target]
        keep = None
        for g in same_name:
            if keep is None and g.entry_count == len(wanted):
                entries = self._call("glossary download", client.get_glossary_entries, g)
                if entries == wanted:
                    keep = g
        if keep is None:
            keep = self._call("glossary upload", client.create_glossary, name, source, target, wanted)
            log.info("deepl: glossary %r created with %d terms (%s→%s)", name, len(wanted), source, target)
        else:
            log.info("deepl: glossary %r reused, %d terms unchanged", name, len(wanted))
        for g in same_name:
            if g.glossary_id != keep.glossary_id:
                self._call("glossary removal", client.delete_glossary, g)
                log.info("deepl: an older glossary %r with other terms removed", name)
        self.glossary_id = keep.glossary_id
        self._glossary_digest = digest
        return keep.glossary_id

"""Google Translate through `googletrans` (≥ 4.0.2, async): free, unofficial, rate-limited.

* Always ``raise_exception=True``: googletrans would otherwise hand back the source text as if it were a translation
  when Google refuses a request.
* A result equal to its source, when the source has letters, is a failure too (what a throttled or blocked client
  sees). It is retried with backoff; when the retries run out the backend returns ``None`` for that text: nothing is
  stored in the translation memory, the records using it are rejected with reason ``backend_failed`` (so
  in = kept + rejected holds), and a rerun tries again. An echo is never accepted as a translation.
* At most `concurrency` requests in flight, each text at most `max_chars` characters (longer texts are not sent and
  are rejected the same way).
* 429, 5xx, timeouts and dropped connections concern the whole client: every worker backs off together
  (exponentially, with jitter), one request at a time probes until one succeeds, and `rate_limit_retries` failures in
  a row stop the run with `BackendError`; what was translated is in the memory, and a rerun resumes.
* `service_urls`: Google hosts to use (comma-separated). The default, ``translate.googleapis.com``, is the "gtx"
  client that needs no token. `endpoint`: send every request to this base URL instead (a proxy or a compatible
  server, e.g. ``http://127.0.0.1:8080``); the path and query googletrans builds are kept.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from translate.backends.base import Backend
from translate.errors import BackendError, ConfigError
from translate.retry import Backoff

_STATUS = re.compile(r'status code "(\d{3})"')
# ISO codes googletrans spells differently.
_CODES = {"zh": "zh-cn", "he": "iw", "jv": "jw"}


class _Redirect:
    """An httpx transport that sends every request to `endpoint`, keeping path and query."""

    def __init__(self, endpoint: str):
        import httpx

        url = httpx.URL(endpoint)
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(f"google: endpoint must be an http(s) URL, not {endpoint!r}")
        self.url = url
        self.prefix = url.path.rstrip("/")
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request):
        request.url = request.url.copy_with(scheme=self.url.scheme, host=self.url.host, port=self.url.port,
                                            path=self.prefix + request.url.path)
        request.headers["Host"] = self.url.netloc.decode("ascii")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _has_letters(text: str) -> bool:
    return any(c.isalpha() for c in text)


class GoogleBackend(Backend):
    name = "google"
    requires = ("googletrans", "httpx")
    extra = "google"
    max_batch_texts = 64
    max_batch_chars = 40_000

    def __init__(
        self,
        source_lang: str,
        target_lang: str,
        service_urls: str = "translate.googleapis.com",
        endpoint: str | None = None,
        concurrency: int = 4,
        retries: int = 4,
        rate_limit_retries: int = 20,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        max_chars: int = 5000,
        timeout: float = 20.0,
    ):
        """`concurrency`: requests in flight. `retries`: per text, when the service echoes the source back.
        `rate_limit_retries`: 429s, 5xx and network errors in a row (across all texts) before the run stops.
        `backoff`: seconds before the first retry, doubling (with jitter) up to `max_backoff`; a 429 waits twice as
        long. `max_chars`: the per-request size limit (Google's web limit is 5000). `timeout`: seconds per
        request."""
        super().__init__(source_lang, target_lang)
        self.service_urls = [u.strip() for u in service_urls.split(",") if u.strip()]
        if not self.service_urls:
            raise ConfigError("google: service_urls must name at least one host")
        if concurrency < 1 or retries < 0 or rate_limit_retries < 0 or max_chars < 1:
            raise ConfigError("google: concurrency and max_chars must be at least 1, retries and "
                              "rate_limit_retries at least 0")
        self.endpoint = endpoint or None
        if self.endpoint:
            _Redirect(self.endpoint)  # validate now, not at the first batch
        self.concurrency = concurrency
        self.retries = retries
        self.rate_limit_retries = rate_limit_retries
        self._failures_in_row = 0
        self._resume_at = 0.0
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_chars = max_chars
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._translator: Any = None
        self._backoff = Backoff(base=backoff, cap=max_backoff)
        self.counters = {"requests": 0, "characters_sent": 0, "retries": 0, "rate_limited": 0, "echoed": 0,
                         "failed_texts": 0, "texts_too_long": 0}

    def fingerprint(self) -> str:
        return f"google/translate_a/{self.target_lang}"

    # -- client ----------------------------------------------------------------------------------------------------
    async def _client(self):
        if self._translator is None:
            import httpx
            from googletrans import Translator

            translator = Translator(service_urls=self.service_urls, raise_exception=True,
                                    timeout=httpx.Timeout(self.timeout))
            if self.endpoint:
                # googletrans always builds https://{host}/translate_a/single; swap its client for one whose
                # transport sends those requests to the endpoint.
                await translator.client.aclose()
                translator.client = httpx.AsyncClient(transport=_Redirect(self.endpoint),
                                                      headers=dict(translator.client.headers),
                                                      timeout=httpx.Timeout(self.timeout))
                translator.token_acquirer.client = translator.client
            self._translator = translator
        return self._translator

    def close(self) -> None:
        if self._loop is None:
            return
        if self._translator is not None:
            self._loop.run_until_complete(self._translator.client.aclose())
            self._translator = None
        self._loop.close()
        self._loop = None

    # -- translate -------------------------------------------------------------------------------------------------
    def translate(self, texts: list[str]) -> list[str | None]:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self._translate_all(texts))

    async def _translate_all(self, texts: list[str]) -> list[str | None]:
        translator = await self._client()
        semaphore = asyncio.Semaphore(self.concurrency)
        self._probe = asyncio.Lock()
        self._abort: BackendError | None = None

        async def one(text: str) -> str | None:
            if len(text) > self.max_chars:
                self.counters["texts_too_long"] += 1
                return None
            async with semaphore:
                return await self._translate_one(translator, text)

        results = await asyncio.gather(*(one(t) for t in texts), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                if isinstance(r, BackendError):
                    # The requests that did succeed before the stop were answered (and counted by the service):
                    # hand them back so the pipeline stores them.
                    r.partial = [x if isinstance(x, str) else None for x in results]
                raise r
        return list(results)  # type: ignore[arg-type]

    async def _request(self, translator, text: str) -> tuple[str | None, int | None]:
        """One request: (translation, None), or (None, status) for a service failure (status None: network)."""
        src = _CODES.get(self.source_lang.lower(), self.source_lang.lower())
        dest = _CODES.get(self.target_lang.lower(), self.target_lang.lower())
        self.counters["requests"] += 1
        self.counters["characters_sent"] += len(text)
        try:
            return (await translator.translate(text, dest=dest, src=src)).text, None
        except ValueError as exc:  # an unknown language code: no retry helps
            raise ConfigError(f"google: {exc} ({self.source_lang!r} → {self.target_lang!r})") from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # googletrans raises a bare Exception for HTTP errors; httpx its own
            m = _STATUS.search(str(exc))
            status = int(m.group(1)) if m else None
            if status is not None and 400 <= status < 500 and status != 429:
                raise BackendError(f"google: the service refused the request (HTTP {status})") from None
            return None, status if status is not None else 0

    async def _service_call(self, translator, text: str) -> str:
        """A result from the service, waiting out 429s, 5xx and network errors. These concern the whole client, so
        the backoff is shared: after a failure every worker waits, and only one request at a time probes until one
        succeeds. `rate_limit_retries` failures in a row stop the run (BackendError)."""
        loop = asyncio.get_running_loop()
        while True:
            if self._abort is not None:
                raise self._abort
            await asyncio.sleep(max(0.0, self._resume_at - loop.time()))
            if self._failures_in_row:
                async with self._probe:
                    await asyncio.sleep(max(0.0, self._resume_at - loop.time()))
                    if self._abort is not None:
                        raise self._abort
                    out, status = await self._request(translator, text)
            else:
                out, status = await self._request(translator, text)
            if status is None:
                self._failures_in_row = 0
                return out  # type: ignore[return-value]
            self._failures_in_row += 1
            self.counters["retries"] += 1
            if status == 429:
                self.counters["rate_limited"] += 1
            if self._failures_in_row > self.rate_limit_retries:
                what = f"HTTP {status}" if status else "connection errors"
                self._abort = BackendError(
                    f"google: the service kept refusing requests ({what}, {self._failures_in_row} in a row). "
                    "Everything translated so far is in the translation memory; rerun the same command later "
                    "to resume.")
                raise self._abort
            # A 429 waits twice as long: the service is up and asks for patience.
            wait = self._backoff.wait(self._failures_in_row - 1) * (2 if status == 429 else 1)
            self._backoff.announce(wait, self._failures_in_row - 1, "google",
                                   f"HTTP {status}" if status else "connection error")
            self._resume_at = max(self._resume_at, loop.time() + wait)

    async def _translate_one(self, translator, text: str) -> str | None:
        """The translation, or None once the service has echoed the source (or answered empty) `retries` + 1
        times."""
        for attempt in range(self.retries + 1):
            out = await self._service_call(translator, text)
            if out.strip() and not (_has_letters(text) and out.strip() == text.strip()):
                return out
            self.counters["echoed"] += 1
            if attempt < self.retries:
                await self._backoff.asleep(attempt, "google", "the service echoed the source")
        self.counters["failed_texts"] += 1
        return None

    def usage(self) -> dict[str, Any]:
        return dict(self.counters)

"""Local servers that speak real third-party protocols, for tests that run the real client libraries offline.

* `FakeDeepL` (deepl_server.py): DeepL API v2 — translate (JSON and form bodies), usage, languages, glossaries, with
  injectable 429 / 5xx / 456 / 403 / resets / slow answers and counters of billed characters.
* `FakeGoogleTranslate` (google_server.py): googletrans's ``translate_a/single`` endpoint in the real response format,
  with injectable 429 / 5xx / echoed source / resets / slow answers.
* `FakeOpenAI` (openai_server.py): OpenAI's ``/v1/models`` and ``/v1/chat/completions`` (plain and streamed), with
  the faults real models show: code fences, chatter, dropped keys, echoes, cut-off replies, invalid JSON, swapped
  answers, 429 with Retry-After, 500, slow replies, a refused ``response_format``.

Each binds 127.0.0.1 on a free port; use it as a context manager and read `fake.url`. Faults are plain attributes
that may be changed while the server runs; see each module's docstring for the full list.
"""

from ._http import RESET, FakeHTTPServer, Reply, Request
from .deepl_server import FakeDeepL
from .google_server import FakeGoogleTranslate
from .openai_server import FakeOpenAI

__all__ = ["FakeDeepL", "FakeGoogleTranslate", "FakeOpenAI", "FakeHTTPServer", "Reply", "Request", "RESET"]

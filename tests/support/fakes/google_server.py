"""A local endpoint for googletrans: ``GET /translate_a/single`` in the real response format.

googletrans (4.x) builds ``https://{service_url}/translate_a/single?client=gtx&sl=..&tl=..&dt=t&dt=rm&..&q=..``; a
client pointed here (the backend's `endpoint` option rewrites scheme, host and port) gets the same nested JSON array
Google answers with::

    [[["<translated sentence> ", "<source sentence> ", null, null, 10], ...,
      [null, null, "<transliteration>", null]],                       # the "rm" entry
     null, "en", null, null, null, 1, [], [["en"], null, [1], ["en"]]]

One entry per source sentence, as Google splits them; googletrans joins the first items. The web client
(``client=webapp``) is served too: ``GET /`` answers a page with the ``tkk`` seed and requests must carry ``tk``.

The translation is `pseudo_localise`, so it is deterministic and leaves ``⟦0⟧`` placeholders alone.

Faults (attributes; counters are consumed one request at a time):

=========================  ===========================================================================================
``too_many_requests = n``  the next n translate requests answer 429 with Google's "unusual traffic" HTML page
``server_errors = n``      the next n answer 503
``block_after = N``        once N translate requests have been answered 200, every later one answers 429 (a blocked
                           client; set back to None to lift the block)
``echo = n``               the next n answers give the source back unchanged (what a blocked client sees)
``echo_texts = {...}``     these source texts are always echoed back (a persistent failure)
``resets`` / ``slow`` / ``delay``   see `FakeHTTPServer`
=========================  ===========================================================================================

Counters: `characters` (characters of ``q`` answered 200), `translate_requests` (answered 200), `answered`
(status → count), `echoed`, `queries` (every ``q`` answered 200, in order), `requests`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter

from translate.backends.pseudo import pseudo_localise

from ._http import RESET, FakeHTTPServer, Reply, Request

_SENTENCE = re.compile(r"[^.!?]*(?:[.!?]+|$)\s*")
_UNUSUAL_TRAFFIC = ("<html><head><title>Sorry...</title></head><body><div>Our systems have detected unusual traffic "
                    "from your computer network.</div></body></html>")


class FakeGoogleTranslate(FakeHTTPServer):
    def __init__(self) -> None:
        super().__init__()
        self.too_many_requests = 0
        self.server_errors = 0
        self.echo = 0
        self.echo_texts: set[str] = set()
        self.block_after: int | None = None
        self.characters = 0
        self.translate_requests = 0
        self.echoed = 0
        self.answered: Counter[int] = Counter()
        self.queries: list[str] = []

    def faulty(self, request: Request) -> bool:
        return request.path == "/translate_a/single"

    def handle(self, request: Request) -> Reply | type[RESET]:
        if request.path in ("", "/"):
            hour = math.floor(int(time.time() * 1000) / 3600000.0)
            return Reply.text(200, f"<html><script>window.WIZ_global_data = {{tkk:'{hour}.1364508470'}};</script>",
                              "text/html")
        if request.path != "/translate_a/single":
            return Reply.text(404, "Not Found", "text/html")
        reply = self._translate(request)
        with self.lock:
            self.answered[reply.status] += 1
        return reply

    def _translate(self, request: Request) -> Reply:
        if self._take("too_many_requests") or (self.block_after is not None
                                               and self.translate_requests >= self.block_after):
            return Reply.text(429, _UNUSUAL_TRAFFIC, "text/html")
        if self._take("server_errors"):
            return Reply.text(503, "<html>Service Unavailable</html>", "text/html")
        q = request.query
        client = (q.get("client") or [""])[0]
        text = (q.get("q") or [None])[0]
        target = (q.get("tl") or [""])[0]
        source = (q.get("sl") or ["auto"])[0]
        if client not in ("gtx", "webapp") or text is None or not target:
            return Reply.text(400, "<html>Bad Request</html>", "text/html")
        if client == "webapp" and not (q.get("tk") or [""])[0]:
            return Reply.text(403, "<html>Forbidden</html>", "text/html")
        echo = text in self.echo_texts or self._take("echo")
        with self.lock:
            self.characters += len(text)
            self.translate_requests += 1
            self.queries.append(text)
            if echo:
                self.echoed += 1
        detected = "en" if source == "auto" else source
        # One entry per sentence; Google keeps the whitespace after each sentence on both sides.
        parts = [m.group(0) for m in _SENTENCE.finditer(text) if m.group(0)] or [text]
        entries: list[list] = [[p if echo else pseudo_localise(p), p, None, None, 10] for p in parts]
        dts = q.get("dt") or []
        if "rm" in dts:
            entries.append([None, None, "".join(pseudo_localise(p) for p in parts) if not echo else None, None])
        data = [entries, None, detected, None, None, None, 1, [], [[detected], None, [1], [detected]]]
        return Reply(200, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                     "application/json")

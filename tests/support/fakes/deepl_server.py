"""A local DeepL API v2 server for tests: the real `deepl` client talks to it through `server_url`.

It speaks the parts of the protocol the backend uses, with the real shapes and status codes:

* ``POST /v2/translate`` with a JSON body (what the SDK sends) or a form body (curl, older clients): ``text`` (1..50),
  ``source_lang``, ``target_lang``, ``formality``, ``context``, ``model_type``, ``glossary_id``, ``tag_handling``,
  ``ignore_tags``, ``show_billed_characters``. The answer is
  ``{"translations": [{"detected_source_language", "text", "billed_characters"[, "model_type_used"]}]}``.
* ``GET|POST /v2/usage``: ``{"character_count", "character_limit"}``.
* ``GET /v2/languages?type=source|target``.
* ``/v2/glossaries``: create (POST, JSON or form, ``entries_format`` tsv or csv), list (GET), get
  (GET ``/{id}``), entries (GET ``/{id}/entries``, TSV), delete (DELETE ``/{id}``).
* Authentication: ``Authorization: DeepL-Auth-Key <key>`` with a key in `auth_keys`, else 403.

The "translation" is deterministic: `pseudo_localise` on text outside ignored tags, glossary targets substituted
for their source terms. With ``tag_handling=xml`` the text is parsed as XML: tags in ``ignore_tags`` keep their
content byte for byte, other tags are kept with their text translated, entities are decoded before translating
and re-encoded after, and (like a real engine reordering a sentence) the first two ignored elements of a text swap
places. Without tag handling, tags are translated like any text, and so are broken.

Faults, set as attributes at any time (each counter is consumed one request at a time, thread-safely); all apply
to ``/v2/translate`` only:

==========================  ==========================================================================================
``too_many_requests = n``   the next n translate requests answer 429 (with ``Retry-After: 1``)
``server_errors = n``       the next n answer `server_error_status` (default 503)
``outage_after = N``        once N translate requests have been answered 200, every later one answers
                            `server_error_status` (an outage; set back to None to end it)
``quota_characters = N``    a request that would take the billed total past N answers 456 (nothing billed)
``resets = n``              the next n requests get their connection reset, without an answer
``slow = n``                the next n requests wait `slow_seconds` before answering (client timeouts)
``delay = s``               every translate request waits s seconds
``mangle_ignored = n``      the next n ignored elements come back with their content changed (an engine bug)
``requote = True``          re-serialise ignored tags' attributes with single quotes (``<x i='0'>``)
``reorder_tags = False``    keep tags in place
==========================  ==========================================================================================

Counters: `billed_characters` (what a real account would be charged), `translate_requests` (answered 200),
`texts_translated`, `answered` (status → count, every translate answer), `requests` (all requests), `resets_done`,
`slow_done`, and `translate_log` (the parameters of every translate request that was answered 200).

Usage::

    with FakeDeepL(auth_keys={"k:fx"}) as fake:
        client = deepl.Translator("k:fx", server_url=fake.url)
        fake.too_many_requests = 3
        client.translate_text("Hello", target_lang="KO")
        assert fake.answered[429] == 3 and fake.billed_characters == 5
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from xml.sax.saxutils import escape as _xml_escape

from translate.backends.pseudo import pseudo_localise

from ._http import RESET, FakeHTTPServer, Reply, Request

SOURCE_LANGS = ("AR BG CS DA DE EL EN ES ET FI FR HE HU ID IT JA KO LT LV NB NL PL PT RO RU SK SL SV TH TR UK VI "
                "ZH").split()
TARGET_LANGS = ("AR BG CS DA DE EL EN-GB EN-US ES ET FI FR HE HU ID IT JA KO LT LV NB NL PL PT-BR PT-PT RO RU SK SL "
                "SV TH TR UK VI ZH ZH-HANS ZH-HANT").split()
FORMALITY_TARGETS = set("DE ES FR IT JA NL PL PT-BR PT-PT RU".split())
FORMALITIES = ("default", "more", "less", "prefer_more", "prefer_less")
MODEL_TYPES = {"quality_optimized": "quality_optimized", "prefer_quality_optimized": "quality_optimized",
               "latency_optimized": "latency_optimized"}
MAX_TEXTS = 50
MAX_BODY_BYTES = 128 * 1024

_TAG = re.compile(r"<(?P<close>/?)(?P<name>[A-Za-z_][\w.:-]*)(?P<attrs>(?:\s+[^<>]*?)?)\s*(?P<empty>/?)>")
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9A-Fa-f]+);")


class TagError(ValueError):
    pass


def xml_unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        e = m.group(0)[1:-1]
        if e.startswith("#x"):
            return chr(int(e[2:], 16))
        if e.startswith("#"):
            return chr(int(e[1:]))
        return {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}[e]

    return _ENTITY.sub(one, text)


class FakeDeepL(FakeHTTPServer):
    """See the module docstring. `auth_keys`: keys that authenticate; `quota_characters`: None for unlimited."""

    def __init__(self, auth_keys: set[str] | tuple[str, ...] = ("test-key:fx",), quota_characters: int | None = None):
        super().__init__()
        self.auth_keys = set(auth_keys)
        self.quota_characters = quota_characters
        self.too_many_requests = 0
        self.server_errors = 0
        self.server_error_status = 503
        self.outage_after: int | None = None
        self.mangle_ignored = 0
        self.requote = False
        self.reorder_tags = True
        self.billed_characters = 0
        self.translate_requests = 0
        self.texts_translated = 0
        self.answered: Counter[int] = Counter()
        self.translate_log: list[dict[str, Any]] = []
        self.glossaries: dict[str, dict[str, Any]] = {}
        self._glossary_seq = 0
        self._billing = threading.Lock()

    def faulty(self, request: Request) -> bool:
        return request.path == "/v2/translate"

    # -- dispatch --------------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply | type[RESET]:
        auth = request.headers.get("authorization", "")
        key = auth[len("DeepL-Auth-Key "):] if auth.startswith("DeepL-Auth-Key ") else None
        if key not in self.auth_keys:
            return self._answer(request, Reply.json(403, {"message": "Authorization failure, check auth_key"}))
        path, method = request.path.rstrip("/"), request.method
        if path == "/v2/translate" and method == "POST":
            return self._answer(request, self._translate(request))
        if path == "/v2/usage":
            limit = self.quota_characters if self.quota_characters is not None else 1_000_000_000_000
            return Reply.json(200, {"character_count": self.billed_characters, "character_limit": limit})
        if path == "/v2/languages":
            kind = _first(request.query, "type") or "source"
            langs = TARGET_LANGS if kind == "target" else SOURCE_LANGS
            return Reply.json(200, [dict({"language": code, "name": code},
                                         **({"supports_formality": code in FORMALITY_TARGETS}
                                            if kind == "target" else {})) for code in langs])
        if path == "/v2/glossary-language-pairs":
            pairs = [{"source_lang": s.lower(), "target_lang": t.lower()} for s in SOURCE_LANGS for t in SOURCE_LANGS
                     if s != t]
            return Reply.json(200, {"supported_languages": pairs})
        if path == "/v2/glossaries":
            if method == "POST":
                return self._create_glossary(request)
            if method == "GET":
                return Reply.json(200, {"glossaries": [self._glossary_info(g) for g in self.glossaries.values()]})
        m = re.fullmatch(r"/v2/glossaries/([^/]+)(/entries)?", path)
        if m:
            glossary = self.glossaries.get(m.group(1))
            if glossary is None:
                return Reply.json(404, {"message": "Glossary not found"})
            if m.group(2) and method == "GET":
                tsv = "\n".join(f"{s}\t{t}" for s, t in glossary["entries"].items())
                return Reply.text(200, tsv, "text/tab-separated-values")
            if method == "GET":
                return Reply.json(200, self._glossary_info(glossary))
            if method == "DELETE":
                with self.lock:
                    del self.glossaries[m.group(1)]
                return Reply(204, b"", "text/plain")
        return Reply.json(404, {"message": "Not found"})

    def _answer(self, request: Request, reply: Reply | type[RESET]) -> Reply | type[RESET]:
        if request.path == "/v2/translate" and isinstance(reply, Reply):
            with self.lock:
                self.answered[reply.status] += 1
        return reply

    # -- translate -------------------------------------------------------------------------------------------------
    def _translate(self, request: Request) -> Reply:
        if len(request.body) > MAX_BODY_BYTES:
            return Reply.json(413, {"message": "Request Entity Too Large"})
        if self._take("too_many_requests"):
            return Reply.json(429, {"message": "Too many requests"}, **{"Retry-After": "1"})
        if self._take("server_errors") or (self.outage_after is not None
                                           and self.translate_requests >= self.outage_after):
            return Reply.json(self.server_error_status, {"message": "Internal server error"})
        try:
            params = _params(request)
        except ValueError as exc:
            return Reply.json(400, {"message": f"Invalid request: {exc}"})
        texts = params.get("text") or []
        if not texts:
            return Reply.json(400, {"message": "Parameter 'text' not specified."})
        if len(texts) > MAX_TEXTS:
            return Reply.json(400, {"message": f"Too many texts: at most {MAX_TEXTS} per request."})
        target = str(params.get("target_lang") or "").upper()
        if target not in TARGET_LANGS:
            return Reply.json(400, {"message": "Value for 'target_lang' not supported."})
        source = str(params.get("source_lang") or "").upper() or None
        if source is not None and source not in SOURCE_LANGS:
            return Reply.json(400, {"message": "Value for 'source_lang' not supported."})
        formality = params.get("formality")
        if formality is not None:
            if formality not in FORMALITIES:
                return Reply.json(400, {"message": "Value for 'formality' not supported."})
            if formality in ("more", "less") and target not in FORMALITY_TARGETS:
                return Reply.json(400, {"message": "'formality' is not supported for given 'target_lang'."})
        model_type = params.get("model_type")
        if model_type is not None and model_type not in MODEL_TYPES:
            return Reply.json(400, {"message": "Value for 'model_type' not supported."})
        terms: dict[str, str] = {}
        glossary_id = params.get("glossary_id")
        if glossary_id:
            if source is None:
                return Reply.json(400, {"message": "Use of a glossary requires the 'source_lang' parameter."})
            glossary = self.glossaries.get(glossary_id)
            if glossary is None:
                return Reply.json(400, {"message": "Invalid glossary id."})
            if glossary["source_lang"].upper() != source or glossary["target_lang"].upper() != target.split("-")[0]:
                return Reply.json(400, {"message": "Glossary languages do not match the request."})
            terms = glossary["entries"]
        tag_handling = params.get("tag_handling")
        if tag_handling not in (None, "", "xml", "html"):
            return Reply.json(400, {"message": "Value for 'tag_handling' not supported."})
        ignore = set(params.get("ignore_tags") or [])
        try:
            outputs = [self._render(t, tag_handling, ignore, terms) for t in texts]
        except TagError as exc:
            return Reply.json(400, {"message": f"Tag handling parsing failed: {exc}"})
        billed = [len(t) for t in texts]
        with self._billing:
            if self.quota_characters is not None and self.billed_characters + sum(billed) > self.quota_characters:
                return Reply.json(456, {"message": "Quota Exceeded"})
            self.billed_characters += sum(billed)
            self.translate_requests += 1
            self.texts_translated += len(texts)
            self.translate_log.append(params)
        show_billed = str(params.get("show_billed_characters", "")).lower() in ("1", "true")
        out = []
        for text, n in zip(outputs, billed):
            entry: dict[str, Any] = {"detected_source_language": source or "EN", "text": text}
            if show_billed:
                entry["billed_characters"] = n
            if model_type is not None:
                entry["model_type_used"] = MODEL_TYPES[model_type]
            out.append(entry)
        return Reply.json(200, {"translations": out})

    def _render(self, text: str, tag_handling: str | None, ignore: set[str], terms: dict[str, str]) -> str:
        if not tag_handling:
            return _localise(text, terms)
        nodes = self._parse(text, ignore)
        if self.reorder_tags:
            kept = [i for i, n in enumerate(nodes) if n[0] == "kept"]
            if len(kept) >= 2:
                a, b = kept[0], kept[1]
                nodes[a], nodes[b] = nodes[b], nodes[a]
        return "".join(self._emit(n, terms) for n in nodes)

    def _parse(self, text: str, ignore: set[str]) -> list[tuple]:
        """Nodes: ("text", raw) | ("kept", open, name, inner, close) | ("elem", open, name, children, close)."""
        root: list[tuple] = []
        stack: list[tuple[str, str, list]] = []
        pos = 0
        current = root
        while pos < len(text):
            m = _TAG.search(text, pos)
            if m is None:
                current.append(("text", text[pos:]))
                break
            if m.start() > pos:
                current.append(("text", text[pos:m.start()]))
            name = m.group("name")
            if m.group("close"):
                if not stack or stack[-1][1] != name:
                    raise TagError(f"unexpected closing tag </{name}>")
                open_raw, _, parent = stack.pop()
                children = current
                current = parent
                current.append(("elem", open_raw, name, children, m.group(0)))
                pos = m.end()
                continue
            if m.group("empty"):
                current.append(("elem", m.group(0), name, [], ""))
                pos = m.end()
                continue
            if name in ignore:
                close = re.compile(rf"</{re.escape(name)}\s*>")
                c = close.search(text, m.end())
                if c is None:
                    raise TagError(f"tag <{name}> is not closed")
                current.append(("kept", m.group(0), name, text[m.end():c.start()], c.group(0)))
                pos = c.end()
                continue
            stack.append((m.group(0), name, current))
            current = []
            pos = m.end()
        if stack:
            raise TagError(f"tag <{stack[-1][1]}> is not closed")
        return root

    def _emit(self, node: tuple, terms: dict[str, str]) -> str:
        kind = node[0]
        if kind == "text":
            if "<" in node[1] or re.search(r"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9A-Fa-f]+);)", node[1]):
                raise TagError("text contains an unescaped '<' or '&'")
            return _xml_escape(_localise(xml_unescape(node[1]), terms))
        if kind == "kept":
            _, open_raw, name, inner, close = node
            if self.requote:
                open_raw = re.sub(r'=\s*"([^"]*)"', r"='\1'", open_raw)
            if self._take("mangle_ignored"):
                inner = inner + " !"
            return open_raw + inner + close
        _, open_raw, name, children, close = node
        return open_raw + "".join(self._emit(c, terms) for c in children) + close

    # -- glossaries ------------------------------------------------------------------------------------------------
    def _create_glossary(self, request: Request) -> Reply:
        try:
            params = _params(request)
        except ValueError as exc:
            return Reply.json(400, {"message": f"Invalid request: {exc}"})
        name = params.get("name")
        source, target = params.get("source_lang"), params.get("target_lang")
        entries, fmt = params.get("entries"), params.get("entries_format", "tsv")
        if not name or not source or not target or entries is None:
            return Reply.json(400, {"message": "Missing name, source_lang, target_lang or entries."})
        if str(source).upper() not in SOURCE_LANGS or str(target).upper() not in SOURCE_LANGS:
            return Reply.json(400, {"message": "Unsupported glossary language pair."})
        sep = "\t" if fmt == "tsv" else ","
        parsed: dict[str, str] = {}
        for line in str(entries).splitlines():
            if not line.strip():
                continue
            if sep not in line:
                return Reply.json(400, {"message": f"Invalid glossary entries: {line!r}"})
            s, t = line.split(sep, 1)
            if s.strip() in parsed:
                return Reply.json(400, {"message": f"Duplicate source term {s.strip()!r}"})
            parsed[s.strip()] = t.strip()
        if not parsed:
            return Reply.json(400, {"message": "Glossary entries must not be empty."})
        with self.lock:
            self._glossary_seq += 1
            gid = str(uuid.UUID(int=self._glossary_seq))
            self.glossaries[gid] = {
                "glossary_id": gid, "name": name, "source_lang": str(source).lower(),
                "target_lang": str(target).lower(), "entries": parsed,
                "creation_time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
        return Reply.json(201, self._glossary_info(self.glossaries[gid]))

    @staticmethod
    def _glossary_info(g: dict[str, Any]) -> dict[str, Any]:
        return {"glossary_id": g["glossary_id"], "name": g["name"], "ready": True, "source_lang": g["source_lang"],
                "target_lang": g["target_lang"], "creation_time": g["creation_time"],
                "entry_count": len(g["entries"])}


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


_LIST_PARAMS = ("text", "ignore_tags", "non_splitting_tags", "splitting_tags", "glossary_ids")


def _params(request: Request) -> dict[str, Any]:
    """Parameters from a JSON body (lists as arrays) or a form body (repeated fields, comma-separated tag lists)."""
    if request.content_type == "application/json":
        data = request.json()
        if not isinstance(data, dict):
            raise ValueError("the JSON body must be an object")
        out = dict(data)
        if isinstance(out.get("text"), str):
            out["text"] = [out["text"]]
        for name in ("ignore_tags", "non_splitting_tags", "splitting_tags"):
            if isinstance(out.get(name), str):
                out[name] = [t for t in out[name].split(",") if t]
        return out
    form = request.form() if request.body else dict(request.query)
    out = {}
    for name, values in form.items():
        if name == "text":
            out[name] = values
        elif name in _LIST_PARAMS:
            out[name] = [t for v in values for t in v.split(",") if t]
        else:
            out[name] = values[-1]
    return out


def _localise(text: str, terms: dict[str, str]) -> str:
    """Pseudo-translate, putting glossary targets in place of their source terms (matched case-insensitively)."""
    if not terms:
        return pseudo_localise(text)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(s) for s in sorted(terms, key=len, reverse=True))
                         + r")(?!\w)", re.I)
    lowered = {s.lower(): t for s, t in terms.items()}
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(pseudo_localise(text[last:m.start()]))
        out.append(lowered[m.group(0).lower()])
        last = m.end()
    out.append(pseudo_localise(text[last:]))
    return "".join(out)

"""What an LLM backend sends: the system prompt, the JSON document of texts, the schema, the image part.

The wire format (schema version `SCHEMA_VERSION`, part of the fingerprint):

* One request carries one or more records. Their texts travel as a JSON document in the last user message, one
  object per record, one string per text::

      {"r1": {"q1": "What is the man holding?", "a2": "He holds a ⟦0⟧ in his right hand."},
       "r2": {"a1": "A red bus on a street."}}

  Record keys are ``r1``, ``r2``, … in request order; text keys are a role letter (``q`` for a human turn, ``a`` for
  a gpt turn, ``t`` for anything else) and the text's position in the record, so the model sees which turn asks and
  which answers. The model returns the same document with only the strings translated (`llm_reply` checks it).
* Turns of a record that need no translation now (already in the memory, or an earlier part of a split record)
  travel *before* the document, as read-only context, so the model sees the question when it translates the answer.
* The document is always the last thing in the last user message, after a blank line and a line ``JSON:``; the local
  fake server finds it there too.

The system prompt comes from ``llm_prompt.md`` in the glossary folder of the target language (``glossaries/ko/``),
or from `prompt_file`; a generic English prompt is built in for languages without one. It may use ``{target_language}``,
``{source_language}``, ``{speech_level}`` and ``{glossary}`` (the glossary's terms and do-not-translate spans as a
list; a prompt that uses it translates again after every glossary edit, since the prompt is in the fingerprint).
HTML comments (``<!-- … -->``) are notes for maintainers and are not sent.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = "v1"
PROMPT_FILE = "llm_prompt.md"
DOCUMENT_MARKER = "JSON:"

LANGUAGE_NAMES = {
    "en": "English", "ko": "Korean", "ja": "Japanese", "zh": "Chinese", "vi": "Vietnamese", "th": "Thai",
    "id": "Indonesian", "de": "German", "fr": "French", "es": "Spanish", "pt": "Portuguese", "it": "Italian",
    "ru": "Russian", "ar": "Arabic", "hi": "Hindi", "tr": "Turkish", "pl": "Polish", "nl": "Dutch",
}

# Named speech levels. Anything else is put into the prompt as written (e.g. "해요체", "tú, not usted").
SPEECH_LEVELS = {
    "ko": {
        "formal": "합니다체 (formal polite: -습니다/-ㅂ니다, questions -습니까/-ㅂ니까 or -나요)",
        "polite": "해요체 (informal polite: -아요/-어요)",
        "plain": "해라체 (plain written style: -다, questions -는가/-니)",
    },
    "ja": {
        "formal": "です・ます調 (polite)",
        "polite": "です・ます調 (polite)",
        "plain": "だ・である調 (plain written style)",
    },
}
DEFAULT_SPEECH_LEVEL = "formal"

GENERIC_PROMPT = """You translate visual-instruction data (questions about images and their answers) from \
{source_language} into {target_language}.

- Translate every string of the JSON document you are given. Keep its keys, their order and its structure.
- The strings of one record are the turns of one conversation: keys starting with "q" are questions from a user,
  keys starting with "a" are answers from an assistant. Keep one style and one rendering of each term across a
  conversation.
- Write every turn in this speech level: {speech_level}. Keep it the same in every turn.
- Markers like ⟦0⟧ stand for protected text (glossary terms, names, numbers, code, coordinates, URLs). Copy each
  marker exactly once, unchanged, to the place in your sentence where that text belongs. Treat it as a noun.
- Translate everything else; do not leave English sentences. Do not add, drop, explain or answer anything.
- Answer with the JSON document only: no code fences, no comments before or after it.
"""

log = logging.getLogger("translate.backends.openai")


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code.split("-")[0].split("_")[0].lower(), code)


def speech_level_text(level: str, target_lang: str) -> str:
    levels = SPEECH_LEVELS.get(target_lang.split("-")[0].lower(), {})
    if level in levels:
        return levels[level]
    if level in ("formal", "polite", "plain"):
        return {"formal": "formal and polite", "polite": "polite", "plain": "plain written style"}[level]
    return level


def default_prompt_file(target_lang: str) -> Path | None:
    """``llm_prompt.md`` in the glossary folder a run would use for `target_lang` (see `find_glossary_dir`)."""
    from translate.glossary import find_glossary_dir

    folder = find_glossary_dir(None, target_lang)
    if folder is not None and (folder / PROMPT_FILE).is_file():
        return folder / PROMPT_FILE
    return None


def _glossary_lines(folder: Path | None, target_lang: str) -> tuple[str, list[tuple[str, str]]]:
    """(the glossary as prompt lines, the curated templates as (source, target) pairs) from a glossary folder."""
    if folder is None or not (folder / "terms.tsv").is_file():
        return "(no glossary)", []
    from translate.glossary import Glossary

    g = Glossary.load(folder, lang=target_lang, strict=False)
    lines = [f"- {t.source} → {t.target}" for t in g.terms]
    lines += [f"- {d.text} (keep as is)" for d in g.dnt]
    return "\n".join(lines) or "(no glossary)", [(t.source, t.target) for t in g.templates]


@dataclass
class Prompt:
    """The fixed part of every request: system prompt and optional few-shot exchange. `digest` names it."""

    system: str
    examples: list[dict[str, Any]] = field(default_factory=list)
    source: str = "built-in"

    @property
    def digest(self) -> str:
        blob = json.dumps([SCHEMA_VERSION, self.system, self.examples], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def load_prompt(source_lang: str, target_lang: str, prompt_file: str | None, speech_level: str,
                few_shot: int = 0) -> Prompt:
    """The system prompt for a run. `prompt_file`: a path, or None for the glossary folder's (or the built-in)."""
    from translate.errors import ConfigError

    path = Path(prompt_file).expanduser() if prompt_file else default_prompt_file(target_lang)
    if path is not None:
        try:
            template = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"openai: cannot read the prompt file {path}: {exc.strerror or exc}") from None
        source = str(path)
    else:
        template, source = GENERIC_PROMPT, "built-in"
    template = re.sub(r"<!--.*?-->\n?", "", template, flags=re.DOTALL).strip() + "\n"
    glossary_text, templates = _glossary_lines(path.parent if path is not None else None, target_lang)
    values = {
        "{source_language}": language_name(source_lang),
        "{target_language}": language_name(target_lang),
        "{speech_level}": speech_level_text(speech_level, target_lang),
        "{glossary}": glossary_text,
    }
    system = template
    for name, value in values.items():
        system = system.replace(name, value)
    examples: list[dict[str, Any]] = []
    if few_shot > 0 and templates:
        pairs = templates[:few_shot]
        doc = {f"r{i + 1}": {"q1": s} for i, (s, _) in enumerate(pairs)}
        answer = {f"r{i + 1}": {"q1": t} for i, (_, t) in enumerate(pairs)}
        examples = [{"role": "user", "content": user_text(doc, {}, target_lang, source_lang)},
                    {"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)}]
    return Prompt(system, examples, source)


# -- the document -------------------------------------------------------------------------------------------------

def text_key(role: str, position: int) -> str:
    letter = {"human": "q", "user": "q", "gpt": "a", "assistant": "a"}.get(role, "t")
    return f"{letter}{position}"


def user_text(document: dict[str, dict[str, str]], context: dict[str, list[tuple[str, str]]], target_lang: str,
              source_lang: str = "en", note: str | None = None) -> str:
    """The last user message: read-only context, the instruction, then the document (always last)."""
    parts = []
    shown = {k: turns for k, turns in context.items() if turns}
    if shown:
        parts.append("Other turns of the same conversations, for context only (do not return them):")
        for key, turns in shown.items():
            parts.append(f"{key}:")
            parts.extend(f"[{role}] {text}" for text, role in turns)
        parts.append("")
    if note:
        parts.append(note)
        parts.append("")
    parts.append(f"Translate the string values of this JSON document from {language_name(source_lang)} into "
                 f"{language_name(target_lang)}. Return the same JSON document, with the same keys, and only the "
                 "strings translated.")
    parts.append("")
    parts.append(DOCUMENT_MARKER)
    parts.append(json.dumps(document, ensure_ascii=False, indent=1))
    return "\n".join(parts)


def json_schema(document: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A strict schema for exactly this document: every key required, no other key, every value a string."""
    def obj(properties: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": properties, "required": list(properties),
                "additionalProperties": False}

    return obj({rk: obj({tk: {"type": "string"} for tk in texts}) for rk, texts in document.items()})


def response_format(document: dict[str, dict[str, str]]) -> dict[str, Any]:
    return {"type": "json_schema",
            "json_schema": {"name": "translation", "strict": True, "schema": json_schema(document)}}


# -- images -------------------------------------------------------------------------------------------------------

def image_data_url(path: Path, max_side: int) -> tuple[str, bool]:
    """A base64 data URL of the image at `path`, its longer side at most `max_side` pixels (JPEG). Without Pillow the
    file goes as it is (second value False: not downscaled). Raises OSError when the file cannot be read."""
    try:
        from PIL import Image
    except ImportError:
        data = path.read_bytes()
        mime = {".png": "image/png", ".webp": "image/webp", ".gif": "image/gif"}.get(path.suffix.lower(),
                                                                                        "image/jpeg")
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", False
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((max_side, max_side))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=85)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001  (Pillow's own errors for a broken file (e.g. DecompressionBombError))
        raise OSError(str(exc)) from None
    return f"data:image/jpeg;base64,{base64.b64encode(buf.getvalue()).decode('ascii')}", True

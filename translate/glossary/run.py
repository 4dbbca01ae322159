"""Finding the glossary for a run, and turning it into the run's protector and templates (syncing the terms to
the engine first when it applies glossaries itself)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from translate.backends.base import Backend
from translate.glossary.model import DNT_FILE, SHIPPED_ROOTS, TEMPLATES_FILE, TERMS_FILE, Glossary, GlossaryError
from translate.protect import Protector

NO_GLOSSARY = ("", "none", "off", "no")


def find_glossary_dir(explicit: str | None, target: str, cwd: Path | None = None) -> Path | None:
    """The glossary folder for a run: `explicit` (a path, or "none" for no glossary); else ``glossaries/<target>``
    in the current directory; else the one shipped with the tool; else None."""
    if explicit is not None:
        if explicit.strip().lower() in NO_GLOSSARY:
            return None
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise GlossaryError(f"--glossary {explicit}: no such folder (expected a folder holding {TERMS_FILE}, "
                                f"{DNT_FILE}, {TEMPLATES_FILE})")
        return path
    local = (cwd or Path.cwd()) / "glossaries" / target
    if local.is_dir():
        return local
    for root in SHIPPED_ROOTS:
        if (root / target).is_dir():
            return root / target
    return None


def glossary_identity(explicit: str | None, target: str) -> dict[str, str] | None:
    """Which glossary a run used, for its manifest and dataset card: the folder and a SHA-256 over its three files
    (so an edited glossary shows as a different version). None: no glossary."""
    folder = find_glossary_dir(explicit, target)
    if folder is None:
        return None
    digest = hashlib.sha256()
    for name in (TERMS_FILE, DNT_FILE, TEMPLATES_FILE):
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return {"path": str(folder), "sha256": digest.hexdigest()}


def load_for_run(explicit: str | None, target: str) -> Glossary:
    folder = find_glossary_dir(explicit, target)
    if folder is None:
        return Glossary(lang=target)
    return Glossary.load(folder, lang=target)


def deepl_glossary_name(source_lang: str, target_lang: str) -> str:
    """The name under which the terms are kept on the DeepL account (one per language pair)."""
    return f"llava-translate {source_lang}-{target_lang}"


def protection_for_run(explicit: str | None, source_lang: str, target_lang: str,
                       backend: Backend) -> tuple[Protector, dict[str, str]]:
    """The protector and the templates (protected body → curated translation) for a run.

    Engines with a native glossary (DeepL) get no term placeholders: the terms are synced to a glossary on the
    account (reused when identical) unless a `glossary_id` was given, and the engine applies it, with its own
    grammar around each term. Every other engine gets term placeholders restored to the target term, followed by
    the particle correction."""
    glossary = load_for_run(explicit, target_lang)
    native = backend.capabilities.native_glossary
    if native and glossary.terms and not backend.glossary_id:
        backend.sync_glossary(glossary.term_dict(), deepl_glossary_name(source_lang, target_lang))
    protector = glossary.protector(style=backend.placeholder, use_terms=not native)
    return protector, glossary.template_map(protector)



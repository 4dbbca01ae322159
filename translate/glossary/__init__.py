"""Glossaries: terms, do-not-translate spans and curated templates, kept as reviewable TSV files.

- `model`: the files and the `Glossary` they load into; a run's protector and templates;
- `run`: which glossary a run uses, and the protection it gets (terms synced to engines with their own glossaries);
- `lint`: what would make a glossary misbehave;
- `coverage`: how a finished run rendered each term;
- `edit`: adding, replacing and removing entries in place.
"""

from translate.glossary.coverage import Coverage, TermCount, coverage
from translate.glossary.edit import remove_lines, write_entry
from translate.glossary.lint import lint
from translate.glossary.model import (
    DNT_FILE,
    KINDS,
    SCRIPTS,
    SHIPPED_ROOTS,
    TEMPLATES_FILE,
    TERMS_FILE,
    DntEntry,
    Glossary,
    GlossaryError,
    LintFinding,
    Template,
    Term,
    TsvRow,
    read_tsv,
    script_of,
)
from translate.glossary.run import (
    NO_GLOSSARY,
    deepl_glossary_name,
    find_glossary_dir,
    glossary_identity,
    load_for_run,
    protection_for_run,
)

__all__ = [
    "DNT_FILE", "KINDS", "NO_GLOSSARY", "SCRIPTS", "SHIPPED_ROOTS", "TEMPLATES_FILE", "TERMS_FILE", "Coverage",
    "DntEntry", "Glossary", "GlossaryError", "LintFinding", "Template", "Term", "TermCount", "TsvRow", "coverage",
    "deepl_glossary_name", "find_glossary_dir", "glossary_identity", "lint", "load_for_run", "protection_for_run", "read_tsv",
    "remove_lines", "script_of", "write_entry",
]

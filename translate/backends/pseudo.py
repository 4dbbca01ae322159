"""Deterministic pseudo-localisation: Latin letters become Hangul-looking syllables, everything else stays.

For dry runs, demos and tests. The same text always gives the same output, whatever the batch, so sharded and
single runs match byte for byte. Placeholders contain no Latin letters and pass through untouched.
"""

from __future__ import annotations

import os
import threading
import time

from translate.backends.base import Backend

# One syllable per letter; case is folded because Hangul has none.
_SYLLABLES = "가나다라마바사아자차카타파하거너더러머버서어저처커터"
_TABLE = {ord(c): _SYLLABLES[i] for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
_TABLE.update({ord(c.upper()): s for c, s in zip("abcdefghijklmnopqrstuvwxyz", _SYLLABLES)})


class PseudoBackend(Backend):
    name = "pseudo"
    # Large batches: a batch is one memory commit, and pseudo translation itself costs next to nothing.
    max_batch_texts = 256
    max_batch_chars = 100_000

    def __init__(
        self,
        source_lang: str,
        target_lang: str,
        delay: float = 0.0,
        journal: str | None = None,
        batch_size: int = 256,
        fail_after_batches: int | None = None,
    ):
        """`delay`: seconds per batch, standing in for one GPU stream: batches run one at a time whatever the
        threads calling (a lock), and the wait releases the GIL (`time.sleep`), so the caller's other threads keep
        working meanwhile, as they would beside a real engine. `journal`: a file that gets one line per batch *before*
        it is translated ("<texts> <chars>"), so tests can count what was sent, even by a killed run.
        `fail_after_batches`: raise a BackendError after that many batches (fault injection)."""
        super().__init__(source_lang, target_lang)
        self.delay = delay
        self.journal = journal
        self.max_batch_texts = batch_size
        self.fail_after_batches = fail_after_batches
        self.batches = 0
        self.characters = 0
        self._stream = threading.Lock()  # one batch at a time: the one GPU stream this backend models

    def fingerprint(self) -> str:
        return "pseudo/v1"

    def translate(self, texts: list[str]) -> list[str]:
        with self._stream:
            return self._translate(texts)

    def _translate(self, texts: list[str]) -> list[str]:
        if self.fail_after_batches is not None and self.batches >= self.fail_after_batches:
            from translate.errors import BackendError

            raise BackendError(f"pseudo backend: injected failure after {self.batches} batches")
        if self.journal:
            with open(self.journal, "a", encoding="utf-8") as fh:
                fh.write(f"{len(texts)} {sum(map(len, texts))}\n")
                fh.flush()
                os.fsync(fh.fileno())
        if self.delay:
            time.sleep(self.delay)
        self.batches += 1
        self.characters += sum(map(len, texts))
        return [pseudo_localise(t) for t in texts]

    def usage(self) -> dict[str, int]:
        return {"batches": self.batches, "characters": self.characters}


def pseudo_localise(text: str) -> str:
    return text.translate(_TABLE)

"""backends/base.py and pseudo.py: registry, option handling, batching, determinism."""

from __future__ import annotations

import pytest

from translate.backends.base import available_backends, create_backend, iter_batches
from translate.backends.pseudo import PseudoBackend, pseudo_localise
from translate.errors import BackendError, ConfigError


def test_registry_lists_builtins():
    assert {"pseudo", "nllb", "deepl", "google"} <= set(available_backends())


def test_unknown_backend_and_option_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown backend 'nope'"):
        create_backend("nope", "en", "ko")
    with pytest.raises(ConfigError, match="does not take option.*colour.*accepts: delay"):
        create_backend("pseudo", "en", "ko", {"colour": "red"})
    with pytest.raises(ConfigError, match="not a valid float"):
        create_backend("pseudo", "en", "ko", {"delay": "soon"})


def test_string_options_are_coerced():
    b = create_backend("pseudo", "en", "ko", {"delay": "0.0", "batch_size": "7"})
    assert isinstance(b, PseudoBackend) and b.delay == 0.0 and b.max_batch_texts == 7


def test_iter_batches_respects_both_limits():
    texts = ["a" * n for n in (5, 5, 5, 20, 1, 1, 1, 1)]
    batches = list(iter_batches(texts, max_texts=3, max_chars=12))
    assert batches == [[0, 1], [2], [3], [4, 5, 6], [7]]
    assert sorted(i for b in batches for i in b) == list(range(len(texts)))


def test_pseudo_is_deterministic_and_keeps_placeholders(tmp_path):
    b = PseudoBackend("en", "ko", journal=str(tmp_path / "j"))
    out = b.translate(["A dog ⟦0⟧ at 3pm.", "A dog ⟦0⟧ at 3pm."])
    assert out[0] == out[1] == pseudo_localise("A dog ⟦0⟧ at 3pm.")
    assert "⟦0⟧" in out[0] and "3" in out[0] and not any("a" <= c.lower() <= "z" for c in out[0])
    assert (tmp_path / "j").read_text() == "2 34\n"
    assert b.usage() == {"batches": 1, "characters": 34}


def test_pseudo_injected_failure():
    b = PseudoBackend("en", "ko", fail_after_batches=1)
    b.translate(["x"])
    with pytest.raises(BackendError, match="injected"):
        b.translate(["y"])

"""backends/pseudo.py: deterministic output, and `delay` behaving like one GPU stream."""

from __future__ import annotations

import threading
import time

import pytest

from translate.backends.pseudo import PseudoBackend, pseudo_localise
from translate.errors import BackendError


def test_output_is_deterministic_and_keeps_placeholders():
    backend = PseudoBackend("en", "ko")
    texts = ["A dog at ⟦0⟧.", "", "22"]
    assert backend.translate(texts) == backend.translate(list(texts)) == [pseudo_localise(t) for t in texts]
    assert "⟦0⟧" in backend.translate(texts)[0]
    assert backend.usage() == {"batches": 3, "characters": 3 * sum(map(len, texts))}


def test_batches_from_several_threads_run_one_at_a_time():
    """Two threads each send one batch of `delay`: one stream takes at least 2 × delay (no upper bound is asserted,
    a loaded machine is only slower), and both batches are counted."""
    delay = 0.2
    backend = PseudoBackend("en", "ko", delay=delay)
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(backend.translate(["a cat"]))) for _ in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.perf_counter() - started >= 2 * delay
    assert results == [[pseudo_localise("a cat")]] * 2
    assert backend.usage()["batches"] == 2


def test_the_wait_releases_the_gil():
    """While a batch waits in a thread, the caller's thread runs Python: it finishes its own work long before the
    batch ends (were the GIL held, the batch would be over by the time the caller ran again)."""
    backend = PseudoBackend("en", "ko", delay=2.0)
    batch = threading.Thread(target=backend.translate, args=(["a dog"],))
    batch.start()
    time.sleep(0.05)  # let the batch start its wait
    total = sum(i * i for i in range(100_000))  # pure Python, needs the GIL
    assert total > 0
    assert batch.is_alive()
    batch.join()
    assert backend.usage()["batches"] == 1


def test_injected_failure_after_n_batches():
    backend = PseudoBackend("en", "ko", fail_after_batches=1)
    backend.translate(["one"])
    with pytest.raises(BackendError, match="after 1 batches"):
        backend.translate(["two"])

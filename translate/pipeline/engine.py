"""The engine thread: the only thread that calls the backend, one batch at a time, while the caller's thread reads,
prepares, assembles and writes (and stores every returned batch in the memory).
"""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Job:
    """One backend batch: the keys and texts it carries, and the call that translates them."""

    keys: list[bytes]
    sources: list[str]
    call: Callable[[], list[str | None]]
    pool: Any = None  # what the caller groups the batch under (its look-ahead pool)


@dataclass(slots=True)
class Outcome:
    job: Job
    outputs: list[str | None] | None
    error: BaseException | None


class EngineThread:
    """Runs submitted jobs in order, one at a time, on one daemon thread (started on the first submit)."""

    def __init__(self, name: str = "translate-engine", wake: threading.Event | None = None):
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        # Finished jobs, appended by the engine and taken by the caller; a deque, so that checking it between
        # records costs next to nothing.
        self.done: collections.deque[Outcome] = collections.deque()
        # Set whenever a job finishes; `wake` lets the caller share it with other sources of work (worker results).
        self._ready = wake if wake is not None else threading.Event()
        self._stored = threading.Semaphore(0)
        self._stop = False
        self._thread: threading.Thread | None = None
        self.pending = 0  # submitted jobs whose outcome the caller has not taken yet

    def submit(self, job: Job) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
            self._thread.start()
        self.pending += 1
        self._jobs.put(job)

    def take(self, block: bool) -> list[Outcome]:
        """The finished outcomes, in submission order; with `block`, waits for at least one when any is pending.
        Each must then be `acknowledge`d once stored (the engine waits for that before its next batch)."""
        if block and not self.done and self.pending:
            while not self.done:
                # A timeout, so that Ctrl-C is seen promptly and a dead engine thread cannot hang the run.
                self._ready.wait(0.2)
                self._ready.clear()
                if not self.done and (self._thread is None or not self._thread.is_alive()):
                    raise RuntimeError("the translation engine thread stopped without a result")
        out = []
        while self.done:
            out.append(self.done.popleft())
        self.pending -= len(out)
        return out

    def acknowledge(self) -> None:
        """The outcome last taken is stored: the engine may start its next batch."""
        self._stored.release()

    def close(self) -> None:
        """Stop after the batch in progress (if any); its outcome is never stored. Does not wait for it."""
        self._stop = True
        self._jobs.put(None)
        self._stored.release()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None or self._stop:
                return
            try:
                outcome = Outcome(job, job.call(), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
                outcome = Outcome(job, None, exc)
            self.done.append(outcome)
            self._ready.set()
            if outcome.error is not None:
                return
            self._stored.acquire()


# The most of one record (serialised) that the rejected file keeps; a larger record is replaced by a marker with its
# size and SHA-256, so a file of pasted megabyte values cannot blow the log up (docs/robustness.md, "Bounded logs").

"""Worker processes for the pipeline's own work (`--workers N`): they prepare windows and assemble them (restore,
check, serialise) while the caller's process reads, keeps the memory (SQLite), drives the engine and writes the
encoded results in reading order.

Each window goes to one worker (`window id % N`), which keeps the window's prepared records between the two steps:
a record crosses the process boundary once, on its way in, and comes back as the JSON text to write. Only the keys
and bodies of its segments travel back after prepare. A worker runs its tasks in the order they were given; results
come back on one queue, read by a listener thread into a table, so a large result never blocks a worker.

Workers are started with `spawn` (safe beside the engine thread, the same on every platform), ignore Ctrl-C (the
caller handles it and stops them), and exit on their own when the caller's process is gone.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

from translate.errors import TranslateError
from translate.formats.readers import SourceItem
from translate.pipeline.assembler import Assembler
from translate.pipeline.options import SegmentCounts
from translate.pipeline.segments import Segmenter
from translate.pipeline.window_stages import AssembleSettings, WindowOutput, assemble_window, prepare_window

# `--workers` left unset starts workers only for a file at least this large: below it, starting them (about a second)
# costs more than they save.
AUTO_MIN_BYTES = 8 * 1024 * 1024
AUTO_MAX_WORKERS = 8
_PARENT_CHECK_S = 1.0  # how often an idle worker checks that the caller's process is still there
WORKER_NICENESS = 10  # added to the caller's; see `serve`


class WorkerError(TranslateError):
    """A worker process stopped without its result (killed, out of memory). Everything stored stays in the memory."""


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(requested: int | None, size: int | None) -> int:
    """How many worker processes a file gets: `requested` as given, or (None) one per core, at most
    `AUTO_MAX_WORKERS`, for a file of at least `AUTO_MIN_BYTES` (or of unknown size).

    One per core, not one fewer: the caller's process does about a quarter of the work (reading, SQLite, writing)
    and waits the rest of the time, and the engine thread waits on a GPU or a server. On 2 cores, 2 workers ran a
    pseudo run 1.8x faster than none, 1 worker barely faster (bench/RESULTS.md, "Worker processes")."""
    if requested is not None:
        return max(0, requested)
    if size is not None and size < AUTO_MIN_BYTES:
        return 0
    return min(AUTO_MAX_WORKERS, available_cores())


class WorkerPool:
    """N worker processes that prepare and assemble windows; the caller submits by window id and takes results."""

    def __init__(self, count: int, segmenter: Segmenter, assembler: Assembler, settings: AssembleSettings,
                 wake: threading.Event):
        ctx = multiprocessing.get_context("spawn")
        state = pickle.dumps((segmenter, assembler, settings))
        self._results: Any = ctx.Queue()
        self._tasks: list[Any] = [ctx.Queue() for _ in range(count)]
        self._procs = [ctx.Process(target=serve, args=(tasks, self._results, state), daemon=True,
                                   name=f"translate-worker-{i}") for i, tasks in enumerate(self._tasks)]
        with _main_module_hidden():
            for proc in self._procs:
                proc.start()
        self._got: dict[tuple[int, str], tuple[Any, BaseException | None]] = {}
        self._wake = wake
        self._listener = threading.Thread(target=self._listen, name="translate-worker-results", daemon=True)
        self._listener.start()
        self._closed = False

    @property
    def count(self) -> int:
        return len(self._procs)

    def prepare(self, wid: int, items: list[SourceItem]) -> None:
        self._tasks[wid % len(self._tasks)].put(("prepare", wid, items))

    def assemble(self, wid: int, found: dict[bytes, str]) -> None:
        self._tasks[wid % len(self._tasks)].put(("assemble", wid, found))

    def take(self, wid: int, kind: str) -> Any:
        """The result of task (`wid`, `kind`) if it is back, else None. A task that failed raises its error here."""
        got = self._got.pop((wid, kind), None)
        if got is None:
            return None
        result, error = got
        if error is not None:
            raise error
        return result

    def check_alive(self, wid: int) -> None:
        """Raise `WorkerError` when any worker has died while the caller waits for window `wid`.

        Any worker, not only the one that owes `wid`: the workers share one result queue, and a worker killed while
        writing to it can leave a torn message (or its lock held), after which no other worker's result arrives."""
        if (wid, "prepare") in self._got or (wid, "assemble") in self._got:
            return
        for proc in self._procs:
            if proc.is_alive():
                continue
            code = proc.exitcode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            raise WorkerError(
                f"worker process {proc.name} {how} while the run waited for window {wid} (out of memory?). "
                "Everything translated before is in the translation memory; rerun the same command to resume, with "
                "fewer --workers (or --workers 0) if memory is short.")

    def close(self) -> None:
        """Stop every worker: a clean exit when they are idle, else terminated (killed if that fails). Results not
        taken are dropped."""
        if self._closed:
            return
        self._closed = True
        for tasks in self._tasks:
            tasks.put(None)
        for proc in self._procs:
            proc.join(timeout=2.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2.0)
            if proc.is_alive():  # a stopped (SIGSTOP) or wedged worker ignores SIGTERM
                proc.kill()
                proc.join(timeout=2.0)
        self._results.put(None)  # ends the listener
        self._listener.join(timeout=2.0)
        for q in (*self._tasks, self._results):
            q.close()
            q.cancel_join_thread()  # a task never taken must not keep this process from exiting

    def _listen(self) -> None:
        while True:
            try:
                message = self._results.get()
            # The queue was closed (EOFError, OSError), or a killed worker tore a message; check_alive reports it.
            except Exception:  # noqa: BLE001
                return
            if message is None:
                return
            wid, kind, result, error = message
            self._got[(wid, kind)] = (result, error)
            self._wake.set()


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """`spawn` runs the caller's main script again in each child before its target, unless it is guarded by
    ``if __name__ == "__main__"``. A worker needs nothing from it, and a script that calls `Pipeline` unguarded would
    start workers from its workers; so the children are started as if there were no main script."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


# -- in the worker process -----------------------------------------------------------------------------------------


def serve(tasks: Any, results: Any, state: bytes) -> None:
    """A worker's loop: prepare windows and keep them, assemble them when their translations come.

    A prepare is done before any assemble already waiting: prepared windows feed the engine, assembled ones only
    the writer, so the engine never waits behind the output of earlier windows. Each kind keeps its own order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle; it stops the workers
    # The caller hands every finished batch back to the engine, which waits for that; where cores are short, it
    # must get one as soon as it wakes. Workers only need throughput.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICENESS)
    segmenter, assembler, settings = pickle.loads(state)
    held: dict[int, list] = {}  # window id → its prepared records, until assembled
    waiting: dict[str, collections.deque] = {"prepare": collections.deque(), "assemble": collections.deque()}
    parent = multiprocessing.parent_process()
    while True:
        idle = not waiting["prepare"] and not waiting["assemble"]
        try:
            task = tasks.get(timeout=_PARENT_CHECK_S) if idle else tasks.get_nowait()
        except queue.Empty:
            if idle:
                if parent is not None and not parent.is_alive():
                    return  # the caller was killed: nothing will ever take the results
                continue
            task = ()
        if task is None:
            return
        if task:
            waiting[task[0]].append(task)
            continue  # take every task already sent before choosing the next
        kind, wid, payload = (waiting["prepare"] or waiting["assemble"]).popleft()
        try:
            result: SegmentCounts | WindowOutput
            if kind == "prepare":
                prepared, result = prepare_window(segmenter, payload)
                held[wid] = prepared
            else:
                result = assemble_window(assembler, held.pop(wid), payload, settings)
            results.put((wid, kind, result, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            results.put((wid, kind, None, portable(exc)))


def portable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling as it is, else the nearest class of ours (or RuntimeError) with its message: an
    error with its own constructor arguments cannot be rebuilt on the other side of a queue."""
    with contextlib.suppress(Exception):  # any failure to round-trip means: rebuild it
        pickle.loads(pickle.dumps(exc))
        return exc
    for cls in type(exc).__mro__:
        if issubclass(cls, TranslateError):
            try:
                rebuilt = cls(str(exc))
                pickle.loads(pickle.dumps(rebuilt))
                return rebuilt
            except Exception:  # noqa: BLE001,S112 - this class takes other arguments; try its base
                continue
    return RuntimeError(f"{type(exc).__name__}: {exc}")

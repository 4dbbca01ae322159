"""pipeline.py: the engine thread and the look-ahead. Translation overlaps the pipeline's own work, a segment in flight
is sent once, a failing engine stops the run as before, and the output does not depend on the look-ahead."""

from __future__ import annotations

import threading

import pytest

from translate.backends.pseudo import PseudoBackend, pseudo_localise
from translate.errors import BackendError
from translate.formats.readers import RecordReader
from translate.memory import TranslationMemory
from translate.pipeline import (
    EngineThread,
    FileFlow,
    Pipeline,
    RunOptions,
    Segmenter,
    collect_segments,
)
from translate.protect import Protector


def _run(src, out, backend, **options):
    with TranslationMemory(out / "tm.sqlite") as memory:
        pipeline = Pipeline(backend, memory, RunOptions(**options))
        return pipeline.run_file(src, out)


def _rows(path) -> dict[bytes, str]:
    with TranslationMemory(path) as memory:
        return dict(memory._db.execute("SELECT key, target FROM segments"))


class RecordingBackend(PseudoBackend):
    """Pseudo translation that remembers every text it was sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent: list[str] = []

    def translate(self, texts):
        self.sent.extend(texts)
        return super().translate(texts)


def test_the_engine_translates_while_earlier_windows_are_written(tmp_path, make_instruct, monkeypatch):
    """The caller's thread sends the next pool while the engine works on the first batch, and the engine starts the
    second batch while the caller's thread is writing the first window. Run one stage after the other, the first wait
    below times out (nothing is sent while a batch runs) and so does the second (the second batch would only start
    after the first window is written)."""
    src = make_instruct(60)
    second_job_sent, second_batch_started = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}
    submit = EngineThread.submit

    def noting_submit(self, job):  # the real submit, then a note once a second job is queued
        submit(self, job)
        if self.pending >= 2:
            second_job_sent.set()

    monkeypatch.setattr(EngineThread, "submit", noting_submit)

    class Backend(PseudoBackend):
        def translate(self, texts):
            if self.batches == 0:
                seen["sent while the first batch ran"] = second_job_sent.wait(10)
            elif self.batches == 1:
                second_batch_started.set()
            return super().translate(texts)

    def on_window(bytes_read, stats):
        if "second batch started while the first window was written" not in seen:
            seen["second batch started while the first window was written"] = second_batch_started.wait(10)

    backend = Backend("en", "ko", batch_size=1000)
    with TranslationMemory(tmp_path / "tm.sqlite") as memory:
        pipeline = Pipeline(backend, memory, RunOptions(window=10, lookahead_windows=2))
        stats = pipeline.run_file(src, tmp_path, progress=on_window)
    assert seen == {"sent while the first batch ran": True,
                    "second batch started while the first window was written": True}
    assert stats.records_in == 60 and backend.batches > 2


def test_a_segment_in_flight_is_sent_once_and_a_later_window_counts_it_as_a_hit(tmp_path, make_instruct):
    """LLaVA repeats its questions across windows. Each unique segment is sent exactly once, and the counters are
    those of window-by-window translation: a key a window needs that an earlier window sent is a memory hit."""
    src = make_instruct(200)
    backend = RecordingBackend("en", "ko", batch_size=16, delay=0.001)
    stats = _run(src, tmp_path, backend, window=20, lookahead=40, lookahead_windows=3)
    assert len(backend.sent) == len(set(backend.sent)) == stats.segments_sent == stats.segments_unique
    # The oracle: window by window, keys not seen in an earlier window are sent, the others are hits.
    segmenter = Segmenter(Protector(style=backend.placeholder), "en", "ko", backend.fingerprint())
    items = list(RecordReader(src))
    seen: set[bytes] = set()
    hits = 0
    for start in range(0, len(items), 20):
        prepared = [segmenter.prepare(item) for item in items[start:start + 20]]
        wanted = collect_segments((f for rec in prepared for f in rec.fields), segmenter).wanted
        hits += sum(1 for key in wanted if key in seen)
        seen.update(wanted)
    assert stats.memory_hits == hits > 0
    assert stats.hits_by_origin == {backend.fingerprint(): hits}


@pytest.mark.parametrize("lookahead, windows", [(1, 1), (50, 2), (10**6, 10**6)])
def test_output_and_counts_do_not_depend_on_the_look_ahead(tmp_path, make_instruct, lookahead, windows):
    src = make_instruct(150)
    ref_out, out = tmp_path / "ref", tmp_path / "out"
    ref_out.mkdir()
    out.mkdir()
    ref = _run(src, ref_out, PseudoBackend("en", "ko", batch_size=32), window=25)
    stats = _run(src, out, PseudoBackend("en", "ko", batch_size=32), window=25, lookahead=lookahead,
                 lookahead_windows=windows)
    for name in ("ko_instruct.json", "ko_instruct.rejected.jsonl", "ko_instruct.qc.jsonl"):
        assert (out / name).read_bytes() == (ref_out / name).read_bytes(), name
    assert stats.as_dict() == ref.as_dict()
    assert _rows(out / "tm.sqlite") == _rows(ref_out / "tm.sqlite")


class FailingBackend(PseudoBackend):
    """Fails in its third batch; with `partial`, after finishing the first half of that batch."""

    def __init__(self, *args, error: Exception, partial: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.error, self.partial = error, partial
        self.finished_in_failed_batch: list[str] = []

    def translate(self, texts):
        if self.batches == 2:
            self.batches += 1
            if self.partial:
                half = [pseudo_localise(t) for t in texts[: len(texts) // 2]]
                self.finished_in_failed_batch = texts[: len(texts) // 2]
                self.error.partial = half + [None] * (len(texts) - len(half))
            raise self.error
        return super().translate(texts)


@pytest.mark.parametrize("partial", [False, True])
def test_a_backend_error_in_the_engine_stops_the_run_keeping_what_was_finished(tmp_path, make_instruct, partial):
    src = make_instruct(120)
    error = BackendError("quota exhausted; rerun to resume")
    backend = FailingBackend("en", "ko", batch_size=8, error=error, partial=partial)
    with pytest.raises(BackendError) as raised:
        _run(src, tmp_path, backend, window=10, lookahead=16)
    assert raised.value is error and str(raised.value) == "quota exhausted; rerun to resume"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("ko_", ".ko_"))) == []
    # Exactly the two finished batches (and the finished half of the failed one) are in the memory.
    rows = _rows(tmp_path / "tm.sqlite")
    assert len(rows) == 16 + len(backend.finished_in_failed_batch)
    if partial:
        assert set(map(pseudo_localise, backend.finished_in_failed_batch)) <= set(rows.values())


def test_an_unexpected_exception_in_the_engine_becomes_a_backend_error(tmp_path, make_instruct):
    src = make_instruct(60)
    backend = FailingBackend("en", "ko", batch_size=8, error=RuntimeError("CUDA out of memory"), partial=False)
    with pytest.raises(BackendError, match="backend pseudo failed: RuntimeError: CUDA out of memory.*rerun"):
        _run(src, tmp_path, backend, window=10)
    assert len(_rows(tmp_path / "tm.sqlite")) == 16
    assert not any(p.name.startswith("ko_") for p in tmp_path.iterdir())


def test_windows_held_stay_bounded_on_a_file_of_memory_hits(tmp_path, make_instruct, monkeypatch):
    """A rerun where nearly everything is in the memory: windows that need nothing are written as they come, so a
    long stretch of them behind one missing segment never piles up."""
    src = make_instruct(300)
    _run(src, tmp_path, PseudoBackend("en", "ko"))
    records = src.read_text()
    src.write_text(records.replace("What color is the", "Which colour is the", 1))  # one new segment
    held: list[int] = []

    original = FileFlow.add_window

    def add_window(self, window):  # the real method, then a look at how many windows wait
        original(self, window)
        held.append(len(self.pending))

    monkeypatch.setattr(FileFlow, "add_window", add_window)
    stats = _run(src, tmp_path, PseudoBackend("en", "ko"), window=5, lookahead_windows=2)
    assert stats.segments_sent == 1 and stats.records_in == 300
    assert max(held) <= 2 * 2 + 1

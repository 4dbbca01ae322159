"""translate.runtime: one place opens a job; the CLI, plan, shards and assemble all build their pieces here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from translate.backends.pseudo import PseudoBackend
from translate.config import RunConfig
from translate.runtime import manifest_options, open_job, open_segmenter, run_files


class Recorder:
    """A RunProgress that keeps what it was told."""

    def __init__(self):
        self.events: list[tuple] = []

    def start(self, total_bytes):
        self.events.append(("start", total_bytes))

    def file_started(self, path):
        self.events.append(("file", Path(path).name))

    def advance(self, done_bytes, records, segments):
        self.events.append(("advance", done_bytes, records, segments))

    def file_done(self, path, out_dir, stats):
        self.events.append(("done", Path(path).name, stats.records_in))


def test_run_files_reports_progress_per_file_and_sums_the_counters(tmp_path, make_instruct, blip_excerpt):
    a = make_instruct(30, "a.json")
    cfg = RunConfig(src=[str(a), str(blip_excerpt)], out=str(tmp_path / "out"), backend="pseudo", window=8)
    progress = Recorder()
    with open_job(cfg) as job:
        totals = run_files(job, cfg.sources(), progress)
    sizes = a.stat().st_size + blip_excerpt.stat().st_size
    assert progress.events[0] == ("start", sizes)
    assert [e[1] for e in progress.events if e[0] == "file"] == ["a.json", blip_excerpt.name]
    advances = [e for e in progress.events if e[0] == "advance"]
    assert [e[1] for e in advances] == sorted(e[1] for e in advances) and advances[-1][1] == sizes
    done = [e for e in progress.events if e[0] == "done"]
    assert totals.records_in == sum(e[2] for e in done) == 30 + len(json.loads(blip_excerpt.read_text()))
    manifest = json.loads((tmp_path / "out" / "ko_a.manifest.json").read_text())
    assert manifest["options"] == manifest_options(cfg)


def test_manifest_options_never_hold_a_secret():
    cfg = RunConfig(backend="deepl", backend_options={"auth_key": "s3cret:fx", "formality": "more"})
    options = manifest_options(cfg)
    assert options["backend_options"] == {"formality": "more"}
    assert "s3cret" not in json.dumps(options)


def test_open_job_uses_a_given_backend_and_closes_it(tmp_path):
    closed = []

    class Tracked(PseudoBackend):
        def close(self):
            closed.append(True)

    cfg = RunConfig(src=[], out=str(tmp_path), backend="pseudo")
    with open_job(cfg, backend=Tracked("en", "ko")) as job:
        assert job.pipeline.backend is job.backend and isinstance(job.backend, Tracked)
        assert job.memory.path == tmp_path / "translation_memory.sqlite"
    assert closed == [True]


def test_a_failing_glossary_closes_the_backend_it_was_given(tmp_path):
    from translate.errors import ConfigError

    closed = []

    class Tracked(PseudoBackend):
        def close(self):
            closed.append(True)

    cfg = RunConfig(src=[], out=str(tmp_path), backend="pseudo", glossary=str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="no such folder"):
        open_job(cfg, backend=Tracked("en", "ko"))
    assert closed == [True]


def test_the_segmenter_keys_exactly_as_a_job_does(tmp_path):
    cfg = RunConfig(src=[], out=str(tmp_path), backend="pseudo")
    backend = PseudoBackend("en", "ko")
    segmenter = open_segmenter(cfg, backend)
    with open_job(cfg, backend=PseudoBackend("en", "ko")) as job:
        text = "<image>\nWhat is the man holding in `code` at https://example.com?"
        a = segmenter.key_for_protected(segmenter.protector.protect(text))
        b = job.pipeline.segmenter.key_for_protected(job.pipeline.protector.protect(text))
        assert a == b and a is not None


def test_the_manifest_records_the_command_without_secrets_and_the_glossary_version(tmp_path, blip_excerpt,
                                                                                   monkeypatch):
    import sys as _sys

    from translate.config import redacted_command

    argv = ["run", "--src", str(blip_excerpt), "--opt", "auth_key=s3cret", "--opt", "delay=0"]
    assert redacted_command(argv)[-3:] == ["auth_key=<redacted>", "--opt", "delay=0"]
    monkeypatch.setattr(_sys, "argv", ["translate", *argv])
    glossary = tmp_path / "g"
    glossary.mkdir()
    (glossary / "terms.tsv").write_text("source\ttarget\nfire hydrant\t소화전\n", encoding="utf-8")
    cfg = RunConfig(src=[str(blip_excerpt)], out=str(tmp_path / "out"), backend="pseudo", glossary=str(glossary))
    with open_job(cfg) as job:
        run_files(job, cfg.sources())
    manifest = json.loads((tmp_path / "out" / f"ko_{blip_excerpt.stem}.manifest.json").read_text())
    assert manifest["command"][:4] == ["python", "-m", "translate", "run"]
    assert "s3cret" not in json.dumps(manifest) and "auth_key=<redacted>" in manifest["command"]
    first = manifest["glossary"]
    assert first["path"] == str(glossary) and len(first["sha256"]) == 64
    (glossary / "terms.tsv").write_text("source\ttarget\nfire hydrant\t소방전\n", encoding="utf-8")
    with open_job(RunConfig(src=[str(blip_excerpt)], out=str(tmp_path / "out2"), backend="pseudo",
                            glossary=str(glossary))) as job:
        run_files(job, cfg.sources())
    second = json.loads((tmp_path / "out2" / f"ko_{blip_excerpt.stem}.manifest.json").read_text())["glossary"]
    assert second["sha256"] != first["sha256"]

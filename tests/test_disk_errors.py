"""Unwritable and full output folders: a clear one-line error (exit 2), and no ko_* file, whole or partial, left.

Tests run as root, so chmod cannot make a folder unwritable. Instead: a folder under a regular file, /dev/full, a
per-process file-size limit (RLIMIT_FSIZE, which binds root too and needs no privilege: writes past it fail with
EFBIG), and, where this process may mount, a tiny tmpfs (ENOSPC at every possible point) and a read-only one.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import uuid
from pathlib import Path

import pytest

from robustness_support import (
    ROOT,
    assert_no_traceback,
    child_env,
    ko_files,
    llava_records,
    temporaries,
    translate_cmd,
    write_array,
)

OUTPUTS = ("ko_data.json", "ko_data.rejected.jsonl", "ko_data.manifest.json")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    """A 250-record source (a bad record among them, so the rejected file has content) and its reference run."""
    base = tmp_path_factory.mktemp("disk")
    records = llava_records(250, seed=11)
    records[5]["conversations"][1]["value"] = 42
    src = write_array(base / "data.json", records)
    ref = base / "ref"
    proc = _run(src, ref)
    assert proc.returncode == 0, proc.stderr
    return src, ref


def _run(src: Path, out: Path, memory: Path | None = None, limit: int | None = None,
         window: int = 100) -> subprocess.CompletedProcess:
    args = ["run", "--src", src, "--backend", "pseudo", "--out", out, "--window", window, "--quiet"]
    if memory is not None:
        args += ["--memory", memory]

    def fsize_limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(translate_cmd(*args), capture_output=True, text=True, env=child_env(), cwd=ROOT,
                          timeout=120, preexec_fn=fsize_limit if limit else None)
    assert_no_traceback(proc)
    return proc


def _assert_clean_failure(proc: subprocess.CompletedProcess, out: Path, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    message = proc.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message, message
    for word in words:
        assert word in message, message
    assert ko_files(out) == [], f"partial output left behind: {ko_files(out)}"
    assert temporaries(out) == []


def _assert_complete(out: Path, ref: Path) -> None:
    for name in OUTPUTS[:2]:
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    manifest = json.loads((out / OUTPUTS[2]).read_text())
    assert manifest["counts"]["records_in"] == 250


def test_output_folder_under_a_regular_file(tmp_path, data):
    src, _ = data
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "out"
    proc = _run(src, out)
    _assert_clean_failure(proc, out, str(out), "Not a directory")  # the memory beside the outputs fails first
    proc = _run(src, out, memory=tmp_path / "tm.sqlite")
    _assert_clean_failure(proc, out, str(out), "Not a directory")
    assert blocker.read_text() == "not a folder"


def test_dev_full_as_memory_and_as_output_folder(tmp_path, data):
    src, _ = data
    proc = _run(src, tmp_path / "out", memory=Path("/dev/full"))
    _assert_clean_failure(proc, tmp_path / "out", "/dev/full", "translation memory")
    proc = _run(src, Path("/dev/full"), memory=tmp_path / "tm.sqlite")
    assert proc.returncode == 2 and "/dev/full" in proc.stderr


@pytest.mark.parametrize("share", [0.02, 0.97])
def test_file_size_limit_stops_cleanly_and_a_rerun_completes(tmp_path, data, share):
    """RLIMIT_FSIZE: whichever file hits the limit first (the output, or the memory when it is beside the outputs),
    the run stops with exit 2 and leaves no ko_* file; the same command without the limit then completes with the
    reference bytes."""
    src, ref = data
    largest = max(p.stat().st_size for p in ref.iterdir() if p.name.startswith("ko_"))
    limit = max(4_096, int(largest * share))  # a share of the largest output: the limit is always hit
    out = tmp_path / "out"
    proc = _run(src, out, limit=limit)
    _assert_clean_failure(proc, out, "File too large" if "memory" not in proc.stderr else "memory")
    proc = _run(src, out)
    assert proc.returncode == 0, proc.stderr
    _assert_complete(out, ref)


def _mount_tmpfs(path: Path, size: str, readonly: bool = False) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    try:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, f"llava-test-{uuid.uuid4().hex[:8]}", str(path)],
                             capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return res.returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True, timeout=10)


@pytest.fixture
def tmpfs(tmp_path):
    """mount(size) -> a fresh tmpfs folder of that size; skips where this process may not mount."""
    mounted: list[Path] = []

    def mount(size: str, readonly: bool = False) -> Path:
        path = tmp_path / f"fs{len(mounted)}"
        if not _mount_tmpfs(path, size, readonly):
            pytest.skip("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        _umount(path)


def test_full_disk_at_every_point_leaves_all_or_nothing(tmp_path, data, tmpfs):
    """A tmpfs filled at different points of the run (first write, mid-stream, the last flush, the manifest): each
    run either completes with every output whole, or fails with ENOSPC and leaves no ko_* file. The memory lives
    on a healthy disk, so the reruns resume."""
    src, ref = data
    memory = tmp_path / "tm.sqlite"
    # What the outputs need on a tmpfs, in 4 KiB pages; the sizes just under it fail at the last flushes and at the
    # manifest, after the other files were finished.
    kib = 4 * sum(-(-p.stat().st_size // 4096) for p in ref.iterdir() if p.name.startswith("ko_"))
    outcomes = []
    for size in (4, kib - 12, kib - 8, kib - 4, kib + 64):
        fs = tmpfs(f"{size}k")
        out = fs / "out"
        proc = _run(src, out, memory=memory)
        if proc.returncode == 0:
            _assert_complete(out, ref)
            outcomes.append((size, "complete"))
        else:
            _assert_clean_failure(proc, out, "No space left on device", str(out))
            outcomes.append((size, "ENOSPC"))
    assert outcomes[0][1] == "ENOSPC" and outcomes[-1][1] == "complete", outcomes


def test_memory_on_a_full_disk(tmp_path, data, tmpfs):
    src, _ = data
    fs = tmpfs("32k")
    out = tmp_path / "out"
    proc = _run(src, out, memory=fs / "tm.sqlite")
    _assert_clean_failure(proc, out, "translation memory", str(fs / "tm.sqlite"))


def test_read_only_output_folder(tmp_path, data, tmpfs):
    src, _ = data
    fs = tmpfs("1m", readonly=True)
    proc = _run(src, fs / "out", memory=tmp_path / "tm.sqlite")
    _assert_clean_failure(proc, fs / "out", "Read-only file system")
    proc = _run(src, fs, memory=tmp_path / "tm.sqlite")
    _assert_clean_failure(proc, fs, "Read-only file system", str(fs))
    assert os.listdir(fs) == []

"""Pinned NLLB models: resolution from the Hugging Face cache and from a Hub stand-in on 127.0.0.1, checked against
their pinned sizes and SHA-256, assembled once into the tool's cache, and refused when a file is not the pinned one.

The stand-in pin is the tiny copy model (tests/support/nllb_support.py) split over two repositories, as a converted repository
without the SentencePiece model would be: the weights from one, the tokenizer from "the original".
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")
pytest.importorskip("sentencepiece")
hub = pytest.importorskip("huggingface_hub")
pytest.importorskip("huggingface_hub.constants")  # loaded lazily: import it so that `hub.constants` exists

from conftest import cache_dir  # noqa: E402
from nllb_support import cached_copy_model  # noqa: E402

from translate import nllb_models  # noqa: E402
from translate.backends.nllb import NLLBBackend  # noqa: E402
from translate.errors import ModelNotFoundError  # noqa: E402
from translate.nllb_models import (  # noqa: E402
    DEFAULT_MODEL,
    PIN_MARKER,
    PINNED,
    PinnedFile,
    PinnedModel,
    model_identity,
    pinned,
    resolve_model,
)

REPO, REV = "test/tiny-nllb-ct2-int8", "1" * 40
ORIGINAL, ORIGINAL_REV = "test/tiny-nllb", "2" * 40
WEIGHTS = ("config.json", "shared_vocabulary.json", "model.bin")
SPM = "sentencepiece.bpe.model"


@pytest.fixture(scope="session")
def tiny_model(request) -> Path:
    return cached_copy_model(cache_dir(request, "nllb-tiny-model"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def pin(tiny_model, monkeypatch) -> PinnedModel:
    files = tuple(PinnedFile(n, (tiny_model / n).stat().st_size, _digest(tiny_model / n)) for n in WEIGHTS)
    files += (PinnedFile(SPM, (tiny_model / SPM).stat().st_size, _digest(tiny_model / SPM), ORIGINAL, ORIGINAL_REV),)
    stand_in = PinnedModel(REPO, REV, ORIGINAL, files)
    monkeypatch.setitem(PINNED, REPO, stand_in)
    return stand_in


@pytest.fixture
def caches(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(the tool's cache, the Hugging Face hub cache), both empty and private to the test."""
    ours, theirs = tmp_path / "llava-cache", tmp_path / "hf-hub"
    monkeypatch.setenv("LLAVA_TRANSLATE_CACHE", str(ours))
    monkeypatch.setattr(hub.constants, "HF_HUB_CACHE", str(theirs))
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return ours, theirs


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", True)


def put_in_hub_cache(cache: Path, repo: str, revision: str, name: str, data: bytes) -> Path:
    """One file in the Hugging Face cache layout: blobs/<hash> and snapshots/<revision>/<name> linking to it."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    blob = folder / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    pointer = folder / "snapshots" / revision / name
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(revision)
    return blob


def fill_hub_cache(cache: Path, tiny_model: Path, skip: tuple[str, ...] = ()) -> dict[str, Path]:
    blobs = {}
    for name in WEIGHTS:
        if name not in skip:
            blobs[name] = put_in_hub_cache(cache, REPO, REV, name, (tiny_model / name).read_bytes())
    if SPM not in skip:
        blobs[SPM] = put_in_hub_cache(cache, ORIGINAL, ORIGINAL_REV, SPM, (tiny_model / SPM).read_bytes())
    return blobs


# -- the default pin ----------------------------------------------------------------------------------------------

def test_the_default_is_a_complete_pin_of_a_converted_nllb():
    pin = PINNED[DEFAULT_MODEL]
    assert re.fullmatch(r"[0-9a-f]{40}", pin.revision)
    assert pin.converted_from == "facebook/nllb-200-distilled-600M"
    names = {f.name for f in pin.files}
    assert "model.bin" in names and names & set(nllb_models.SPM_NAMES) and names & set(nllb_models.VOCAB_NAMES)
    assert all(f.size > 0 and re.fullmatch(r"[0-9a-f]{64}", f.sha256) for f in pin.files)
    assert model_identity(DEFAULT_MODEL) == f"{DEFAULT_MODEL}@{pin.revision}"
    assert pinned(DEFAULT_MODEL, pin.revision) is pin
    assert pinned(DEFAULT_MODEL, "main") is None  # another revision is not the pinned files
    assert model_identity(DEFAULT_MODEL, "main") == f"{DEFAULT_MODEL}@main"


# -- from the Hugging Face cache, offline -------------------------------------------------------------------------

def test_a_pinned_model_is_assembled_from_checked_files_in_the_hub_cache(pin, caches, offline, tiny_model):
    ours, theirs = caches
    blobs = fill_hub_cache(theirs, tiny_model)
    path = resolve_model(REPO)
    assert path == ours / "nllb" / f"test--tiny-nllb-ct2-int8@{REV}"
    for name, blob in blobs.items():  # links to the checked files: no second copy of the weights
        assert (path / name).resolve() == blob.resolve()
    assert (path / PIN_MARKER).is_file()
    b = NLLBBackend("en", "ko", model=REPO, device="cpu")
    assert b.translate(["The cat is sitting on a mat."]) == ["The cat is sitting on a mat."]
    assert b.fingerprint().startswith(f"nllb/{REPO}@{REV}/int8/")


def test_an_assembled_folder_is_used_as_it_is_until_a_file_goes(pin, caches, offline, tiny_model, monkeypatch):
    _, theirs = caches
    fill_hub_cache(theirs, tiny_model)
    path = resolve_model(REPO)
    spm_blob = (path / SPM).resolve()
    with monkeypatch.context() as m:
        m.setattr(hub, "hf_hub_download", None)  # a ready folder never asks the Hub client anything
        assert resolve_model(REPO) == path
    shutil.rmtree(theirs / f"models--{REPO.replace('/', '--')}")  # the weights leave the HF cache: links dangle
    with pytest.raises(ModelNotFoundError, match=r"model\.bin.*HF_HUB_OFFLINE"):
        resolve_model(REPO)  # no longer ready, and offline it cannot be rebuilt
    fill_hub_cache(theirs, tiny_model, skip=(SPM,))
    assert resolve_model(REPO) == path and (path / SPM).resolve() == spm_blob


def test_a_file_that_is_not_the_pinned_one_is_refused(pin, caches, offline, tiny_model):
    ours, theirs = caches
    blobs = fill_hub_cache(theirs, tiny_model)
    data = bytearray(blobs["model.bin"].read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes: a rewritten repository or a damaged download
    blobs["model.bin"].write_bytes(bytes(data))
    pinned_sha = next(f.sha256 for f in pin.files if f.name == "model.bin")
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model(REPO)
    message = str(err.value)
    assert "model.bin" in message and pinned_sha in message and "delete" in message
    assert not (ours / "nllb" / pin.folder_name).exists()  # nothing half assembled


def test_a_file_of_the_wrong_size_is_refused_without_hashing_it(pin, caches, offline, tiny_model):
    _, theirs = caches
    blobs = fill_hub_cache(theirs, tiny_model)
    with open(blobs[SPM], "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelNotFoundError, match=rf"{re.escape(SPM)} from {ORIGINAL}@{ORIGINAL_REV}.*bytes"):
        resolve_model(REPO)


def test_offline_a_missing_file_is_named_with_the_way_to_work_offline(pin, caches, offline, tiny_model):
    _, theirs = caches
    fill_hub_cache(theirs, tiny_model, skip=(SPM,))
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model(REPO)
    message = str(err.value)
    assert SPM in message and "HF_HUB_OFFLINE" in message and "--model /path/to/folder" in message
    assert f"--model {ORIGINAL}" in message  # the conversion hint names the original, not the converted repository


def test_local_files_only_never_downloads(pin, caches, tiny_model):
    _, theirs = caches
    fill_hub_cache(theirs, tiny_model, skip=("model.bin",))
    with pytest.raises(ModelNotFoundError, match="local_files_only"):
        resolve_model(REPO, local_files_only=True)


# -- from a Hub stand-in on 127.0.0.1 -----------------------------------------------------------------------------

class FakeHub(BaseHTTPRequestHandler):
    """The Hub's file endpoint, `/{repo}/resolve/{revision}/{name}`, as huggingface_hub uses it: HEAD gives the commit,
    ETag and size; GET the bytes. Unknown repositories, revisions and files get the Hub's 404 with its error code."""

    files: dict[tuple[str, str, str], bytes] = {}
    served: list[str] = []

    def _lookup(self):
        m = re.fullmatch(r"/(.+?/.+?)/resolve/([^/]+)/(.+)", self.path.split("?", 1)[0])
        if not m:
            return None, "RepoNotFound"
        key = (m.group(1), m.group(2), m.group(3))
        if not any(k[0] == key[0] for k in self.files):
            return None, "RepoNotFound"
        if not any(k[:2] == key[:2] for k in self.files):
            return None, "RevisionNotFound"
        return (key, self.files[key]) if key in self.files else (None, "EntryNotFound")

    def _headers(self, key, data: bytes) -> None:
        self.send_response(200)
        self.send_header("X-Repo-Commit", key[1])
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()

    def _missing(self, code: str) -> None:
        body = f'{{"error": "{code}"}}'.encode()
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(body)

    def do_HEAD(self):  # noqa: N802
        key, data = self._lookup()
        if key is None:
            return self._missing(data)
        self._headers(key, data)

    def do_GET(self):  # noqa: N802
        key, data = self._lookup()
        if key is None:
            return self._missing(data)
        self.served.append(key[2])
        self._headers(key, data)
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub(monkeypatch, tiny_model):
    FakeHub.files = {(REPO, REV, n): (tiny_model / n).read_bytes() for n in WEIGHTS}
    FakeHub.files[(ORIGINAL, ORIGINAL_REV, SPM)] = (tiny_model / SPM).read_bytes()
    FakeHub.served = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(hub.constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(hub.constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        endpoint + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield FakeHub
    server.shutdown()
    server.server_close()


def test_a_pinned_model_is_downloaded_once_checked_and_assembled(pin, caches, fake_hub, tiny_model):
    ours, _ = caches
    path = resolve_model(REPO)
    assert sorted(fake_hub.served) == sorted([*WEIGHTS, SPM])
    assert NLLBBackend("en", "ko", model=REPO, device="cpu").translate(["What is this?"]) == ["What is this?"]
    fake_hub.served.clear()
    assert resolve_model(REPO) == path and fake_hub.served == []  # the second time, nothing is fetched


def test_a_hub_serving_other_bytes_than_the_pin_is_refused(pin, caches, fake_hub, tiny_model):
    ours, _ = caches
    fake_hub.files[(REPO, REV, "config.json")] = b'{"rewritten": true}'
    with pytest.raises(ModelNotFoundError, match=r"config\.json from test/tiny-nllb-ct2-int8@1{40} is not the pinned"):
        resolve_model(REPO)
    assert not (ours / "nllb" / pin.folder_name).exists()


def test_a_pinned_file_the_hub_does_not_have_is_named(pin, caches, fake_hub):
    del fake_hub.files[(ORIGINAL, ORIGINAL_REV, SPM)]
    with pytest.raises(ModelNotFoundError, match=rf"{re.escape(SPM)} could not be fetched from {ORIGINAL}@"):
        resolve_model(REPO)

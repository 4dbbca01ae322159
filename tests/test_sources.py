"""formats/sources.py: --src as a URL (issue 15), streamed, never downloaded whole, with clear errors when unreachable.

The https path runs against a real HTTP server on 127.0.0.1 (http.server in a thread) that behaves like the real
thing, misbehaviour included: with and without Content-Length (chunked), Range requests, a connection dropped
mid-body. The Hub path points huggingface_hub's own HfFileSystem (HF_ENDPOINT) at a stand-in on 127.0.0.1 that
answers the routes it uses: repository info, the tree listing, and `resolve` with the Hub's redirect to its CDN.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from translate.errors import ConfigError, InputFileError
from translate.formats.readers import RecordReader
from translate.formats.sources import (
    HubFile,
    SourceUnavailableError,
    is_url,
    open_source,
    parse_hub_url,
    url_file_name,
)

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "a" * 40


def _records(n: int) -> list[dict]:
    return [{"id": f"r{i:06d}", "image": f"{i}.jpg", "conversations": [
        {"from": "human", "value": "<image>\nDescribe the image briefly."},
        {"from": "gpt", "value": f"A cat number {i} sits on a red sofa near a window."}]} for i in range(n)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    files: dict[str, bytes] = {}
    log: list[tuple[str, str, str | None]] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.log.append(("GET", self.path, self.headers.get("Range")))
        path = urllib.parse.urlsplit(self.path).path
        kind, _, rest = path.lstrip("/").partition("/")
        if kind == "api":
            return self._hub_api(rest)
        if kind == "datasets" and "/resolve/" in rest:
            repo, _, tail = rest.partition("/resolve/")
            revision, _, file = tail.partition("/")
            if f"{repo}/{file}" not in self.files:
                return self._error(404, "EntryNotFound")
            # The Hub answers a resolve with a redirect to its CDN; clients must follow it.
            self.send_response(302)
            self.send_header("Location", f"/cdn/{repo}/{file}")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if kind == "cdn":
            return self._file(rest, ranges=True)
        if kind in ("files", "chunked", "drop", "drop-norange"):
            return self._file(rest, ranges=kind != "drop-norange", chunked=kind == "chunked",
                              drop=kind.startswith("drop"))
        self._error(404, None)

    def _file(self, name: str, ranges: bool, chunked: bool = False, drop: bool = False):
        name = urllib.parse.unquote(name)
        if name not in self.files:
            return self._error(404, None)
        body = self.files[name]
        start = 0
        if ranges and self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        if ranges:
            self.send_header("Accept-Ranges", "bytes")
        part = body[start:]
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for i in range(0, len(part), 4096):
                    piece = part[i:i + 4096]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            return
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        try:
            if drop and not self.headers.get("Range"):
                # Misbehaviour: a whole-file download always dies a third of the way through the body.
                self.wfile.write(part[: len(part) // 3])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(part)
        except (BrokenPipeError, ConnectionResetError):  # the client closed early (a probe): as a real server
            self.close_connection = True

    def _hub_api(self, rest: str):
        # /api/datasets/OWNER/NAME[/revision/REV] and /api/datasets/OWNER/NAME/tree/REV[/PATH]
        parts = rest.split("/")
        if parts[0] != "datasets" or len(parts) < 3:
            return self._error(404, "RepoNotFound")
        repo = f"{parts[1]}/{parts[2]}"
        if not any(name.startswith(repo + "/") for name in self.files):
            return self._error(401, "RepoNotFound")  # the Hub answers 401 for a repo that is missing or private
        tail = parts[3:]
        if not tail or tail[0] == "revision":
            if tail and urllib.parse.unquote(tail[1]) not in ("main", "v1.0", COMMIT):
                return self._error(404, "RevisionNotFound")
            return self._json({"id": repo, "sha": COMMIT, "private": False, "siblings": []})
        if tail[0] == "tree":
            folder = "/".join(tail[2:])
            prefix = f"{repo}/{folder + '/' if folder else ''}"
            entries = [{"type": "file", "oid": "b" * 40, "size": len(body), "path": name[len(repo) + 1:]}
                       for name, body in sorted(self.files.items())
                       if name.startswith(prefix) and "/" not in name[len(prefix):]]
            return self._json(entries)
        self._error(404, None)

    def _json(self, data):
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, code: int, hub_code: str | None):
        body = json.dumps({"error": hub_code or "Not Found"}).encode()
        self.send_response(code)
        if hub_code:
            self.send_header("X-Error-Code", hub_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    blip = json.dumps(_records(40), indent=1).encode()
    big = json.dumps(_records(30_000)).encode()  # about 4 MB: several reader chunks
    jsonl = b"".join(json.dumps(r).encode() + b"\n" for r in _records(25))
    _Handler.files = {
        "a.json": blip, "big.json": big, "q.jsonl": jsonl, "llava x.json": blip,
        "liuhaotian/LLaVA-Pretrain/blip_laion_cc_sbu_558k.json": blip,
        "liuhaotian/LLaVA-Pretrain/sub/q.jsonl": jsonl,
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def log():
    _Handler.log.clear()
    return _Handler.log


# -- http(s) ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("route, size_known", [("files", True), ("chunked", False)])
def test_a_url_is_read_like_the_file(server, route, size_known):
    reader = RecordReader(f"{server}/{route}/a.json")
    assert reader.name == "a.json" and reader.format == "json" and reader.path is None
    assert reader.size == (len(_Handler.files["a.json"]) if size_known else None)
    assert [it.record for it in reader] == _records(40)
    assert reader.bytes_read == len(_Handler.files["a.json"])
    lines = RecordReader(f"{server}/{route}/q.jsonl")
    assert lines.format == "jsonl" and [it.record for it in lines] == _records(25)


def test_a_url_is_streamed_not_downloaded_whole(server):
    reader = RecordReader(f"{server}/files/big.json")
    items = iter(reader)
    first = next(items)
    assert first.record == _records(1)[0]
    assert reader.bytes_read < reader.size / 3  # one reader chunk, not the 4 MB file
    assert sum(1 for _ in items) == 29_999


def test_a_dropped_connection_is_resumed_with_a_range_request(server, log):
    assert [it.record["id"] for it in RecordReader(f"{server}/drop/big.json")] == [r["id"] for r in _records(30_000)]
    ranges = [r for method, path, r in log if path == "/drop/big.json" and r]
    assert len(ranges) == 1 and ranges[0] != "bytes=0-"


def test_a_dropped_connection_without_ranges_is_a_clear_error(server):
    url = f"{server}/drop-norange/big.json"
    with pytest.raises(SourceUnavailableError) as err:
        list(RecordReader(url))
    assert err.value.exit_code == 2
    assert url in str(err.value) and "connection was lost after" in str(err.value)


@pytest.mark.parametrize("path, why", [("/files/missing.json", "404"), ("/nothing-here/a.json", "404")])
def test_a_missing_url_names_it_and_says_how_to_work_offline(server, path, why):
    with pytest.raises(SourceUnavailableError) as err:
        RecordReader(server + path)
    message = str(err.value)
    assert message.startswith(server + path) and why in message
    assert "download the file first and pass its local path" in message
    assert isinstance(err.value, InputFileError) and err.value.exit_code == 2


def test_an_unreachable_host_is_a_clear_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceUnavailableError, match=f"http://127.0.0.1:{port}/x.json: cannot connect"):
        open_source(f"http://127.0.0.1:{port}/x.json")


def test_the_output_name_is_the_last_path_component(server):
    source = open_source(f"{server}/files/llava%20x.json?download=1#top")
    assert (source.name, source.stem, source.suffix) == ("llava x.json", "llava x", ".json")
    assert url_file_name("https://example.org/d/llava_instruct_150k.json") == "llava_instruct_150k.json"
    with pytest.raises(ConfigError, match="does not name a file"):
        url_file_name("https://example.org/data/")


# -- the Hugging Face Hub, through a local stand-in ----------------------------------------------------------------
def test_hub_url_through_hffilesystem(server, log, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", server)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    url = "hf://datasets/liuhaotian/LLaVA-Pretrain/blip_laion_cc_sbu_558k.json"
    reader = RecordReader(url)
    assert (reader.name, reader.source.stem, reader.format) == ("blip_laion_cc_sbu_558k.json",
                                                                "blip_laion_cc_sbu_558k", "json")
    assert reader.size == len(_Handler.files["liuhaotian/LLaVA-Pretrain/blip_laion_cc_sbu_558k.json"])
    assert [it.record for it in reader] == _records(40)
    paths = [path for _, path, _ in log]
    assert any(p.startswith("/api/datasets/liuhaotian/LLaVA-Pretrain") for p in paths)
    assert any("/resolve/main/blip_laion_cc_sbu_558k.json" in p for p in paths)
    assert any(p.startswith("/cdn/") for p in paths)  # the redirect was followed


def test_hub_url_with_revision_and_folder(server, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", server)
    reader = RecordReader("hf://datasets/liuhaotian/LLaVA-Pretrain@v1.0/sub/q.jsonl")
    assert reader.format == "jsonl" and [it.record for it in reader] == _records(25)


@pytest.mark.parametrize("url, why", [
    ("hf://datasets/liuhaotian/LLaVA-Pretrain/missing.json", "FileNotFoundError"),
    ("hf://datasets/nobody/nothing/x.json", "FileNotFoundError"),
    ("hf://datasets/liuhaotian/LLaVA-Pretrain@nope/blip_laion_cc_sbu_558k.json", "FileNotFoundError"),
])
def test_a_missing_hub_file_names_it_with_an_offline_hint(server, monkeypatch, url, why):
    monkeypatch.setenv("HF_ENDPOINT", server)
    with pytest.raises(SourceUnavailableError) as err:
        RecordReader(url)
    message = str(err.value)
    assert message.startswith(url) and why in message
    assert "hf download --repo-type dataset" in message and "HF_HUB_OFFLINE=1" in message
    assert err.value.exit_code == 2


def test_offline_a_hub_file_is_read_from_the_hugging_face_cache(tmp_path):
    """HF_HUB_OFFLINE=1 and a file in the cache (as `hf download` leaves it): read from there, no network at all
    (HF_ENDPOINT points at a closed port). A file not in the cache: exit-2 error with the download hint."""
    snapshot = tmp_path / "hub" / "datasets--liuhaotian--LLaVA-Pretrain" / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "blip.json").write_text(json.dumps(_records(3)))
    (tmp_path / "hub" / "datasets--liuhaotian--LLaVA-Pretrain" / "refs").mkdir()
    (tmp_path / "hub" / "datasets--liuhaotian--LLaVA-Pretrain" / "refs" / "main").write_text(COMMIT)
    script = ("import sys; from translate.formats.readers import RecordReader\n"
              "try:\n r = RecordReader(sys.argv[1]); print(r.name, r.size, len(list(r)))\n"
              "except Exception as e: print(type(e).__name__, e)\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(tmp_path / "hub"), HF_ENDPOINT="http://127.0.0.1:9",
               PYTHONPATH=str(ROOT))
    found = subprocess.run([sys.executable, "-c", script, "hf://datasets/liuhaotian/LLaVA-Pretrain/blip.json"],
                           capture_output=True, text=True, env=env, timeout=60)
    size = (snapshot / "blip.json").stat().st_size
    assert found.stdout.strip() == f"blip.json {size} 3", found.stderr
    missing = subprocess.run([sys.executable, "-c", script, "hf://datasets/liuhaotian/LLaVA-Pretrain/other.json"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert missing.stdout.startswith("SourceUnavailableError hf://datasets/liuhaotian/LLaVA-Pretrain/other.json")
    assert "hf download --repo-type dataset liuhaotian/LLaVA-Pretrain other.json" in missing.stdout


@pytest.mark.parametrize("url, parsed", [
    ("hf://datasets/liuhaotian/LLaVA-Instruct-150K/llava_instruct_150k.json",
     HubFile("dataset", "liuhaotian/LLaVA-Instruct-150K", None, "llava_instruct_150k.json")),
    ("hf://datasets/o/n@refs%2Fconvert%2Fparquet/default/train/0000.json",
     HubFile("dataset", "o/n", "refs/convert/parquet", "default/train/0000.json")),
    ("hf://o/model/file.json", HubFile("model", "o/model", None, "file.json")),
])
def test_hub_urls_are_parsed_without_network(url, parsed):
    assert parse_hub_url(url) == parsed


@pytest.mark.parametrize("url", ["hf://datasets/liuhaotian/LLaVA-Pretrain", "hf://datasets/x", "hf://datasets/o/n@/f"])
def test_a_hub_url_that_names_no_file_is_a_config_error(url):
    with pytest.raises(ConfigError, match="hf://datasets/OWNER/NAME/PATH|empty revision"):
        open_source(url)


# -- other fsspec URLs, local paths ------------------------------------------------------------------------------------
def test_an_fsspec_url_is_read_through_its_file_system():
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/bucket/part/data.jsonl", b"".join(json.dumps(r).encode() + b"\n" for r in _records(5)))
    reader = RecordReader("memory://bucket/part/data.jsonl")
    assert (reader.name, reader.size) == ("data.jsonl", fs.size("/bucket/part/data.jsonl"))
    assert [it.record for it in reader] == _records(5)
    with pytest.raises(SourceUnavailableError, match="memory://bucket/none.json: FileNotFoundError"):
        RecordReader("memory://bucket/none.json")


def test_an_unknown_scheme_or_a_missing_package_is_a_config_error():
    import importlib.util

    with pytest.raises(ConfigError, match="unknown URL scheme nope://"):
        open_source("nope://x/a.json")
    if importlib.util.find_spec("s3fs") is None:
        with pytest.raises(ConfigError, match="s3:// needs a package that is not installed"):
            open_source("s3://bucket/a.json")


def test_paths_and_file_urls_stay_local(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(_records(2)))
    for spec in (path, str(path), path.as_uri()):
        source = open_source(spec)
        assert source.local_path == path and not source.is_url and source.size == path.stat().st_size
    assert [is_url(s) for s in ("C:\\data\\x.json", "data/x.json", "https://h/x.json", "hf://datasets/a/b/c")] == [
        False, False, True, True]
    with pytest.raises(InputFileError, match="cannot read"):
        open_source(tmp_path / "missing.json")


# -- a whole run from a URL -------------------------------------------------------------------------------------------
def test_run_from_an_https_url_writes_what_a_local_run_writes(server, tmp_path, capsys):
    from conftest import run_main

    local = tmp_path / "a.json"
    local.write_bytes(_Handler.files["a.json"])
    assert run_main(["run", "--src", local, "--backend", "pseudo", "--out", tmp_path / "local", "-q"], capsys)[0] == 0
    url = f"{server}/files/a.json"
    code, _, err = run_main(["run", "--src", url, "--backend", "pseudo", "--out", tmp_path / "url", "-q"], capsys)
    assert code == 0, err
    assert (tmp_path / "url" / "ko_a.json").read_bytes() == (tmp_path / "local" / "ko_a.json").read_bytes()
    manifest = json.loads((tmp_path / "url" / "ko_a.manifest.json").read_text())
    assert manifest["source"]["path"] == url and manifest["counts"]["records_kept"] == 40
    # A URL has no folder beside it: --out is required, and an unreachable one is exit 2 naming it.
    code, _, err = run_main(["run", "--src", url, "--backend", "pseudo"], capsys)
    assert code == 2 and "needs --out" in err
    code, _, err = run_main(["run", "--src", f"{server}/files/nothing.json", "--backend", "pseudo", "--out",
                             tmp_path / "x"], capsys)
    assert code == 2 and "nothing.json" in err


def test_run_from_the_hub_through_hffilesystem(server, tmp_path, capsys, monkeypatch):
    from conftest import run_main

    monkeypatch.setenv("HF_ENDPOINT", server)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    url = "hf://datasets/liuhaotian/LLaVA-Pretrain/blip_laion_cc_sbu_558k.json"
    code, _, err = run_main(["run", "--src", url, "--backend", "pseudo", "--out", tmp_path / "hub", "-q"], capsys)
    assert code == 0, err
    assert len(json.loads((tmp_path / "hub" / "ko_blip_laion_cc_sbu_558k.json").read_text())) == 40

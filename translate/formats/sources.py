"""Where records come from: a local file, or a URL streamed as it is read, never downloaded whole first.

* a path: read from disk;
* ``hf://datasets/OWNER/NAME[@REVISION]/PATH`` (also ``hf://OWNER/NAME/PATH`` for a model repo): through
  huggingface_hub's `HfFileSystem`, with the user's token (``HF_TOKEN`` or ``hf auth login``) and ``HF_ENDPOINT``.
  A file already in the Hugging Face cache is read from there when ``HF_HUB_OFFLINE=1`` or the revision is a commit
  hash (a cached branch may be stale, so it is not trusted otherwise);
* ``http://`` and ``https://``: the standard library's client, no extra package. Redirects are followed, and a
  connection lost mid-file is resumed with a Range request when the server supports one;
* any other fsspec URL (``s3://``, ``gs://``, ``memory://``, …) when fsspec and that file system's package are
  installed.

`open_source` checks that the file is there (and learns its size, for progress) before anything is written: an
unreachable URL is a `SourceUnavailableError` (exit 2) naming the URL, with how to work offline. `Source.name` is the
URL's last path component, so ``hf://datasets/liuhaotian/LLaVA-Instruct-150K/llava_instruct_150k.json`` writes
``ko_llava_instruct_150k.json`` like the downloaded file would.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from translate.errors import ConfigError, InputFileError

_URL = re.compile(r"\A(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+)://")
_COMMIT = re.compile(r"\A[0-9a-f]{40}\Z")
_HF_TYPES = {"datasets": "dataset", "spaces": "space", "models": "model"}
TIMEOUT = 60.0  # seconds to connect, and between two reads of a stream
RESUMES = 3  # times a lost HTTP connection is resumed (Range) before giving up
OFFLINE_HINT = "to work offline, download the file first and pass its local path"


class SourceUnavailableError(InputFileError):
    """A URL source that cannot be opened or read (unreachable, not found, refused). Exit 2."""


@dataclass
class Source:
    """A file to read records from. `location` is what the user gave (a path or a URL), for messages and the
    manifest; `name` is its file name, which names the outputs; `size` is in bytes, None when the server does not
    say. `open()` gives a new binary stream from the start, read sequentially."""

    location: str
    name: str
    size: int | None
    local_path: Path | None = None
    _opener: Callable[[], IO[bytes]] | None = field(default=None, repr=False)

    @property
    def is_url(self) -> bool:
        return self.local_path is None

    @property
    def stem(self) -> str:
        """The file name without its last extension, as `Path.stem` (the output stem: ``ko_<stem>.json``)."""
        return Path(self.name).stem

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix

    def open(self) -> IO[bytes]:
        if self.local_path is not None:
            try:
                return open(self.local_path, "rb")
            except OSError as exc:
                raise InputFileError(self.location, f"cannot read: {exc.strerror or exc}") from None
        assert self._opener is not None
        return self._opener()


def is_url(spec: str | os.PathLike) -> bool:
    """True for ``scheme://…`` (two letters or more, so a Windows drive ``C:`` is never a scheme)."""
    return isinstance(spec, str) and _URL.match(spec) is not None


def open_source(spec: str | os.PathLike | Source) -> Source:
    """A `Source` for a path or URL, checked: the file exists and can be read. Raises `InputFileError` for a local
    problem, `SourceUnavailableError` for an unreachable URL, `ConfigError` for a URL this installation cannot
    open (unknown scheme, missing package)."""
    if isinstance(spec, Source):
        return spec
    if not is_url(spec):
        return _local(Path(spec), str(Path(spec)))  # str(Path(...)): the name messages and manifests always used
    url = str(spec)
    scheme = _URL.match(url).group("scheme").lower()
    if scheme == "file":
        path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
        return _local(Path(path), url)
    if scheme in ("http", "https"):
        return _http_source(url)
    if scheme == "hf":
        return _hf_source(url)
    return _fsspec_source(url, scheme)


def source_label(source: "str | os.PathLike | Source") -> str:
    """What messages, manifests and plans call a source: its URL, or its path as given."""
    return source.location if isinstance(source, Source) else str(source)


def source_size(source: "str | os.PathLike | Source") -> int:
    """Bytes of a source for progress: 0 when a server does not say."""
    if isinstance(source, Source):
        return source.size or 0
    return Path(source).stat().st_size


def url_file_name(url: str) -> str:
    """The last path component of a URL, unquoted, without query or fragment: the name outputs are named after.
    Raises `ConfigError` when the URL names no file."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if not name:
        raise ConfigError(f"--src {url}: the URL does not name a file (it must end with the file's name, e.g. "
                          "…/llava_instruct_150k.json)")
    return name


# -- local files ------------------------------------------------------------------------------------------------------
def _local(path: Path, location: str) -> Source:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(location, f"cannot read: {exc.strerror or exc}") from None
    if path.is_dir():
        raise InputFileError(location, "is a folder, not a file")
    return Source(location, path.name, size, path)


# -- http(s) ----------------------------------------------------------------------------------------------------------
def _http_source(url: str) -> Source:
    name = url_file_name(url)
    # A GET, closed once its headers are in, checks the URL and gives the size. (Not HEAD: a presigned URL is signed
    # for GET only, and urllib turns a redirected HEAD into a GET anyway.)
    probe = _http_get(url)
    size = _content_length(probe)
    probe.close()

    def opener() -> IO[bytes]:
        return io.BufferedReader(_HttpStream(url, _http_get(url)), buffer_size=1 << 16)

    return Source(url, name, size, None, opener)


def _http_get(url: str, start: int = 0) -> http.client.HTTPResponse:
    headers = {"User-Agent": "llava-translate", "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise _unavailable(url, f"the server answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise _unavailable(url, f"cannot connect: {reason}") from None


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


class _HttpStream(io.RawIOBase):
    """The body of a GET, read as a raw stream. A connection lost before the end is resumed from the byte where it
    stopped (Range request, up to RESUMES times) when the server accepts ranges; otherwise it is an error naming
    the URL and how far the read got."""

    def __init__(self, url: str, response: http.client.HTTPResponse):
        self.url = url
        self.response = response
        self.size = _content_length(response)
        self.ranges = response.headers.get("Accept-Ranges", "").lower() == "bytes"
        self.pos = 0
        self.resumes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while True:
            try:
                n = self.response.readinto(buffer)
            except (OSError, http.client.HTTPException) as exc:
                self._resume(f"{type(exc).__name__}: {exc}")
                continue
            if n == 0 and self.size is not None and self.pos < self.size:
                self._resume("the connection closed early")
                continue
            self.pos += n
            return n

    def _resume(self, why: str) -> None:
        self.response.close()
        if not self.ranges or self.resumes >= RESUMES:
            raise _unavailable(self.url, f"the connection was lost after {self.pos:,} bytes ({why})")
        self.resumes += 1
        response = _http_get(self.url, self.pos)
        content_range = response.headers.get("Content-Range", "")
        resumed = response.status == 206 and content_range.startswith(f"bytes {self.pos}-")
        if not resumed and not (self.pos == 0 and response.status == 200):
            response.close()
            raise _unavailable(self.url, f"the connection was lost after {self.pos:,} bytes ({why}), and the "
                               "server did not resume from there")
        self.response = response

    def close(self) -> None:
        self.response.close()
        super().close()


# -- Hugging Face Hub -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HubFile:
    """``hf://[datasets/|spaces/]OWNER/NAME[@REVISION]/PATH``, parsed without any network access."""

    repo_type: str  # "dataset", "model" or "space"
    repo_id: str
    revision: str | None
    path: str

    @property
    def fs_path(self) -> str:
        """The path as HfFileSystem writes it (``datasets/OWNER/NAME@REV/PATH``)."""
        prefix = {"dataset": "datasets/", "space": "spaces/", "model": ""}[self.repo_type]
        rev = "@" + urllib.parse.quote(self.revision, safe="") if self.revision else ""
        return f"{prefix}{self.repo_id}{rev}/{self.path}"


def parse_hub_url(url: str) -> HubFile:
    """The parts of an ``hf://`` URL. Raises `ConfigError` naming the expected form when it does not fit."""
    rest = url[len("hf://"):] if url.lower().startswith("hf://") else url
    parts = rest.split("/")
    repo_type = "model"
    if parts and parts[0] in _HF_TYPES:
        repo_type = _HF_TYPES[parts.pop(0)]
    if len(parts) < 3 or not all(parts[:2]) or not parts[-1]:
        raise ConfigError(f"--src {url}: expected hf://datasets/OWNER/NAME/PATH/TO/FILE.json (a file in a dataset "
                          "repository; add @REVISION after NAME for a branch, tag or commit)")
    owner, name = parts[0], parts[1]
    revision = None
    if "@" in name:
        name, revision = name.split("@", 1)
        revision = urllib.parse.unquote(revision)
        if not revision:
            raise ConfigError(f"--src {url}: empty revision after '@'")
    return HubFile(repo_type, f"{owner}/{name}", revision, "/".join(parts[2:]))


def _hf_source(url: str) -> Source:
    hub = parse_hub_url(url)
    name = url_file_name(url)
    cached = _hub_cached(hub)
    if cached is not None:
        return Source(url, name, cached.stat().st_size, None, lambda: open(cached, "rb"))
    try:
        from huggingface_hub import HfFileSystem
    except ImportError:
        raise ConfigError(f"--src {url}: reading from the Hugging Face Hub needs huggingface_hub: "
                          "pip install huggingface_hub") from None
    fs = HfFileSystem(endpoint=os.environ.get("HF_ENDPOINT") or None)
    try:
        info = fs.info(hub.fs_path)
    except Exception as exc:  # huggingface_hub raises many kinds (HTTP, offline mode, validation)
        raise _unavailable(url, _hub_reason(exc), hub) from None
    if info.get("type") != "file":
        raise ConfigError(f"--src {url}: is a folder in the repository, not a file")

    def opener() -> IO[bytes]:
        try:
            stream = fs.open(hub.fs_path, "rb", block_size=0)  # block_size=0: one streamed GET, no range requests
        except Exception as exc:
            raise _unavailable(url, _hub_reason(exc), hub) from None
        return io.BufferedReader(_ReadStream(url, stream, hub), buffer_size=1 << 16)

    return Source(url, name, info.get("size"), None, opener)


def _hub_cached(hub: HubFile) -> Path | None:
    """The file from the Hugging Face cache, when it may be trusted without asking the Hub: offline mode, or a
    revision that is a commit hash."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE")
    if not offline and not (hub.revision and _COMMIT.match(hub.revision)):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(hub.repo_id, hub.path, revision=hub.revision, repo_type=hub.repo_type)
    return Path(found) if isinstance(found, str) else None


def _hub_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {text}"


# -- other fsspec file systems ----------------------------------------------------------------------------------------
def _fsspec_source(url: str, scheme: str) -> Source:
    name = url_file_name(url)
    try:
        import fsspec
    except ImportError:
        raise ConfigError(f"--src {url}: {scheme}:// URLs need fsspec: pip install fsspec") from None
    try:
        fs_class = fsspec.get_filesystem_class(scheme)
    except ImportError as exc:
        raise ConfigError(f"--src {url}: {scheme}:// needs a package that is not installed ({exc})") from None
    except ValueError:
        raise ConfigError(f"--src {url}: unknown URL scheme {scheme}:// (paths, hf://, https:// and fsspec "
                          "URLs such as s3:// or gs:// are accepted)") from None
    fs = fs_class()
    path = fs_class._strip_protocol(url)
    try:
        info = fs.info(path)
    except Exception as exc:
        raise _unavailable(url, f"{type(exc).__name__}: {exc}") from None
    if info.get("type") == "directory":
        raise InputFileError(url, "is a folder, not a file")

    def opener() -> IO[bytes]:
        try:
            stream = fs.open(path, "rb")
        except Exception as exc:
            raise _unavailable(url, f"{type(exc).__name__}: {exc}") from None
        return io.BufferedReader(_ReadStream(url, stream), buffer_size=1 << 16)

    return Source(url, name, info.get("size"), None, opener)


class _ReadStream(io.RawIOBase):
    """A file-like object from another library (fsspec, huggingface_hub) as a raw stream, its errors named."""

    def __init__(self, url: str, stream: Any, hub: HubFile | None = None):
        self.url = url
        self.stream = stream
        self.hub = hub
        self.pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.stream.read(len(buffer))
        except Exception as exc:
            raise _unavailable(self.url, f"reading failed after {self.pos:,} bytes: {_hub_reason(exc)}",
                               self.hub) from None
        n = len(data)
        buffer[:n] = data
        self.pos += n
        return n

    def close(self) -> None:
        try:
            self.stream.close()
        finally:
            super().close()


def _unavailable(url: str, why: str, hub: HubFile | None = None) -> SourceUnavailableError:
    if hub is not None:
        kind = "" if hub.repo_type == "model" else f" --repo-type {hub.repo_type}"
        rev = f" --revision {hub.revision}" if hub.revision else ""
        hint = (f"{OFFLINE_HINT} (hf download{kind}{rev} {hub.repo_id} {hub.path}), or rerun with HF_HUB_OFFLINE=1 "
                "to read it from the Hugging Face cache")
    else:
        hint = OFFLINE_HINT
    return SourceUnavailableError(url, f"{why}; {hint}")

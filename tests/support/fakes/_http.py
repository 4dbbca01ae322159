"""A small threaded HTTP server on 127.0.0.1 for protocol fakes.

A fake subclasses `FakeHTTPServer` and implements `handle(request) -> Reply`. The base class owns the socket, the
threads, the request counter and the generic faults every fake needs (connection resets, slow answers), so each fake
only speaks its own protocol.
"""

from __future__ import annotations

import io
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One HTTP request as the fake sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else {}

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> "Reply":
        return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json", headers)

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain", **headers: str) -> "Reply":
        return cls(status, text.encode("utf-8"), content_type, headers)


class RESET:
    """Returned by `handle` (or chosen by the base class) to drop the connection without an answer."""


class FakeHTTPServer:
    """Start with `with Fake() as fake:` (or `start()`/`stop()`); `fake.url` is the base URL.

    Generic faults (apply to the requests `faulty(request)` selects; by default every request):

    * `resets`: the next n such requests get their connection reset (TCP RST, no HTTP answer);
    * `slow` / `slow_seconds`: the next n such requests wait `slow_seconds` before answering;
    * `delay`: seconds every such request waits (a uniformly slow server).

    Counters: `requests` (all requests answered or dropped), `resets_done`, `slow_done`, `in_flight` and
    `max_in_flight` (concurrent requests among those `faulty` selects: a client's concurrency bound shows here).
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.resets = 0
        self.slow = 0
        self.slow_seconds = 1.0
        self.delay = 0.0
        self.requests = 0
        self.resets_done = 0
        self.slow_done = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def start(self) -> "FakeHTTPServer":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once, no delayed-ACK stalls

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- to override -----------------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Reply | type[RESET]:
        raise NotImplementedError

    def faulty(self, request: Request) -> bool:
        """Which requests the generic faults apply to."""
        return True

    # -- plumbing --------------------------------------------------------------------------------------------------
    def _take(self, name: str) -> bool:
        """Consume one unit of a fault counter, atomically."""
        with self.lock:
            n = getattr(self, name)
            if n > 0:
                setattr(self, name, n - 1)
                return True
            return False

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        request = Request(h.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          {k.lower(): v for k, v in h.headers.items()}, body)
        with self.lock:
            self.requests += 1
        if not self.faulty(request):
            self._respond(h, self.handle(request))
            return
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._faulty_dispatch(h, request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _faulty_dispatch(self, h: BaseHTTPRequestHandler, request: Request) -> None:
        if self._take("resets"):
            with self.lock:
                self.resets_done += 1
            _reset(h)
            return
        if self.delay:
            time.sleep(self.delay)
        if self._take("slow"):
            with self.lock:
                self.slow_done += 1
            time.sleep(self.slow_seconds)
        self._respond(h, self.handle(request))

    def _respond(self, h: BaseHTTPRequestHandler, reply: Reply | type[RESET]) -> None:
        if reply is RESET:
            _reset(h)
            return
        assert isinstance(reply, Reply)
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.content_type + ("; charset=utf-8" if "charset" not in reply.content_type
                                                                   else ""))
            h.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                h.send_header(name.replace("_", "-"), value)
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(reply.body)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. its timeout fired)
            pass


def _reset(h: BaseHTTPRequestHandler) -> None:
    """Close with RST (SO_LINGER 0): the client sees 'connection reset by peer', as with a dying proxy."""
    try:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    h.close_connection = True
    for f in (h.rfile, h.wfile):
        try:
            f.close()
        except OSError:
            pass
    try:
        h.connection.close()
    except OSError:
        pass
    # The handler flushes and closes these after us; give it harmless stand-ins.
    h.rfile, h.wfile = io.BytesIO(), io.BytesIO()

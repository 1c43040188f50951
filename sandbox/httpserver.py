"""A small loopback HTTP server shared by the Stripe and FirstPromoter stand-ins.

It routes (method, path regex) to handlers, records every request, and can be told to misbehave:
a latency on every call, or a fault (status, body, headers, delay, dropped connection, malformed
JSON) on matching calls, a given number of times.  It binds 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]  # in order, repeated keys kept (expand[0]=..., ids[]=...)
    form: list[tuple[str, str]]  # form-encoded body, if any
    headers: dict[str, str]  # lower-cased names
    at: float = field(default_factory=time.monotonic)
    body: str = ""  # the raw body, for routes that take JSON (the FirstPromoter stand-in's writes)

    def param(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.query + self.form:
            if k == name:
                return v
        return default

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query + self.form if k == name]

    def prefixed(self, prefix: str) -> list[str]:
        """Values of `expand[0]`, `expand[1]`, ... or `expand[]` given prefix `expand`."""
        return [v for k, v in self.query + self.form if k == prefix or k.startswith(prefix + "[")]


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable, or bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    path: re.Pattern[str]
    method: str | None = None
    status: int | None = None  # answer this status (with `body`)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    drop: bool = False  # close the connection without an answer
    malformed: bool = False  # answer 200 with a body that is not JSON
    times: int | None = None  # None: until cleared


Handler = Callable[[Request, re.Match[str]], Response]


class LoopbackServer(ABC):
    """A threaded HTTP server on 127.0.0.1 (port 0 unless given) that hands every request to
    `_serve`.  Bounded: it polls for shutdown every 50 ms and never outlives `stop()`."""

    _server: ThreadingHTTPServer | None = None

    @abstractmethod
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        """Answer one request, in the shapes of the API this server stands in for."""

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, port: int = 0) -> Self:
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: avoid delayed-ACK stalls

            def log_message(self, *args: Any) -> None:  # keep test and demo output clean
                pass

            def _any(self) -> None:
                standin._serve(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StandIn(LoopbackServer):
    """Subclasses call `route(method, pattern, handler)` and may override `authorize`."""

    name = "stand-in"

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.latency = 0.0

    # ------------------------------------------------------------------ setup
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def authorize(self, req: Request) -> Response | None:
        """Return a Response to refuse the request, or None to let it through."""
        return None

    # ------------------------------------------------------------------ control
    def inject(self, path: str = ".*", **kwargs: Any) -> Fault:
        fault = Fault(path=re.compile(path), **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()
        self.latency = 0.0

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def calls(self, method: str | None = None, path: str | None = None) -> list[Request]:
        rx = re.compile(path) if path else None
        with self._lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (rx is None or rx.search(r.path))
            ]

    def peak_rate(self, window: float = 1.0) -> float:
        """Highest number of requests seen in any `window` seconds, per second."""
        with self._lock:
            times = sorted(r.at for r in self.requests)
        best, lo = 0, 0
        for hi, t in enumerate(times):
            while t - times[lo] > window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best / window

    # ------------------------------------------------------------------ serving
    def _take_fault(self, req: Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method and fault.method != req.method:
                    continue
                if not fault.path.search(req.path):
                    continue
                if fault.times is not None:
                    if fault.times <= 0:
                        continue
                    fault.times -= 1
                return fault
        return None

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length).decode("utf-8", "replace") if length else ""
        ctype = h.headers.get("Content-Type", "")
        form = parse_qsl(raw, keep_blank_values=True) if "form-urlencoded" in ctype else []
        req = Request(
            method=h.command,
            path=parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            form=form,
            headers={k.lower(): v for k, v in h.headers.items()},
            body=raw,
        )
        with self._lock:
            self.requests.append(req)
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(req)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                h.close_connection = True
                with contextlib.suppress(OSError):
                    h.connection.shutdown(2)
                return
            if fault.malformed:
                self._send(h, Response(200, b"<html>upstream proxy error</html>", fault.headers))
                return
            if fault.status is not None:
                self._send(h, Response(fault.status, fault.body, dict(fault.headers)))
                return
        resp = self.authorize(req) or self._dispatch(req)
        self._send(h, resp)

    def _dispatch(self, req: Request) -> Response:
        for method, rx, handler in self._routes:
            if method != req.method:
                continue
            m = rx.match(req.path)
            if m:
                try:
                    return handler(req, m)
                except Exception as exc:  # a bug in the stand-in shows as a 500, not a hang
                    return Response(500, {"error": {"type": "api_error", "message": repr(exc)}})
        return self.not_found(req)

    def not_found(self, req: Request) -> Response:
        return Response(404, {"error": f"no route for {req.method} {req.path}"})

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, resp: Response) -> None:
        if isinstance(resp.body, bytes):
            data = resp.body
        elif isinstance(resp.body, str):
            data = resp.body.encode()
        elif resp.body is None:
            data = b""
        else:
            data = json.dumps(resp.body).encode()
        try:
            h.send_response(resp.status)
            headers = {"Content-Type": "application/json", **resp.headers}
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer

"""How HTTP mode takes a request in, before Bolt sees it: within READ_SECONDS, at most MAX_BODY
bytes, and a body Bolt can parse (a malformed one is a 400 here, not a 500 and a traceback there).

gunicorn's threads read a request's line, headers and body with blocking reads and no time limit,
so a few clients sending slowly would hold every thread: no reply, no /healthz.  BoundedThreadWorker
(the `worker_class` of `fpcheck serve`) starts a clock when a thread takes a connection; the WSGI
side stops it once the body is in.  If the clock runs out first the socket's read side is shut:
the blocked read returns at once, the client gets 408 (or nothing, mid-headers) and the thread is
free.  A TLS-terminating proxy that buffers whole requests in front of HTTP mode does the same
earlier (README, HTTP mode).
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.workers.gthread import ThreadWorker
from slack_bolt.request.internals import parse_body

log = logging.getLogger("fpcheck.serve")

# Slack wants the answer within 3 s of sending and sends a whole request at once: one not in after
# 2 s would not be answered in time anyway, and a slow client gives its thread back within 2 s
READ_SECONDS = 2.0
MAX_BODY = 1024 * 1024  # Slack's largest payloads (a button under a full report) are tens of KB


class ReadClocks:
    """One clock per connection being read; at zero, the socket's read side is shut."""

    def __init__(self) -> None:
        self._clocks: dict[int, threading.Timer] = {}
        self._lock = threading.Lock()

    def start(self, sock: socket.socket, seconds: float = READ_SECONDS) -> None:
        clock = threading.Timer(seconds, _cut, (sock,))
        clock.daemon = True
        with self._lock:
            old = self._clocks.pop(id(sock), None)
            self._clocks[id(sock)] = clock
        if old is not None:
            old.cancel()
        clock.start()

    def stop(self, sock: object) -> None:
        with self._lock:
            clock = self._clocks.pop(id(sock), None)
        if clock is not None:
            clock.cancel()


CLOCKS = ReadClocks()


def _cut(sock: socket.socket) -> None:
    log.info("a client took over %.0f s to send its request: its connection is cut", READ_SECONDS)
    shut_reads(sock)


def shut_reads(sock: object) -> None:
    """A read blocked on `sock` returns b"" at once, and so will the next (gunicorn then closes the
    connection instead of reading the rest); the answer can still be written."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RD)


class BoundedThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's gthread worker, with READ_SECONDS for each request to arrive in full."""

    def handle(self, conn: Any) -> Any:
        CLOCKS.start(conn.sock)
        try:
            return super().handle(conn)
        finally:
            CLOCKS.stop(conn.sock)  # already stopped once the body was in (take_body)


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def slack_request(environ: dict[str, Any], start_response: Callable[..., Any], slack: WSGIApp) -> Iterable[bytes]:
    """The request's body read (bounded) and checked, then handed to Bolt (`slack`) from memory."""
    status, body = take_body(environ)
    if status is not None:
        text = status.encode() + b"\n"
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
        return [text]
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    return slack(environ, start_response)


def take_body(environ: dict[str, Any]) -> tuple[str | None, bytes]:
    """(None, the body) when it arrived in time, whole and parseable; else (the HTTP status, b"")."""
    sock = environ.get("gunicorn.socket")  # absent under another WSGI server: no clock to stop
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if not 0 <= length <= MAX_BODY:
        CLOCKS.stop(sock)
        shut_reads(sock)  # the body is not read: the connection is not kept for another request
        return ("413 Content Too Large" if length > MAX_BODY else "400 Bad Request"), b""
    body = environ["wsgi.input"].read(length) if length else b""
    CLOCKS.stop(sock)
    if len(body) < length:  # the clock ran out (or the client hung up) before the body was in
        return "408 Request Timeout", b""
    return (None, body) if readable(body, environ.get("CONTENT_TYPE")) else ("400 Bad Request", b"")


def readable(body: bytes, content_type: str | None) -> bool:
    """Whether Bolt can read the body: UTF-8 and, parsed Bolt's own way, one JSON object (or a form).
    Bolt parses before it checks the signature, so what it cannot parse would be a 500 there."""
    kind = (content_type or "").split(";")[0].strip().lower() or None
    try:
        return isinstance(parse_body(body.decode("utf-8"), kind), dict)
    except ValueError:  # not UTF-8 (UnicodeDecodeError), not JSON (JSONDecodeError)
        return False

"""A loopback stand-in for Slack's Socket Mode WebSocket, for the bot's end-to-end test.

Slack's side of the protocol as slack_sdk's builtin client meets it: the client asks
apps.connections.open (slack_api.py) for a URL, opens it with an RFC 6455 upgrade, gets a `hello`,
then receives envelopes `{"type", "envelope_id", "payload", "accepts_response_payload",
"retry_attempt"?}` and acks each with `{"envelope_id", "payload"?}`.  Every URL carries a one-time
ticket, as Slack's do, so a client that did not ask apps.connections.open is refused.

It records every ack with its arrival time, and every protocol fault of the client (an unmasked or
fragmented frame, a text frame that is not an ack), answers pings, and stops in bounded time:
stop() shuts each open connection, which ends its blocking read.  Standard library only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, urlsplit

from sandbox.httpserver import LoopbackServer

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA
MAX_FRAME = 1 << 20
PATH = "/link/"


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    at: float  # time.monotonic() when it arrived


class _HungUp(Exception):
    pass


class SocketModeStandIn(LoopbackServer):
    def __init__(self, app_id: str = "A0FPCHECK") -> None:
        self.app_id = app_id
        self.acks: list[Ack] = []
        self.pushed: dict[str, float] = {}  # envelope_id -> time.monotonic() when sent
        self.faults: list[str] = []  # the client broke the protocol
        self.refused: list[str] = []  # upgrade requests turned away, and why
        self.accepted = 0  # connections upgraded
        self.ended = 0  # connections over (the client hung up, or stop())
        self._tickets: set[str] = set()
        self._open: list[socket.socket] = []
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()

    # ------------------------------------------------------------------ control
    def issue_url(self) -> str:
        """A fresh one-time URL, as apps.connections.open hands out."""
        assert self._server is not None, "start() first"
        ticket = secrets.token_hex(8)
        with self._cond:
            self._tickets.add(ticket)
        port = self._server.server_address[1]
        return f"ws://127.0.0.1:{port}{PATH}?ticket={ticket}&app_id={self.app_id}"

    def push(self, envelope: dict[str, Any]) -> None:
        """Send an envelope to the newest connection."""
        with self._cond:
            assert self._open, "no client is connected"
            conn = self._open[-1]
            self.pushed[envelope["envelope_id"]] = time.monotonic()
        self._send(conn, OP_TEXT, json.dumps(envelope).encode())

    def wait_connected(self, n: int = 1, timeout: float = 10.0) -> None:
        self._wait(lambda: self.accepted >= n, timeout, f"{n} connection(s)")

    def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> Ack:
        found: list[Ack] = []

        def acked() -> bool:
            found[:] = [a for a in self.acks if a.envelope_id == envelope_id]
            return bool(found)

        self._wait(acked, timeout, f"the ack of {envelope_id}")
        return found[0]

    def wait_ended(self, n: int = 1, timeout: float = 10.0) -> None:
        self._wait(lambda: self.ended >= n, timeout, f"{n} connection(s) to end")

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"waited {timeout:.0f} s for {what}; accepted {self.accepted}, ended {self.ended}, "
                        f"acks {[a.envelope_id for a in self.acks]}, refused {self.refused}, faults {self.faults}"
                    )
                self._cond.wait(left)

    def stop(self) -> None:
        with self._cond:
            conns = list(self._open)
        for conn in conns:  # wakes the blocked reads: their threads end
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        super().stop()

    # ------------------------------------------------------------------ serving
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True  # after the upgrade (or a refusal) this is no longer HTTP
        problem = self._refusal(h)
        if problem:
            with self._cond:
                self.refused.append(problem)
            h.send_response(401 if "ticket" in problem else 400)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        digest = hashlib.sha1((h.headers["Sec-WebSocket-Key"] + GUID).encode()).digest()
        h.send_response(101, "Switching Protocols")
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "Upgrade")
        h.send_header("Sec-WebSocket-Accept", base64.b64encode(digest).decode())
        h.end_headers()
        conn = h.connection
        with self._cond:
            self._open.append(conn)
            self.accepted += 1
            self._cond.notify_all()
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "applink-loopback", "approximate_connection_time": 3600},
            "connection_info": {"app_id": self.app_id},
        }
        try:
            self._send(conn, OP_TEXT, json.dumps(hello).encode())
            self._read_frames(h.rfile, conn)
        except (_HungUp, OSError):
            pass
        finally:
            with self._cond:
                self._open.remove(conn)
                self.ended += 1
                self._cond.notify_all()

    def _refusal(self, h: BaseHTTPRequestHandler) -> str | None:
        parts = urlsplit(h.path)
        if h.command != "GET" or parts.path != PATH:
            return f"{h.command} {parts.path} is not the Socket Mode endpoint"
        if (
            h.headers.get("Upgrade", "").lower() != "websocket"
            or "upgrade" not in h.headers.get("Connection", "").lower()
            or h.headers.get("Sec-WebSocket-Version") != "13"
            or not h.headers.get("Sec-WebSocket-Key")
        ):
            return "not a WebSocket upgrade"
        ticket = dict(parse_qsl(parts.query)).get("ticket", "")
        with self._cond:
            if ticket not in self._tickets:
                return "unknown or used ticket"
            self._tickets.discard(ticket)
        return None

    def _read_frames(self, rfile: BinaryIO, conn: socket.socket) -> None:
        while True:
            b1, b2 = _read(rfile, 2)
            fin, opcode, masked, n = b1 & 0x80, b1 & 0x0F, b2 & 0x80, b2 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", _read(rfile, 2))
            elif n == 127:
                (n,) = struct.unpack("!Q", _read(rfile, 8))
            if not (masked and fin) or n > MAX_FRAME:  # clients must mask (RFC 6455 5.1)
                self._fault(f"frame with opcode {opcode}: masked={bool(masked)} fin={bool(fin)} length={n}")
                return
            key = _read(rfile, 4)
            data = bytes(b ^ key[i % 4] for i, b in enumerate(_read(rfile, n)))
            if opcode == OP_PING:
                self._send(conn, OP_PONG, data)
            elif opcode == OP_CLOSE:
                self._send(conn, OP_CLOSE, data[:2])
                return
            elif opcode == OP_TEXT:
                self._on_text(data)
            elif opcode != OP_PONG:
                self._fault(f"unexpected opcode {opcode}")

    def _on_text(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("envelope_id"), str):
            self._fault(f"a text frame that is not an ack: {data[:200]!r}")
            return
        with self._cond:
            self.acks.append(Ack(message["envelope_id"], message.get("payload"), time.monotonic()))
            self._cond.notify_all()

    def _fault(self, problem: str) -> None:
        with self._cond:
            self.faults.append(problem)
            self._cond.notify_all()

    def _send(self, conn: socket.socket, opcode: int, data: bytes) -> None:
        n = len(data)  # server frames are not masked
        if n < 126:
            head = bytes([0x80 | opcode, n])
        elif n < 1 << 16:
            head = bytes([0x80 | opcode, 126]) + struct.pack("!H", n)
        else:
            head = bytes([0x80 | opcode, 127]) + struct.pack("!Q", n)
        with self._send_lock:
            conn.sendall(head + data)


def _read(rfile: BinaryIO, n: int) -> bytes:
    data = rfile.read(n)
    if len(data) < n:
        raise _HungUp
    return data

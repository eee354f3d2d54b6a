"""A local Leegality usage-statistics API on 127.0.0.1, for the demo, the tests and the benchmark.

It serves `/api/api/v1/licenses/{id}/usage-statistics` like the real service (the same JSON shapes
and error codes) and can be told to misbehave per license: any status, body or header, a delay, a
reset connection, a body that never ends. Responses go out in a single write with TCP_NODELAY, so
the simulator adds no Nagle/delayed-ACK stall to latency figures.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from local.token_issuer import TOKEN_PATH, TokenIssuer

PATH_PREFIX = "/api/api/v1/licenses/"
PATH_SUFFIX = "/usage-statistics"


@dataclass(frozen=True)
class Reply:
    """One scripted response.

    `action`: respond; reset (TCP RST); hang (send nothing for `delay`, then close); drip (send the
    head, then the body one byte every `delay` seconds).
    """

    status: int = 200
    body: bytes | str | Mapping[str, Any] | list[Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0
    action: str = "respond"


@dataclass
class LicenseFixture:
    token: str | None
    usage: dict[str, Any]
    client_id: str | None = None


@dataclass(frozen=True)
class RecordedRequest:
    license_id: str
    path: str
    token_matched: bool
    had_token: bool
    at: float = field(default_factory=time.monotonic)


def usage_body(usage: Mapping[str, Any]) -> dict[str, Any]:
    return {"code": "LE_SS_200", "message": "License usage statistics retrieved successfully.", "data": usage}


def error_body(status: int, path: str) -> dict[str, Any]:
    detail = {
        400: ("LE_ERR_SS_008", "License validation failed for the request."),
        401: ("LE_ERR_SS_303", "Invalid or expired token"),
        403: ("LE_ERR_SS_007", "Access denied for the requested operation."),
    }
    code, message = detail.get(status, (None, "Internal Server Error"))
    return {
        "code": f"LE_ERR_SS_{status}",
        "errors": [{"message": message, "path": path if code else None, "code": code}],
    }


def usage_of(**resources: tuple[int, int]) -> dict[str, Any]:
    """`usage_of(users=(233, 1000))` → the API's `data` object."""
    return {name: {"current": current, "limit": limit} for name, (current, limit) in resources.items()}


class LeegalitySimulator:
    def __init__(self, latency: float = 0.0, host: str = "127.0.0.1", tls: tuple[str, str] | None = None) -> None:
        """`tls`: (certificate file, key file) to serve https, e.g. to prove certificates are verified."""
        self.latency = latency
        self.licenses: dict[str, LicenseFixture] = {}
        self.scripts: dict[str, deque[Reply]] = {}
        self.requests: list[RecordedRequest] = []
        self.tokens = TokenIssuer()
        self.auth_styles: list[str] = []
        # Every request's User-Agent, usage and token calls alike: an API operator tells callers apart by it.
        self.user_agents: list[str] = []
        self._lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.simulator = self
        self._scheme = "http"
        if tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}/api"

    def add_license(
        self, license_id: str, token: str | None, usage: dict[str, Any], *, client_id: str | None = None
    ) -> None:
        """A license answered for its static `token`, or (with `client_id`) for any unexpired token
        minted by that OAuth2 client (see `tokens.add_client`)."""
        self.licenses[license_id] = LicenseFixture(token, usage, client_id)

    def script(self, license_id: str, *replies: Reply) -> None:
        """Replies served (once each, in order) before the license's normal answer."""
        with self._lock:
            self.scripts.setdefault(license_id, deque()).extend(replies)

    def requests_for(self, license_id: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.license_id == license_id]

    def start(self) -> LeegalitySimulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="leegality-sim", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LeegalitySimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_reply(self, license_id: str, token: str | None, path: str) -> Reply:
        with self._lock:
            fixture = self.licenses.get(license_id)
            matched = fixture is not None and (
                self.tokens.valid(token, fixture.client_id)
                if fixture.client_id is not None
                else token is not None and token == fixture.token
            )
            self.requests.append(RecordedRequest(license_id, path, matched, token is not None))
            queue = self.scripts.get(license_id)
            if queue:
                return queue.popleft()
        if fixture is None:
            return Reply(400, error_body(400, path))
        if not matched:
            return Reply(401, error_body(401, path))
        return Reply(200, usage_body(fixture.usage))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    simulator: LeegalitySimulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo print what matters themselves."""

    def do_POST(self) -> None:
        self.server.simulator.user_agents.append(self.headers.get("User-Agent", ""))
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, 1 << 20))
        if path != TOKEN_PATH:
            self._send(Reply(404, {"code": "LE_ERR_SS_404", "errors": [{"message": "Not found", "code": None}]}))
            return
        answer = self.server.simulator.tokens.answer(raw)
        if isinstance(answer, Reply):
            self._send(answer)
            return
        status, body, headers = answer
        self._send(Reply(status, body, headers))

    def do_GET(self) -> None:
        simulator = self.server.simulator
        simulator.user_agents.append(self.headers.get("User-Agent", ""))
        path = self.path.split("?", 1)[0]
        if not (path.startswith(PATH_PREFIX) and path.endswith(PATH_SUFFIX)):
            self._send(
                Reply(404, {"code": "LE_ERR_SS_404", "errors": [{"message": "Not found", "path": path, "code": None}]})
            )
            return
        license_id = unquote(path[len(PATH_PREFIX) : -len(PATH_SUFFIX)])
        # Both header styles SignStation's pages mention; which one arrived is recorded.
        bearer = self.headers.get("Authorization", "")
        token = self.headers.get("X-Auth-Token") or (bearer[7:] if bearer.startswith("Bearer ") else None)
        simulator.auth_styles.append("X-Auth-Token" if self.headers.get("X-Auth-Token") else "Authorization")
        reply = simulator._next_reply(license_id, token, path)
        if simulator.latency:
            time.sleep(simulator.latency)
        if reply.delay and reply.action != "drip":
            time.sleep(reply.delay)
        if reply.action == "drip":
            self._drip(reply)
            return
        if reply.action == "reset":
            # SO_LINGER 0 turns close() into a TCP reset, like a crashed gateway.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if reply.action == "hang":
            self.close_connection = True
            return
        self._send(reply)

    def _drip(self, reply: Reply) -> None:
        head, payload = self._encode(reply)
        try:
            self.wfile.write(head)
            for byte in payload:
                time.sleep(reply.delay)
                self.wfile.write(bytes([byte]))
        except OSError:
            pass  # the client gave up, as it should
        self.close_connection = True

    def _send(self, reply: Reply) -> None:
        head, payload = self._encode(reply)
        # One write for head and body: no small-packet stall (see module docstring).
        self.wfile.write(head + payload)

    def _encode(self, reply: Reply) -> tuple[bytes, bytes]:
        body = reply.body
        if isinstance(body, Mapping | list):
            payload = json.dumps(body).encode()
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = body or b""
        reason = self.responses.get(reply.status, ("Unknown",))[0]
        head = [f"HTTP/1.1 {reply.status} {reason}", f"Content-Length: {len(payload)}"]
        if payload or reply.content_type != "application/json":
            head.append(f"Content-Type: {reply.content_type}")
        head += [f"{name}: {value}" for name, value in reply.headers.items()]
        return ("\r\n".join(head) + "\r\n\r\n").encode(), payload

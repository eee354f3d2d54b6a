"""The simulator's SignStation token endpoint: `POST /api/api/v1/auth/token` with OAuth2 client credentials.

Issues JWTs (HS256 over a random key: nobody here verifies the signature, as a bearer should not) with a
configurable lifetime, remembers which token belongs to which client and when it expires, counts token
requests, and can suspend a client or be scripted to fail (500, 429 with Retry-After, odd bodies).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

TOKEN_PATH = "/api/api/v1/auth/token"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any], key: bytes = b"simulator") -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


@dataclass
class Issued:
    client_id: str
    expires_at: float


@dataclass
class TokenIssuer:
    """`lifetime`: seconds a token lives. `style`: "jwt", "jwt-no-exp" or "opaque" (a non-JWT string).
    `token_field`: where the token goes in `data`. `expires_in`: also send an explicit lifetime.
    `expire_after_uses`: the server drops every token after that many accepted calls (mid-run expiry)."""

    lifetime: float = 300.0
    style: str = "jwt"
    token_field: str = "token"
    expires_in: float | None = None
    echo_secret: bool = False
    expire_after_uses: int | None = None
    clients: dict[str, str] = field(default_factory=dict)
    suspended: set[str] = field(default_factory=set)
    issued: dict[str, Issued] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    script: deque[Any] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def add_client(self, client_id: str, client_secret: str) -> None:
        self.clients[client_id] = client_secret

    @property
    def request_count(self) -> int:
        return len(self.requests)

    def valid(self, token: str | None, client_id: str | None) -> bool:
        """Whether `token` was issued here, has not expired, and (when given) belongs to `client_id`."""
        with self._lock:
            issued = self.issued.get(token or "")
            if issued is None or time.time() >= issued.expires_at:
                return False
            if self.expire_after_uses is not None:
                self.expire_after_uses -= 1
                if self.expire_after_uses <= 0:
                    # This call still passes; every token issued so far is refused from the next call on.
                    self.expire_after_uses = None
                    for other in self.issued.values():
                        other.expires_at = 0.0
            return client_id is None or issued.client_id == client_id

    def expire_all(self) -> None:
        """Every token issued so far expires now (as if the lifetime had passed)."""
        with self._lock:
            for issued in self.issued.values():
                issued.expires_at = 0.0

    def answer(self, raw_body: bytes) -> tuple[int, Any, dict[str, str]] | Any:
        """(status, JSON body, headers), or a scripted simulator `Reply` to serve instead."""
        try:
            body = json.loads(raw_body or b"null")
        except json.JSONDecodeError:
            body = None
        client_id = body.get("clientId") if isinstance(body, dict) else None
        client_secret = body.get("clientSecret") if isinstance(body, dict) else None
        with self._lock:
            self.requests.append(str(client_id))
            if self.script:
                return self.script.popleft()
        if not isinstance(client_id, str) or not isinstance(client_secret, str):
            return 400, _error(400, "LE_ERR_SS_008", "clientId and clientSecret are required"), {}
        if self.clients.get(client_id) != client_secret:
            message = "Invalid client credentials" + (f": {client_secret}" if self.echo_secret else "")
            return 401, _error(401, "LE_ERR_SS_301", message), {}
        if client_id in self.suspended:
            return 403, _error(403, "LE_ERR_SS_007", "OAuth2 client is SUSPENDED"), {}
        now = time.time()
        token = self._token(client_id, now)
        with self._lock:
            self.issued[token] = Issued(client_id, now + self.lifetime)
        data: dict[str, Any] = {self.token_field: token}
        if self.expires_in is not None:
            data["expiresIn"] = self.expires_in
        return 200, {"code": "LE_SS_200", "message": "Token generated successfully.", "data": data}, {}

    def _token(self, client_id: str, now: float) -> str:
        if self.style == "opaque":
            return "opaque-" + secrets.token_urlsafe(24)
        claims: dict[str, Any] = {"sub": client_id, "iat": int(now), "jti": secrets.token_hex(8)}
        if self.style == "jwt":
            claims["exp"] = int(now + self.lifetime)
        return make_jwt(claims, self._key)


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "code": f"LE_ERR_SS_{status}",
        "errors": [{"message": message, "path": "/api/v1/auth/token", "code": code}],
    }

"""Reading a token endpoint's 200 answer: which field, which expiry, how early to renew. No network."""

from __future__ import annotations

from typing import Any

import pytest
import urllib3

from local.token_issuer import make_jwt
from usage_monitor.leegality.client import default_retry
from usage_monitor.leegality.minting import TokenEndpointError, TokenMinter
from usage_monitor.leegality.tokens import ClientCredentials
from usage_monitor.leegality.upstream import KnownSecrets, Redactor

NOW = 1_800_000_000.0
CLIENT = ClientCredentials("monitor", "cs-SECRET-value")


def minter(max_age: float = 900.0) -> TokenMinter:
    return TokenMinter(
        "https://sign.example/api",
        urllib3.PoolManager(),
        default_retry(),
        urllib3.Timeout(connect=1, read=1),
        max_age_seconds=max_age,
        clock=lambda: NOW,
    )


def parse(body: Any, max_age: float = 900.0) -> Any:
    import json

    redactor = Redactor(KnownSecrets(), CLIENT.client_secret)
    return minter(max_age)._parse(json.dumps(body).encode(), CLIENT, "sign.example", redactor)


def test_a_jwt_lives_until_its_exp_and_is_renewed_60_s_before() -> None:
    token = make_jwt({"sub": "monitor", "exp": int(NOW) + 3600})

    minted = parse({"code": "LE_SS_200", "data": {"token": token}})

    assert minted.value == token
    assert minted.expires_at == NOW + 3600
    assert minted.refresh_at == NOW + 3600 - 60


def test_a_short_lived_jwt_is_renewed_at_90_percent_of_its_lifetime() -> None:
    minted = parse({"data": {"token": make_jwt({"exp": int(NOW) + 100})}})

    assert minted.refresh_at == pytest.approx(NOW + 90)


def test_an_earlier_expires_in_wins_over_exp_and_a_later_one_does_not() -> None:
    token = make_jwt({"exp": int(NOW) + 3600})

    assert parse({"data": {"token": token, "expiresIn": 600}}).expires_at == NOW + 600
    assert parse({"data": {"token": token, "expires_in": 7200}}).expires_at == NOW + 3600


@pytest.mark.parametrize(
    "token", [make_jwt({"sub": "no-exp"}), "opaque-token-value", "a.b.c", make_jwt({"exp": "tomorrow"})]
)
def test_a_token_without_a_usable_exp_lives_token_max_age(token: str) -> None:
    assert parse({"data": {"token": token}}, max_age=300).expires_at == NOW + 300


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"data": {"token": "t1", "accessToken": "t2"}}, "t1"),
        ({"data": {"accessToken": "t2", "access_token": "t3"}}, "t2"),
        ({"data": {"access_token": "t3"}}, "t3"),
        ({"data": {}, "token": "t4"}, "t4"),
        ({"accessToken": "t5"}, "t5"),
        ({"data": {"token": ""}, "access_token": "t6"}, "t6"),
    ],
)
def test_the_token_is_found_in_the_documented_order(body: dict[str, Any], expected: str) -> None:
    assert parse(body).value == expected


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"code": "LE_SS_200", "data": {"jwt": "x"}}, "no token in fields code, data, data.jwt"),
        ([1, 2], "no token in a JSON list"),
        ({"data": {"token": "has space"}}, "data.token is not a usable header value"),
        ({"cs-SECRET-value": 1}, "no token in fields [redacted]"),
    ],
)
def test_an_answer_without_a_usable_token_is_a_clear_error(body: Any, fragment: str) -> None:
    with pytest.raises(TokenEndpointError) as caught:
        parse(body)

    message = str(caught.value)
    assert fragment in message
    assert "token endpoint at sign.example for OAuth2 client 'monitor'" in message
    assert "cs-SECRET-value" not in message


class _Answer:
    """A token endpoint's 200 answer, as urllib3 hands it over."""

    status = 200

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.headers: dict[str, str] = {}

    def read1(self, _size: int) -> bytes:
        body, self._body = self._body, b""
        return body

    def release_conn(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Endpoint:
    """A token endpoint that mints a new JWT for every POST."""

    def __init__(self) -> None:
        self.minted: list[str] = []

    def request(self, *_: Any, **__: Any) -> _Answer:
        import json

        token = make_jwt({"sub": "monitor", "jti": str(len(self.minted)), "exp": int(NOW) + 3600})
        self.minted.append(token)
        return _Answer(json.dumps({"code": "LE_SS_200", "data": {"token": token}}).encode())


def test_a_warm_container_indexes_each_minted_token_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace
    from typing import cast

    from usage_monitor.leegality.credentials import Redaction

    # Given a warm container's minter and its run's redaction, counting every secret put into an index
    indexed: list[int] = []
    original_init = KnownSecrets.__init__

    def counting_init(self: KnownSecrets, secrets: Any = (), **kwargs: Any) -> None:
        secrets = list(secrets)
        indexed.append(len(secrets))
        original_init(self, secrets, **kwargs)

    monkeypatch.setattr(KnownSecrets, "__init__", counting_init)
    original_add = getattr(KnownSecrets, "add", None)
    if original_add is not None:

        def counting_add(self: KnownSecrets, secret: str) -> None:
            indexed.append(1)
            original_add(self, secret)

        monkeypatch.setattr(KnownSecrets, "add", counting_add)
    endpoint = _Endpoint()
    container = minter()
    container.http = cast(Any, endpoint)
    redaction = Redaction(
        cast(Any, SimpleNamespace(book=SimpleNamespace(secrets=("static-SECRET",)), minter=container))
    )

    # When it mints a token a run for 300 runs (each run's token refused, so the next one is minted anew)
    token = None
    for _ in range(300):
        token, _minted = container.token(CLIENT, stale=token)
        redaction.current()

    # Then each token went into an index once, not once a run for every token minted before it
    assert len(endpoint.minted) == 300
    assert sum(indexed) <= 3 * 300, f"{sum(indexed):,} secrets indexed for 300 tokens"
    # And every token the container minted is still redacted, by the run and by the minter
    text = " ".join([*endpoint.minted, "static-SECRET"])
    assert Redactor(redaction.current()).text(text).split() == ["[redacted]"] * 301
    assert Redactor(container.known_index).text(endpoint.minted[0]) == "[redacted]"

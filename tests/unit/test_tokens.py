"""The tokens secret: accepted shapes, errors that never leak a token, and the refresh path."""

from __future__ import annotations

import json

import pytest

from usage_monitor.errors import ConfigError, SecretUnavailable
from usage_monitor.tokens import TokenBook, TokenSource, parse_secret

SECRET_ID = "leegality/usage-monitor/tokens"
TOKEN = "tok-SECRET-123"
OTHER_TOKEN = "tok-OTHER-456"
LIC_A = "bd82845c-897b-4022-b5f7-679905c1979b"
LIC_B = "123456765RESAXCVBN54323456"


class FakeFetcher:
    """Stands in for the Powertools fetcher: returns queued SecretStrings and records each call."""

    def __init__(self, *values: str) -> None:
        self.values = list(values)
        self.calls: list[tuple[str, bool]] = []

    def __call__(self, secret_id: str, force_fetch: bool) -> str:
        self.calls.append((secret_id, force_fetch))
        return self.values.pop(0)


class UnavailableFetcher:
    def __call__(self, secret_id: str, force_fetch: bool) -> str:
        raise SecretUnavailable(secret_id, "AccessDeniedException: not allowed")


@pytest.mark.parametrize("raw", [TOKEN, f"  {TOKEN}\n", f"\t{TOKEN}"])
def test_bare_token_is_the_default_for_every_license(raw: str) -> None:
    book = parse_secret(raw, SECRET_ID)

    assert book.default == TOKEN
    assert book.by_license == {}
    assert book.named_licenses == ()
    assert book.token_for(LIC_A) == TOKEN
    assert book.token_for(LIC_B) == TOKEN
    assert book.secrets == frozenset({TOKEN})


def test_json_map_gives_a_token_per_license_and_falls_back_to_default() -> None:
    raw = f'{{"default": "{TOKEN}", "{LIC_A}": " {OTHER_TOKEN} "}}'

    book = parse_secret(raw, SECRET_ID)

    assert book.token_for(LIC_A) == OTHER_TOKEN  # stripped
    assert book.token_for(LIC_B) == TOKEN
    # "default" is not a license.
    assert book.named_licenses == (LIC_A,)
    assert "default" not in book.by_license
    assert book.secrets == frozenset({TOKEN, OTHER_TOKEN})


def test_json_map_without_default_has_no_token_for_other_licenses() -> None:
    book = parse_secret(f'{{"{LIC_A}": "{TOKEN}", "{LIC_B}": "{OTHER_TOKEN}"}}', SECRET_ID)

    assert book.default is None
    assert book.token_for(LIC_B) == OTHER_TOKEN
    assert book.token_for("unknown-license") is None
    assert book.named_licenses == (LIC_A, LIC_B)


def test_json_map_with_only_default() -> None:
    book = parse_secret(f'{{"default": "{TOKEN}"}}', SECRET_ID)

    assert book.named_licenses == ()
    assert book.token_for(LIC_A) == TOKEN


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param("", "is empty", id="empty"),
        pytest.param("  \n ", "is empty", id="blank"),
        pytest.param("{", "does not parse", id="lone-brace"),
        pytest.param(f'{{"{LIC_A}": "{TOKEN}"', "does not parse", id="unclosed"),
        pytest.param(f'{{"{LIC_A}": "{TOKEN}",}}', "does not parse", id="trailing-comma"),
        pytest.param(f"{{'{LIC_A}': '{TOKEN}'}}", "does not parse", id="single-quotes"),
        pytest.param(f'{{"{LIC_A}": "{TOKEN}\\q"}}', "does not parse", id="bad-escape"),
        pytest.param(f'["{TOKEN}"]', "neither a bare token nor a JSON object", id="json-list"),
        pytest.param(f'"{TOKEN}"', "neither a bare token nor a JSON object", id="json-string"),
        pytest.param(f"{TOKEN} {OTHER_TOKEN}", "neither a bare token nor a JSON object", id="two-words"),
        pytest.param(f'{{"{LIC_A}": 123}}', f"the value for {LIC_A!r} is not a non-empty string", id="number-value"),
        pytest.param(f'{{"{LIC_A}": {{"token": "{TOKEN}"}}}}', f"the value for {LIC_A!r}", id="object-value"),
        pytest.param(f'{{"{LIC_A}": ["{TOKEN}"]}}', f"the value for {LIC_A!r}", id="list-value"),
        pytest.param(f'{{"{LIC_A}": "  "}}', f"the value for {LIC_A!r}", id="blank-value"),
        pytest.param(f'{{"default": null, "{LIC_A}": "{TOKEN}"}}', "the value for 'default'", id="null-default"),
        pytest.param("{}", "is an empty JSON object", id="empty-object"),
    ],
)
def test_bad_secret_names_the_secret_but_never_a_token(raw: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_secret(raw, SECRET_ID)

    message = str(caught.value)
    assert fragment in message
    assert repr(SECRET_ID) in message
    assert TOKEN not in message
    assert OTHER_TOKEN not in message
    assert "SECRET-123" not in message
    # Not via the exception chain either: a logged traceback would print the JSON decoder's error.
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_repr_of_token_book_hides_tokens() -> None:
    book = parse_secret(f'{{"default": "{TOKEN}", "{LIC_A}": "{OTHER_TOKEN}"}}', SECRET_ID)

    for text in (repr(book), str(book), f"{book}", f"{[book]}"):
        assert TOKEN not in text
        assert OTHER_TOKEN not in text
    assert repr(book) == "TokenBook(default=set, licenses=1)"
    assert repr(TokenBook()) == "TokenBook(default=unset, licenses=0)"


def test_load_reads_through_the_cache_and_refresh_forces_a_fetch() -> None:
    fetcher = FakeFetcher(TOKEN, OTHER_TOKEN)
    source = TokenSource(SECRET_ID, fetcher)

    first = source.load()
    rotated = source.refresh()

    assert fetcher.calls == [(SECRET_ID, False), (SECRET_ID, True)]
    assert first.token_for(LIC_A) == TOKEN
    assert rotated.token_for(LIC_A) == OTHER_TOKEN


def test_refresh_parses_what_it_fetched() -> None:
    source = TokenSource(SECRET_ID, FakeFetcher("{"))

    with pytest.raises(ConfigError, match="does not parse"):
        source.refresh()


def test_unavailable_secret_propagates_with_the_secret_named() -> None:
    source = TokenSource(SECRET_ID, UnavailableFetcher())

    with pytest.raises(SecretUnavailable) as caught:
        source.load()

    assert caught.value.secret_id == SECRET_ID
    assert str(caught.value) == f"cannot read tokens secret {SECRET_ID!r}: AccessDeniedException: not allowed"


@pytest.mark.parametrize("bad_key", ["lic/a", "lic a", "tok+en/with=base64"])
def test_a_key_that_is_no_license_id_is_skipped_and_reported_without_showing_it(bad_key: str) -> None:
    # Given a secret naming one valid license and one key that is not a license ID (perhaps a token)
    book = parse_secret(json.dumps({LIC_A: TOKEN, bad_key: OTHER_TOKEN}), SECRET_ID)

    assert book.named_licenses == (LIC_A,)
    (skipped,) = book.skipped
    assert skipped.where == "key 2"
    assert bad_key not in skipped.describe()
    assert bad_key not in repr(skipped)
    assert OTHER_TOKEN not in skipped.describe()

"""The tokens secret: accepted shapes, errors that never leak a token, and the refresh path."""

from __future__ import annotations

import json

import pytest

from usage_monitor.core.errors import ConfigError, SecretUnavailable
from usage_monitor.leegality.tokens import ClientCredentials, TokenBook, TokenSource, parse_secret

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
        pytest.param(f'["{TOKEN}"]', "neither a bare token", id="json-list"),
        pytest.param(f'"{TOKEN}"', "neither a bare token", id="json-string"),
        pytest.param(f"{TOKEN} {OTHER_TOKEN}", "neither a bare token", id="two-words"),
        pytest.param(f"{TOKEN}\u0007", "neither a bare token", id="control-char"),
        pytest.param('{"clientId": "c-1"}', "clientSecret is missing", id="single-client-no-secret"),
        pytest.param(
            f'{{"clientId": "c-1", "clientSecret": "{TOKEN}", "baseUrl": "http://{TOKEN}@sign.example/api"}}',
            "baseUrl: must be an https:// URL",
            id="single-client-bad-base-url",
        ),
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
    # A real token is long; a short value under such a key looks like a swapped license ID (refused).
    long_token = OTHER_TOKEN + "x" * 40
    book = parse_secret(json.dumps({LIC_A: TOKEN, bad_key: long_token}), SECRET_ID)

    assert book.named_licenses == (LIC_A,)
    (skipped,) = book.skipped
    assert skipped.where == "key 2"
    assert bad_key not in skipped.describe()
    assert bad_key not in repr(skipped)
    assert long_token not in skipped.describe()


CLIENT_SECRET = "cs-VERY-SECRET-789"


def test_single_client_object_is_the_credential_of_every_license() -> None:
    book = parse_secret(
        f'{{"clientId": "monitor", "clientSecret": "{CLIENT_SECRET}", "baseUrl": "https://sign.acme.internal/api/"}}',
        SECRET_ID,
    )

    credential = book.credential_for(LIC_A)
    assert credential == ClientCredentials("monitor", CLIENT_SECRET, "https://sign.acme.internal/api")
    assert book.token_for(LIC_A) is None  # no static token: it is minted
    assert book.secrets == frozenset({CLIENT_SECRET})
    assert CLIENT_SECRET not in repr(credential)
    assert CLIENT_SECRET not in repr(book)


def test_map_mixes_static_tokens_and_clients_per_license() -> None:
    raw = (
        f'{{"default": {{"clientId": "fleet", "clientSecret": "{CLIENT_SECRET}"}}, "{LIC_A}": "{TOKEN}", '
        f'"{LIC_B}": {{"clientId": "other", "clientSecret": "{OTHER_TOKEN}", "baseUrl": "https://b.example/api"}}}}'
    )

    book = parse_secret(raw, SECRET_ID)

    assert book.credential_for(LIC_A) == TOKEN
    assert book.credential_for(LIC_B) == ClientCredentials("other", OTHER_TOKEN, "https://b.example/api")
    assert book.credential_for("anything-else") == ClientCredentials("fleet", CLIENT_SECRET, None)
    assert book.secrets == frozenset({TOKEN, OTHER_TOKEN, CLIENT_SECRET})


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        pytest.param("123", "is a int, not a token string or a client object", id="number"),
        pytest.param("null", "is a null", id="null"),
        pytest.param(f'["{TOKEN}"]', "is a list", id="list"),
        pytest.param('"  "', "is an empty string", id="blank"),
        pytest.param(f'"{TOKEN}\\nX"', "has spaces, control or non-ASCII characters", id="line-break-in-token"),
        pytest.param(f'"{TOKEN} X"', "has spaces, control or non-ASCII characters", id="space-in-token"),
        pytest.param(f'{{"token": "{TOKEN}"}}', "1 unknown field(s)", id="unknown-field"),
        pytest.param(f'{{"clientSecret": "{CLIENT_SECRET}"}}', "clientId is missing", id="no-client-id"),
        pytest.param('{"clientId": "c"}', "clientSecret is missing", id="no-client-secret"),
        pytest.param(f'{{"clientId": 7, "clientSecret": "{CLIENT_SECRET}"}}', "clientId is missing", id="id-number"),
        pytest.param(
            f'{{"clientId": "c", "clientSecret": "a\\u0000{CLIENT_SECRET}"}}', "clientSecret has spaces", id="nul"
        ),
        pytest.param(
            f'{{"clientId": "c", "clientSecret": "{CLIENT_SECRET}", "baseUrl": "ftp://x/api"}}',
            "baseUrl: must be an https:// URL",
            id="ftp-base-url",
        ),
        pytest.param(
            f'{{"clientId": "c", "clientSecret": "{CLIENT_SECRET}", "baseUrl": "https://h/api?key={CLIENT_SECRET}"}}',
            "without user, password, query or fragment",
            id="query-in-base-url",
        ),
    ],
)
def test_a_malformed_entry_fails_its_license_alone_and_names_no_value(entry: str, fragment: str) -> None:
    raw = f'{{"{LIC_A}": {entry}, "{LIC_B}": "{OTHER_TOKEN}"}}'

    book = parse_secret(raw, SECRET_ID)

    problem = book.problem_for(LIC_A)
    assert problem is not None
    assert fragment in problem
    assert "entry #1" in problem
    assert repr(SECRET_ID) in problem
    for value in (TOKEN, CLIENT_SECRET, "SECRET"):
        assert value not in problem
    # The other license is still usable, and the malformed one is still a license to check (and fail).
    assert book.credential_for(LIC_B) == OTHER_TOKEN
    assert book.problem_for(LIC_B) is None
    assert book.named_licenses == (LIC_B, LIC_A)


def test_whitespace_around_a_client_secret_is_stripped_as_around_a_token() -> None:
    book = parse_secret(f'{{"{LIC_A}": {{"clientId": " c ", "clientSecret": "{CLIENT_SECRET}\\t"}}}}', SECRET_ID)

    assert book.credential_for(LIC_A) == ClientCredentials("c", CLIENT_SECRET)


def test_a_malformed_default_fails_only_the_licenses_that_fall_back_to_it() -> None:
    book = parse_secret(f'{{"default": {{"clientId": "c"}}, "{LIC_A}": "{TOKEN}"}}', SECRET_ID)

    assert book.problem_for(LIC_A) is None
    problem = book.problem_for(LIC_B)
    assert problem is not None
    assert "the entry for 'default': clientSecret is missing" in problem


def test_a_listed_license_key_is_named_other_keys_only_by_position() -> None:
    raw = f'{{"{LIC_A}": 1, "{LIC_B}": 2}}'

    book = parse_secret(raw, SECRET_ID, known_licenses=[LIC_B])

    assert "entry #1" in (book.problem_for(LIC_A) or "")
    assert LIC_A not in (book.problem_for(LIC_A) or "")
    assert f"the entry for {LIC_B!r}" in (book.problem_for(LIC_B) or "")


@pytest.mark.parametrize(
    ("raw", "known"),
    [
        pytest.param('{"tok-looks-like-an-id-123": "lic-1"}', ["lic-1"], id="value-is-a-listed-license"),
        pytest.param(
            '{"Zm9vYmFyYmF6cXV4cXV1eC1sb25nLXRva2VuLXZhbHVlLWhlcmU": "bd82845c-897b-4022-b5f7-679905c1979b"}',
            [],
            id="long-key-uuid-value",
        ),
        pytest.param('{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln": "anything"}', [], id="jwt-key"),
    ],
)
def test_a_secret_with_key_and_value_swapped_is_refused_without_quoting_the_key(raw: str, known: list[str]) -> None:
    key = raw.split('"')[1]

    with pytest.raises(ConfigError, match="looks swapped") as caught:
        parse_secret(raw, SECRET_ID, known_licenses=known)

    assert key not in str(caught.value)
    assert "entry #1" in str(caught.value)


def test_a_base64_key_is_refused_by_position_not_quoted() -> None:
    key = "abc+def/ghi=="

    with pytest.raises(ConfigError) as caught:
        parse_secret(f'{{"{key}": "lic-1"}}', SECRET_ID)

    assert key not in str(caught.value)
    assert "entry #1 looks swapped" in str(caught.value)


def test_a_key_that_is_no_license_id_with_a_token_value_is_skipped_by_position_not_quoted() -> None:
    # One mechanism for a key that is no license ID: skipped (a config_problem alert), never quoted.
    key = "abc+def/ghi=="

    book = parse_secret(json.dumps({key: "tok-" + "x" * 50, "lic-2": TOKEN}), SECRET_ID)

    (skipped,) = book.skipped
    assert skipped.where == "key 1"
    assert key not in skipped.describe()
    assert key not in repr(book)
    assert book.named_licenses == ("lic-2",)

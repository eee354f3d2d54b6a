"""Property: any string or JSON document as the secret gives a usable book or a `ConfigError` that names
the secret and quotes no credential value (issue 14)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from usage_monitor.core.errors import ConfigError
from usage_monitor.leegality.tokens import CLIENT_FIELDS, ClientCredentials, TokenBook, parse_secret

SECRET_ID = "fuzz/tokens"
# Values long enough that finding one in a message cannot be a coincidence of short common words.
secret_values = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=12, max_size=40)
any_text = st.text(min_size=0, max_size=60)
json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text | secret_values
json_values = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text | secret_values, children, max_size=4),
    max_leaves=12,
)
client_objects = st.fixed_dictionaries(
    {},
    optional={
        "clientId": secret_values | json_leaf,
        "clientSecret": secret_values | json_leaf,
        "baseUrl": st.sampled_from(["https://sign.example/api", "http://sign.example", "https://u:p@h/api"])
        | json_leaf,
    },
)
credentials = secret_values | client_objects | json_values
keys = st.sampled_from(["default", "lic-1", "bd82845c-897b-4022-b5f7-679905c1979b"]) | any_text | secret_values
documents = st.dictionaries(keys, credentials, max_size=6) | json_values | client_objects


def _strings_in(value: Any) -> set[str]:
    """Every string in the document but the field names of the documented shape, which messages name."""
    if isinstance(value, str):
        return {value, value.strip()} - {"", "default", *CLIENT_FIELDS}
    if isinstance(value, dict):
        return {s for k, v in value.items() for s in (*_strings_in(k), *_strings_in(v))}
    if isinstance(value, list):
        return {s for item in value for s in _strings_in(item)}
    return set()


def _check(raw: str, values: set[str]) -> None:
    try:
        book = parse_secret(raw, SECRET_ID)
    except ConfigError as exc:
        message = str(exc)
        assert repr(SECRET_ID) in message
        for value in values:
            # Short values (a key "a", a digit) occur in any sentence; secrets are long and specific.
            if len(value) >= 12:
                assert value not in message
        return
    assert isinstance(book, TokenBook)
    for problem in book.invalid.values():
        assert repr(SECRET_ID) in problem
        for value in values:
            if len(value) >= 12 and value not in book.named_licenses and value != "default":
                assert value not in problem
    for credential in (*book.by_license.values(), book.default):
        sent = credential.client_secret if isinstance(credential, ClientCredentials) else credential
        if sent is not None:
            # Every value that reaches an HTTP header is visible ASCII: nothing http.client would refuse.
            assert all(0x21 <= ord(c) <= 0x7E for c in sent)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_json_secret_gives_a_book_or_a_config_error_without_values(document: Any) -> None:
    _check(json.dumps(document), _strings_in(document))


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(max_size=200))
def test_any_string_secret_gives_a_book_or_a_config_error_without_values(raw: str) -> None:
    values = {raw.strip()} if len(raw.strip()) >= 12 else set()
    _check(raw, values)

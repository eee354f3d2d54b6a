"""The one door for text from SignStation: every string of a body or header is redacted here, before
anything reads, cuts, logs, stores or quotes it.

An API may echo a credential back (a token as a resource name, a client secret in an error message).
Cutting a string before redacting it would leave the start of a long token behind, so nothing outside
this module decodes an upstream body or reads an upstream header: the client and the minter get a
document whose every key and string value has had every secret the run knows replaced. The one exception
is the token endpoint's 200 answer, whose token is the new secret itself; the minter quotes only field
names from it, through `Redactor.text`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import urllib3

REDACTED = "[redacted]"
# Secrets are found by their first PREFIX characters, so looking costs the length of the text, not the
# number of secrets a large fleet holds.
PREFIX = 8


class KnownSecrets:
    """An index of secrets (tokens, client secrets, minted tokens), and those of `also`.

    Built once; only its owner grows it, with `add` (the minter, one entry a minted token): a reader in another
    thread sees an added secret from then on, each step being one dict or list operation.
    """

    def __init__(self, secrets: Iterable[str] = (), *, also: KnownSecrets | None = None) -> None:
        self._by_prefix: dict[str, list[str]] = {}
        self._short: list[str] = []
        self._also = also
        for secret in set(secrets):
            self.add(secret)

    def add(self, secret: str) -> None:
        if not secret:
            return
        if len(secret) >= PREFIX:
            self._by_prefix.setdefault(secret[:PREFIX], []).append(secret)
        else:
            self._short.append(secret)

    def found_in(self, text: str) -> list[str]:
        hits = [s for s in self._short if s in text]
        if self._also is not None:
            hits += self._also.found_in(text)
        if self._by_prefix:
            lookup = self._by_prefix.get
            for start in range(len(text) - PREFIX + 1):
                for secret in lookup(text[start : start + PREFIX], ()):
                    if text.startswith(secret, start):
                        hits.append(secret)
        return hits


class Redactor:
    """What one request must hide: the token it sent, and every secret of the run."""

    def __init__(self, known: KnownSecrets, *extra: str) -> None:
        self.known = known
        self.extra = tuple(e for e in extra if e)

    def text(self, value: str) -> str:
        hits = [e for e in self.extra if e in value] + self.known.found_in(value)
        # Longest first: a secret that contains another is replaced whole.
        for secret in sorted(set(hits), key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        # JSON can carry lone surrogates ("\\ud800"), which no AWS API accepts as text.
        return value.encode("utf-8", "replace").decode("utf-8")

    def json(self, body: bytes) -> Any:
        """The decoded body with every key and string redacted. Raises what `json.loads` raises."""
        return _scrub(json.loads(body), self.text)

    def header(self, response: urllib3.BaseHTTPResponse, name: str) -> str:
        return self.text(response.headers.get(name, ""))


def cut(value: object, limit: int) -> str:
    """An already redacted string, stripped and cut to `limit` ("" for anything that is not text)."""
    return value.strip()[:limit] if isinstance(value, str) else ""


def as_known(secrets: KnownSecrets | Iterable[str]) -> KnownSecrets:
    return secrets if isinstance(secrets, KnownSecrets) else KnownSecrets(secrets)


def _scrub(document: Any, redact: Any) -> Any:
    """In place and without recursion: `json.loads` builds documents nested deeper than Python's stack."""
    if isinstance(document, str):
        return redact(document)
    stack = [document] if isinstance(document, dict | list) else []
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = redact(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
            continue
        items = list(node.items())
        node.clear()
        for key, item in items:
            if isinstance(item, str):
                item = redact(item)
            elif isinstance(item, dict | list):
                stack.append(item)
            name = redact(key)
            if name in node:  # two keys that differ only in their redacted secrets both stay listed
                name = f"{name}#{len(node)}"
            node[name] = item
    return document

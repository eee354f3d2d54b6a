"""The one door for upstream text (`leegality/upstream.py`)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from usage_monitor.leegality.upstream import REDACTED, KnownSecrets, Redactor

SRC = Path(__file__).resolve().parents[3] / "src" / "usage_monitor"
LONG = "tok-" + "A1b2C3d4" * 8  # 68 characters: longer than any cut


def test_every_key_and_string_of_a_body_is_redacted_before_anything_reads_it() -> None:
    redactor = Redactor(KnownSecrets([LONG]), "minted-token-1234")
    body = {"code": LONG, "data": {f"r{LONG}": {"current": [f"x{LONG}y"], "limit": "minted-token-1234"}}}

    document = redactor.json(json.dumps(body).encode())

    assert LONG[:8] not in json.dumps(document)
    assert "minted-t" not in json.dumps(document)
    assert document["code"] == REDACTED
    assert document["data"] == {f"r{REDACTED}": {"current": [f"x{REDACTED}y"], "limit": REDACTED}}


def test_a_secret_containing_another_is_replaced_whole() -> None:
    inner = LONG[4:20]
    redactor = Redactor(KnownSecrets([inner, LONG]))

    assert redactor.text(f"[{LONG}] [{inner}]") == f"[{REDACTED}] [{REDACTED}]"


def test_keys_that_redact_alike_both_stay() -> None:
    redactor = Redactor(KnownSecrets(["secret-one-1234", "secret-two-5678"]))

    document = redactor.json(b'{"secret-one-1234": 1, "secret-two-5678": 2}')

    assert sorted(document.values()) == [1, 2]


def test_a_deep_document_is_redacted_without_recursion() -> None:
    depth = 900  # below json's own limit, above what a recursive walk of this depth can afford everywhere
    body = "[" * depth + json.dumps(LONG) + "]" * depth

    document = Redactor(KnownSecrets([LONG])).json(body.encode())

    for _ in range(depth):
        document = document[0]
    assert document == REDACTED


def test_no_module_but_upstream_reads_a_response_header() -> None:
    # The choke point holds only if nothing else reads upstream text: `.headers` of a response is read in
    # upstream.py alone (request headers are built, never read, elsewhere).
    readers = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "headers" and isinstance(node.ctx, ast.Load):
                readers.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert [r for r in readers if not r.startswith("leegality/upstream.py")] == []

"""`usage-monitor check` with OAuth2 client credentials in the secret, beside a static token."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import HEALTHY, Harness
from usage_monitor import cli


def test_check_mints_one_token_for_the_licenses_of_a_client_and_uses_static_tokens_as_given(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.simulator.tokens.add_client("cli-client", "cli-SECRET-value")
    for license_id in ("c-1", "c-2", "c-3"):
        harness.simulator.add_license(license_id, None, HEALTHY, client_id="cli-client")
    harness.simulator.add_license("static", "tok-static-SECRET", HEALTHY)
    harness.set_secret(
        json.dumps(
            {"default": {"clientId": "cli-client", "clientSecret": "cli-SECRET-value"}, "static": "tok-static-SECRET"}
        )
    )

    code = cli.main(["check", "c-1", "c-2", "c-3", "static"])
    out, err = capsys.readouterr()

    assert code == 0, err
    assert out.count("233/1000") == 4
    assert harness.simulator.tokens.request_count == 1


def test_check_reports_a_refused_client_by_id_and_host_and_exits_2(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.simulator.tokens.add_client("cli-client", "the-right-SECRET")
    harness.simulator.tokens.echo_secret = True
    harness.simulator.add_license("c-1", None, HEALTHY, client_id="cli-client")
    harness.set_secret(json.dumps({"clientId": "cli-client", "clientSecret": "a-wrong-SECRET"}))

    code = cli.main(["check", "c-1"])
    out, err = capsys.readouterr()

    assert code == 2
    host = harness.simulator.base_url.split("//")[1].split("/")[0]
    assert f"OAuth2 client refused for license c-1: token endpoint at {host} for OAuth2 client 'cli-client'" in err
    assert "SECRET" not in out + err


def test_check_with_a_line_break_in_the_token_fails_cleanly_without_printing_it(
    harness: Harness, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # http.client refuses the header and quotes it in its ValueError: that text must not reach the terminal.
    harness.simulator.add_license("x", "tok-A", HEALTHY)
    monkeypatch.setenv("LEEGALITY_TOKEN", "tok-A\nB-SECRET")

    code = cli.main(["check", "x"])
    out, err = capsys.readouterr()

    assert code == 2
    assert "request not sent (ValueError)" in err
    assert "B-SECRET" not in out + err
    assert "Traceback" not in err

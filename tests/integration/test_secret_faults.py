"""Hostile and careless secrets, and upstream text that echoes secrets, through the real handler (issue 15
items 2, 3, 9 and the failed re-read after a 401)."""

from __future__ import annotations

import json

import pytest

from local.simulator import Reply, usage_body
from tests.integration.conftest import HEALTHY, Harness
from usage_monitor.core.errors import ConfigError

T1 = "2026-11-24T09:15:00Z"
PATH = "/api/api/v1/licenses/x/usage-statistics"


def outside(harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    """Everything a person or another system could read: snapshots, alerts, logs (records and stdout)."""
    return "\n".join(
        [
            json.dumps(harness.table.scan()["Items"], default=str),
            json.dumps([a.__dict__ for a in harness.alerts()]),
            *capsys.readouterr(),
            caplog.text,
            *(json.dumps(r.__dict__, default=str) for r in caplog.records),
        ]
    )


def test_a_token_with_a_line_break_fails_its_license_alone_and_never_leaks(
    harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a token pasted with a line break in the middle (http.client would quote it in its error)
    harness.simulator.add_license("broken", "tok-HALF", HEALTHY)
    harness.simulator.add_license("fine", "tok-fine-SECRET", HEALTHY)
    harness.set_secret(json.dumps({"broken": "tok-HALF\nONE-SECRET", "fine": "tok-fine-SECRET"}))
    harness.configure(POWERTOOLS_LOG_LEVEL="DEBUG")

    summary = harness.invoke(time=T1)

    assert summary["checked"] == 2
    assert summary["failed"] == ["broken"]
    message = harness.snapshot("broken", T1)["error"]["message"]
    assert "entry #1" in message
    assert "has spaces, control or non-ASCII characters" in message
    assert harness.simulator.requests_for("broken") == []  # never sent
    text = outside(harness, capsys, caplog)
    for part in ("tok-HALF", "ONE-SECRET", "tok-fine-SECRET"):
        assert part not in text


@pytest.mark.parametrize(
    ("secret", "license_ids"),
    [
        pytest.param({"tok-looks-like-an-id-SECRET": "lic-1"}, "lic-1", id="value-is-a-listed-license"),
        pytest.param({"tok-0123456789abcdefghij0123456789abcdefghij-SECRET": "lic-1"}, "", id="long-key-short-value"),
        pytest.param({"dG9rLVNFQ1JFVA+/dG9r==SECRET": "lic-1"}, "", id="base64-key"),
    ],
)
def test_a_secret_with_key_and_value_swapped_fails_the_run_without_broadcasting_the_token(
    harness: Harness,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    secret: dict[str, str],
    license_ids: str,
) -> None:
    harness.simulator.add_license("lic-1", "whatever", HEALTHY)
    harness.set_secret(json.dumps(secret))
    harness.configure(LICENSE_IDS=license_ids)
    token = next(iter(secret))

    with pytest.raises(ConfigError, match="entry #1"):
        harness.invoke(time=T1)

    assert harness.simulator.requests == []  # the token never went into a URL
    alerts = harness.alerts()
    assert [a.attributes["license_id"] for a in alerts] == ["*"]
    text = outside(harness, capsys, caplog)
    assert token not in text
    assert "SECRET" not in text


def test_upstream_text_is_redacted_before_it_is_cut_in_every_field(
    harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    token = "tok-straddle-SECRET"
    harness.simulator.add_license("x", token, HEALTHY)
    harness.simulator.add_license("echo", token, HEALTHY)
    harness.simulator.add_license("bare", token, HEALTHY)
    harness.set_secret(json.dumps({"x": token, "echo": token, "bare": token}))
    # A message whose 300-character cut falls inside the echoed token; codes that echo it too
    harness.simulator.script(
        "x",
        Reply(403, {"code": f"E-{token}", "errors": [{"message": "x" * 295 + token, "path": PATH, "code": token}]}),
    )
    # A 200 whose values echo the token back: kept as problems beside the figures that came
    echoed = {"users": {"current": token, "limit": 10}}
    harness.simulator.script("echo", Reply(200, usage_body({**echoed, "signatures": {"current": 1, "limit": 10}})))
    # ... and with nothing else to evaluate: no_usage_data, whose message quotes those problems
    harness.simulator.script("bare", Reply(200, usage_body(echoed)))

    summary = harness.invoke(time=T1)

    assert sorted(summary["failed"]) == ["bare", "x"]
    error = harness.snapshot("x", T1)["error"]
    assert error["message"].startswith("x" * 295)
    assert len(error["message"]) == 300
    assert error["code"] == "E-[redacted]"
    assert error["detail_code"] == "[redacted]"
    echo = harness.snapshot("echo", T1)
    assert "[redacted]" in json.dumps(echo, default=str)
    bare = harness.snapshot("bare", T1)["error"]
    assert bare["kind"] == "no_usage_data"
    assert "got string '[redacted]'" in bare["message"]
    text = outside(harness, capsys, caplog)
    assert "tok-s" not in text
    assert token not in text


def test_a_failed_reread_of_the_secret_after_a_401_keeps_the_run_and_its_other_results(
    harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    harness.simulator.add_license("good", "tok-good-SECRET", HEALTHY)
    harness.simulator.add_license("stale", "tok-new-SECRET", HEALTHY)
    harness.set_secret(json.dumps({"good": "tok-good-SECRET", "stale": "tok-old-SECRET"}))
    harness.invoke(time="2026-11-24T09:00:00Z")  # a warm container, caching the secret
    harness.session.client("secretsmanager").put_secret_value(
        SecretId=harness.stack.secret_id, SecretString='{"good": "tok-good-SECRET", "stale": '
    )  # someone saves a half-edited secret; the warm container still caches the previous value

    summary = harness.invoke(time=T1)

    assert summary["checked"] == 2
    assert summary["failed"] == ["stale"]
    assert harness.snapshot("good", T1)["status"] == "ok"
    assert harness.snapshot("stale", T1)["error"]["kind"] == "token_rejected"
    assert "re-reading the tokens secret after a 401 failed" in outside(harness, capsys, caplog)

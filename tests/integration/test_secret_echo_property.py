"""Property: whatever secret the API echoes, wherever it echoes it, no piece of it reaches any output.

The real handler (moto, the simulator) and the real CLI. Each example draws the run's secrets (the echoing
license's static token, or its OAuth2 client secret and the token the issuer mints for it, plus another
license's static token), lets the API echo some of them in one place of its answer, and then reads every
output channel: the log lines, every DynamoDB item, every SNS message in all its forms (default, email,
sms, https chat, subject, attributes), `usage-monitor check` and `check --json`, `history`, the weekly
digest and the HTML report. No 8-character piece of any secret may appear in any of them.

Secrets are drawn from a true random source seeded by Hypothesis (reproducible with `derandomize`) over
letters, digits and `-_.`, like real tokens: Hypothesis' own choices favour runs of one character, and a
secret such as "00000000" would "leak" through any timestamp without anything being wrong.
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from moto.sns.models import sns_backends

from local.aws import ACCOUNT_ID, REGION
from local.simulator import Reply, usage_of
from tests.integration.conftest import HEALTHY, Harness
from usage_monitor import cli

WINDOW = 8
TOKEN_CHARS = string.ascii_letters + string.digits + "-_."
NAME_CHARS = string.ascii_letters + string.digits
PLACES = ("value", "name", "message", "code", "errors.code", "errors.message", "header")
RUNS = count()
FUZZING = settings().max_examples > 50
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
DIGEST_EVENT = {"source": "aws.scheduler", "detail-type": "Usage Digest", "action": "digest", "detail": {}}


@st.composite
def echoes(draw: st.DrawFn) -> dict[str, Any]:
    # One random stream for every secret of the example, so they differ; Hypothesis draws the lengths.
    rng = draw(st.randoms(use_true_random=True))

    def secret(chars: str = TOKEN_CHARS, max_size: int = 512) -> str:
        return "".join(rng.choice(chars) for _ in range(draw(st.integers(WINDOW, max_size))))

    oauth = draw(st.booleans())
    place = draw(st.sampled_from(PLACES))
    # A resource name the parser would accept (letters and digits, at most 64) is the hardest case.
    own = secret(NAME_CHARS, 63) if place == "name" and draw(st.booleans()) else secret()
    run = {"own": own, "other": secret(), "oauth": oauth}
    if oauth:
        run["minted"] = secret()
    known = ["own", "other"] + (["minted"] if oauth else [])
    run["echoed"] = draw(st.lists(st.sampled_from(known), min_size=1, max_size=3, unique=True))
    run["place"] = place
    run["around"] = draw(st.sampled_from([("", ""), ("r", ""), ("token ", " is invalid")]))
    return run


def reply_echoing(text: str, place: str) -> Reply:
    if place == "value":
        return Reply(200, {"data": {"users": {"current": text, "limit": 10}}})
    if place == "name":
        return Reply(200, {"data": {text: {"current": 1, "limit": 10}}})
    if place == "header":
        return Reply(200, b"<html>no</html>", content_type="text/" + text)
    error: dict[str, Any] = {"message": "Invalid or expired token", "path": "/x", "code": "LE_ERR_SS_303"}
    body: dict[str, Any] = {"code": "LE_ERR_SS_401", "errors": [error]}
    if place == "message":
        body = {"code": "LE_ERR_SS_401", "message": text}
    elif place == "code":
        body["code"] = text
    else:
        error[place.split(".")[1]] = text
    return Reply(401, body)


def pieces(secret: str) -> set[str]:
    return {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}


def leaked(text: str, forbidden: set[str]) -> list[str]:
    return sorted({text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1)} & forbidden)


@pytest.mark.property
@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # make test: 6 fixed examples (each runs the handler twice and the CLI four times, about 1.5 s of CPU),
    # reported without shrinking; make fuzz: the profile's count, shrunk.
    max_examples=settings().max_examples if FUZZING else 6,
    phases=tuple(Phase) if FUZZING else (Phase.explicit, Phase.generate),
)
@given(run=echoes())
def test_no_piece_of_any_secret_reaches_any_output(
    harness: Harness,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    run: dict[str, Any],
) -> None:
    # Given a fleet whose "echo" license answers with some of the run's secrets in one place
    n = next(RUNS)
    at = (START + timedelta(seconds=20 * n)).strftime("%Y-%m-%dT%H:%M:%SZ")
    echo_id, other_id = f"echo{n}", f"other{n}"
    harness.configure(FAILURE_ALERT_AFTER_RUNS="1", LICENSE_IDS=f"{echo_id},{other_id}")
    harness.simulator.add_license(other_id, run["other"], HEALTHY)
    secret: dict[str, Any] = {other_id: run["other"]}
    if run["oauth"]:
        client_id = f"client{n}"
        harness.simulator.tokens.add_client(client_id, run["own"])
        minted: str = run["minted"]
        harness.simulator.tokens._token = lambda client_id, now: minted  # type: ignore[method-assign]
        harness.simulator.add_license(echo_id, None, usage_of(users=(1, 10)), client_id=client_id)
        secret[echo_id] = {"clientId": client_id, "clientSecret": run["own"]}
    else:
        harness.simulator.add_license(echo_id, run["own"], usage_of(users=(1, 10)))
        secret[echo_id] = run["own"]
    harness.set_secret(json.dumps(secret))
    text = run["around"][0] + " ".join(run[name] for name in run["echoed"]) + run["around"][1]
    harness.simulator.scripts.clear()
    harness.simulator.script(echo_id, *[reply_echoing(text, run["place"])] * 8)
    capsys.readouterr()
    caplog.clear()

    # When the scheduled run, the digest, and the CLI's check, history and report all run
    harness.invoke(time=at)
    harness.invoke({**DIGEST_EVENT, "id": f"digest-{n}", "time": at})
    outputs = [cli_output(capsys, "check", echo_id), cli_output(capsys, "check", echo_id, "--json")]
    outputs.append(cli_output(capsys, "history", echo_id, "--days", "3"))
    report = tmp_path / f"report{n}.html"
    outputs.append(cli_output(capsys, "report", "--days", "3", "--out", str(report), "--license", echo_id))
    outputs.append(report.read_text())
    outputs.append(caplog.text)
    outputs.append(repr(harness.table.scan()["Items"]))
    topic = sns_backends[ACCOUNT_ID][REGION].topics[harness.stack.topic_arn]
    outputs.append(repr(topic.sent_notifications))
    outputs.append(json.dumps(harness.delivered()))

    # Then no 8-character piece of any secret appears anywhere
    forbidden = set().union(*(pieces(run[name]) for name in ("own", "other", "minted") if name in run))
    found = {i: leaked(output, forbidden) for i, output in enumerate(outputs) if leaked(output, forbidden)}
    assert not found
    # and every channel did show the echoing license (the property is not vacuous)
    snapshot = harness.snapshot(echo_id, at)
    assert snapshot["status"] == "failed" or snapshot.get("problems")
    assert [o[:400] for i, o in enumerate(outputs[:5]) if i != 3 and echo_id not in o] == []
    assert any(echo_id in alert.default for alert in harness.alerts())


def cli_output(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    cli.main(list(argv))
    captured = capsys.readouterr()
    return captured.out + captured.err

"""One soak: the real `lambda_handler`, warm across runs, on a simulated clock, against the simulator and moto.

The clock is time-machine's: every run moves it to the scheduled event's `time` (plus the scheduler's usual
second or two) and lets it tick in real time while the run lasts, so token lifetimes, the secret cache, mute
expiry, pending-claim ages and idempotency records all see simulated time. `time.monotonic` (timeouts, the
run's deadline) stays real, as it is in Lambda.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from local.aws import ACCOUNT_ID, REGION, FakeContext, LocalStack, load_event, provision, put_license_list
from local.simulator import LeegalitySimulator, Reply, error_body
from local.soak import fleet
from local.soak.costs import CallLedger, remember_params
from local.soak.faults import AwsFaults, FunctionKilled, OutputCapture, SecretScanner, Vitals
from local.soak.fleet import CLIENT_ID, RUN_EVERY, Schedule
from tests.model.alert_model import AlertModel, Expected, Observation


@dataclass(frozen=True)
class Sent:
    run: int
    at: datetime
    license_id: str
    event_type: str
    severity: str
    subject: str
    sms: str


@dataclass
class Record:
    """Everything the report needs, gathered while the soak runs."""

    days: int
    licenses: int
    expected: list[tuple[int, Expected]] = field(default_factory=list)
    deferred: list[tuple[int, Expected]] = field(default_factory=list)  # expected while SNS was down: come later
    sent: list[Sent] = field(default_factory=list)
    usage: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    run_seconds: list[float] = field(default_factory=list)
    killed_runs: list[int] = field(default_factory=list)
    sns_down_runs: list[int] = field(default_factory=list)
    duplicate_sent: int = 0
    pending_claims: list[tuple[int, str, str]] = field(default_factory=list)  # (run, license, subject)
    wall_seconds: float = 0.0


class Soak:
    def __init__(self, days: int, licenses: int, *, measure_memory: bool = True, tweaks: bool = True) -> None:
        """`tweaks`: moto's pathological costs removed (local/soak/mototweaks.py); off only to check them."""
        self.schedule = Schedule(days)
        self.count = licenses
        self.ids = [fleet.license_id(i) for i in range(licenses)]
        self.record = Record(days, licenses)
        self.tweaks = tweaks
        self.ledger = CallLedger()
        self.capture = OutputCapture()
        # Memory kept by the function's own code: tracemalloc over 4 runs at three points of the span (traced runs
        # are many times slower, as moto allocates a lot).
        fractions = (0.3, 0.6, 0.9) if measure_memory else ()
        self.vitals = Vitals(windows=tuple(int(self.schedule.runs() * f) for f in fractions))
        self.scanner = SecretScanner()
        self._client_secret = "soak-client-secret-A1b2C3d4E5f6G7h8"
        self._rolled_back: set[str] = set()
        self._static = {lid: f"soak-static-{lid}-Zq9Xw8Vu7" for i, lid in enumerate(self.ids) if _static(i)}

    # --- set-up -----------------------------------------------------------------------------------------

    def _secret(self) -> str:
        value: dict[str, Any] = {}
        for lid in self.ids:
            value[lid] = self._static.get(lid) or {"clientId": CLIENT_ID, "clientSecret": self._client_secret}
        return json.dumps(value)

    def _env(self, stack: LocalStack, base_url: str, list_uri: str) -> dict[str, str]:
        return stack.environment(
            base_url,
            LICENSE_LIST_S3_URI=list_uri,
            SCHEDULE_RATE="rate(15 minutes)",
            # urllib3's real retries with short sleeps: the soak's clock is simulated, its sleeps are not.
            HTTP_RETRY_BACKOFF_SECONDS="0.01",
            HTTP_RETRY_AFTER_CAP_SECONDS="1",
            HTTP_READ_TIMEOUT_SECONDS="2",
            HTTP_CONNECT_TIMEOUT_SECONDS="2",
            POWERTOOLS_LOG_LEVEL="INFO",
        )

    # --- the year ---------------------------------------------------------------------------------------

    def run(self, progress: Any = None) -> Record:
        import boto3
        import time_machine
        from moto import mock_aws
        from moto.dynamodb.models import dynamodb_backends

        from local.soak.mototweaks import moto_tweaks
        from usage_monitor import app, wiring
        from usage_monitor.fleet.licenses import LicenseListSource
        from usage_monitor.settings import Settings
        from usage_monitor.wiring import wire

        started = time.perf_counter()
        saved_env = dict(os.environ)
        with ExitStack() as stack:
            if self.tweaks:
                stack.enter_context(moto_tweaks())
            traveller = stack.enter_context(time_machine.travel(self.schedule.start, tick=True))
            simulator = stack.enter_context(LeegalitySimulator())
            stack.enter_context(mock_aws())
            os.environ.update(AWS_DEFAULT_REGION=REGION, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
            admin = boto3.session.Session(region_name=REGION)
            local = provision(admin, self._secret())
            self.admin, self.local, self.simulator = admin, local, simulator
            simulator.tokens.add_client(CLIENT_ID, self._client_secret)
            for i, lid in enumerate(self.ids):
                simulator.add_license(lid, self._static.get(lid), {}, client_id=None if _static(i) else CLIENT_ID)
            self._list_text = ""
            list_uri = self._put_list(self.schedule.start)
            env = self._env(local, simulator.base_url, list_uri)
            os.environ.update(env)
            self.model = AlertModel(env)
            self.scanner.add(self._client_secret, *self._static.values())
            table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(local.table_name)
            self.table = table

            def container() -> None:
                """A new Lambda container: fresh clients and caches, with the soak's hooks on its session."""
                session = boto3.session.Session(region_name=REGION)
                self.faults.register(session)
                remember_params(session)
                self.ledger.register(session, table)
                app.reset()
                # The list cache ages on time.monotonic, which advances 15 minutes between runs in Lambda but
                # not here (time-machine moves the wall clock only): give it the simulated wall clock.
                with patch.object(wiring, "LicenseListSource", functools.partial(LicenseListSource, clock=time.time)):
                    app._wired = wire(Settings.from_env(os.environ), session)

            self.faults = AwsFaults()
            container()
            self.capture.hold_logger()
            try:
                for run in range(self.schedule.runs()):
                    at = self.schedule.start + RUN_EVERY * run
                    traveller.move_to(at + timedelta(seconds=1))
                    if self._invoke_run(run, at, app):
                        container()
                    if run % 96 == 95:
                        self._expire_items(at)
                        # The simulator's own request logs (for tests that ask who called): the soak reads none.
                        simulator.requests.clear()
                        simulator.user_agents.clear()
                        simulator.auth_styles.clear()
                    if progress is not None and run % 96 == 95:
                        progress(run + 1, self.schedule.runs())
                self.scanner.scan_table(table)
                self.vitals.stored_bytes = sum(item.size() for item in _items(table))
                self.vitals.stored_items = sum(1 for _ in _items(table))
            finally:
                self.capture.release_logger()
                app.reset()
        os.environ.clear()
        os.environ.update(saved_env)
        self.record.wall_seconds = time.perf_counter() - started
        return self.record

    def _invoke_run(self, run: int, at: datetime, app: Any) -> bool:
        """One scheduled run (and the digest when due); True when the container died."""
        bands = self.schedule.bands()
        self._apply_faults(run, at, bands)
        observed = self._observe(run, at, bands)
        event = {**load_event("scheduled.json"), "id": f"soak-{run}", "time": _iso(at)}
        sns_down = bands["SNS down"].covers(at)
        killed = bands["run killed after claim"].covers(at)
        self.faults.sns = "down" if sns_down else "kill" if killed else "up"
        self.faults.throttle_dynamodb = bands["DynamoDB throttled"].covers(at)
        died = self._invoke(run, at, event, app)
        if died:
            self.record.killed_runs.append(run)
            self._after_kill(run, observed)
        if sns_down:
            self.record.sns_down_runs.append(run)
            for expected in observed:
                self.model.rollback(expected.license_id)
                self.record.deferred.append((run, expected))
        else:
            self.record.expected += [(run, e) for e in observed if not (died and e.license_id in self._rolled_back)]
        self.faults.sns = "up"
        if bands["event delivered twice"].covers(at) and not died:
            before = len(self.record.sent)
            self._invoke(run, at, event, app)
            self.record.duplicate_sent += len(self.record.sent) - before
        if at.weekday() == fleet.DIGEST_WEEKDAY and (at.hour, at.minute) == fleet.DIGEST_TIME:
            digest = {**load_event("digest.json"), "id": f"soak-digest-{run}", "time": _iso(at)}
            self._invoke(run, at, digest, app)
        return died

    def _observe(self, run: int, at: datetime, bands: dict[str, fleet.Band]) -> list[Expected]:
        """What each checked license's answer is this run, set on the simulator and told to the model."""
        listed = set(fleet.license_list(self.count, at, self.schedule))
        expected: list[Expected] = []
        for i, lid in enumerate(self.ids):
            usage = fleet.usage_at(i, at, self.schedule, run)
            self.simulator.licenses[lid].usage = fleet.counted(usage)
            if lid not in listed:
                continue
            failure = self._failure(i, at, bands)
            if failure is None:
                top = max(current / limit for current, limit in usage.values())
                self.record.usage.setdefault(lid, []).append((at, 100 * top))
            expected += self.model.observe(Observation(lid, at, None if failure else usage, failure))
        return expected

    def _failure(self, index: int, at: datetime, bands: dict[str, fleet.Band]) -> str | None:
        lid, kind = self.ids[index], fleet.kind_of(index)
        if kind == "growth" and any(bands[f"5xx burst, {n}"].covers(at) for n in ("1 run", "2 runs", "8 runs")):
            self.simulator.script(lid, *[Reply(503, error_body(503, "/"))] * 4)  # the first try and 3 retries
            return "http_error"
        if kind == "revoked" and bands["token revoked"].covers(at):
            return "token_rejected"
        if not _static(index) and bands["token endpoint 503"].covers(at):
            return "http_error"
        return None

    def _apply_faults(self, run: int, at: datetime, bands: dict[str, fleet.Band]) -> None:
        simulator, issuer = self.simulator, self.simulator.tokens
        simulator.scripts.clear()
        issuer.script.clear()
        if bands["token endpoint 503"].covers(at):
            issuer.script.extend([Reply(503, "", content_type="text/html")] * 4)
        if bands["token endpoint 429"].covers(at):
            issuer.script.append(Reply(429, {"code": "LE_ERR_SS_429"}, headers={"Retry-After": "1"}))
        issuer.lifetime = 5.0 if bands["JWTs live 5 s"].covers(at) else 300.0
        revoked = next((lid for i, lid in enumerate(self.ids) if fleet.kind_of(i) == "revoked"), None)
        if revoked is not None:
            covered = bands["token revoked"].covers(at)
            simulator.licenses[revoked].token = "revoked-elsewhere" if covered else self._static[revoked]
        hover = next((lid for i, lid in enumerate(self.ids) if fleet.kind_of(i) == "hover"), None)
        if hover is not None and at == bands["static token rotated"].start:
            self._static[hover] = f"soak-static-rotated-{hover}-Pp4Oo3"
            simulator.licenses[hover].token = self._static[hover]
            self._rotate()
        if at == bands["client secret rotated"].start:
            self._client_secret = "soak-client-secret-rotated-Mm5Nn6Bb7"
            issuer.add_client(CLIENT_ID, self._client_secret)
            self._rotate()
        self._put_list(at)

    def _rotate(self) -> None:
        self.scanner.add(self._client_secret, *self._static.values())
        self.admin.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=self.local.secret_id, SecretString=self._secret()
        )

    def _put_list(self, at: datetime) -> str:
        text = "\n".join(fleet.license_list(self.count, at, self.schedule)) + "\n"
        if text != self._list_text:
            self._list_text = text
            self._list_uri = put_license_list(self.admin, text)
        return self._list_uri

    def _invoke(self, run: int, at: datetime, event: dict[str, Any], app: Any) -> bool:
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT_ID][REGION].topics[self.local.topic_arn]
        seen = len(topic.sent_notifications)
        before_rss = self.vitals.sample_start(run)
        started = time.perf_counter()
        died = False
        with redirect_stdout(self.capture):
            try:
                app.lambda_handler(event, FakeContext())
            except FunctionKilled:
                died = True
        if died:
            _join_check_threads()
        self.record.run_seconds.append(time.perf_counter() - started)
        self.vitals.sample_end(run, before_rss)
        output = self.capture.drain()
        self.vitals.log_bytes += len(output.encode())
        self.vitals.metrics(output)
        new = topic.sent_notifications[seen:]
        self.scanner.scan(output, self.simulator.tokens.issued)
        for _id, message, subject, attributes, _group in new:
            forms = json.loads(message)
            self.scanner.scan(f"{subject}\n{message}", self.simulator.tokens.issued)
            values = {k: v["Value"] for k, v in (attributes or {}).items()}
            self.record.sent.append(
                Sent(
                    run,
                    at,
                    values.get("license_id", ""),
                    values.get("event_type", ""),
                    values.get("severity", ""),
                    subject or "",
                    forms.get("sms", ""),
                )
            )
            self.ledger.publishes += 1
        return died

    def _after_kill(self, run: int, observed: list[Expected]) -> None:
        """The killed run's claimed message stays pending; licenses after it were never claimed: rolled back.
        Nor were their snapshots written, which later forecasts would have read."""
        from usage_monitor.storage.store import STATE_PREFIX

        self._rolled_back = set()
        pending = {}
        at = self.schedule.start + RUN_EVERY * run
        snapshots = set()
        for item in _items(self.table):
            # The table's keys are license_id and captured_at; reading them thaws no frozen item (see mototweaks).
            key = item.hash_key.value
            if item.range_key is not None and item.range_key.value == _iso(at):
                snapshots.add(key)
            if key.startswith(STATE_PREFIX) and "pending" in item.attrs:
                subject = item.attrs["pending"].value.get("subject")
                pending[key[len(STATE_PREFIX) :]] = subject.value if subject is not None else ""
        for license_id, subject in pending.items():
            self.record.pending_claims.append((run, license_id, subject))
        for license_id in self.ids:
            if license_id not in snapshots:
                self.model.unstored(license_id, at)
        for expected in observed:
            if expected.license_id not in pending:
                self.model.rollback(expected.license_id)
                self._rolled_back.add(expected.license_id)

    def _expire_items(self, now: datetime) -> None:
        """DynamoDB TTL, as the service applies it (within a day or two of `expires_at`): free deletes. Then
        items older than anything a run reads are frozen (see mototweaks), so the process does not grow with
        moto's objects for the table."""
        from local.soak.mototweaks import expires_at, freeze_items_before

        cutoff = int(now.timestamp())
        for ranges in list(self.table.items.values()):
            for range_key, item in list(ranges.items()):
                expires = expires_at(item)
                if expires is not None and expires < cutoff:
                    del ranges[range_key]
        if self.tweaks:
            freeze_items_before(self.table, _iso(now - FROZEN_AFTER))


# Longer than any read a run makes (the forecast and the weekly digest: 14 days), so a run never thaws one.
FROZEN_AFTER = timedelta(days=15)


def _join_check_threads() -> None:
    """Let the killed run's checks end in its own time, as if they had died with it.

    Lambda takes a stopped invocation's threads with it. Here the handler is gone, but the check pool does not
    wait for checks still in flight (`shutdown(wait=False)`, for the run's deadline). Left running, those
    checks answered the next run's scripted replies: a 5xx burst meant for the next run was used up by them,
    and the next run's check succeeded where the model expected a failure (seen on a loaded machine).
    """
    # The run's generator of results, now unreachable, shuts its pool down when collected: running checks
    # end, idle workers exit.
    gc.collect()
    for thread in threading.enumerate():
        if thread.name.startswith("check") and thread is not threading.current_thread():
            thread.join(timeout=30)


def _static(index: int) -> bool:
    return fleet.kind_of(index) in fleet.STATIC_TOKEN_KINDS


def _items(table: Any) -> Iterator[Any]:
    for ranges in list(table.items.values()):
        yield from list(ranges.values())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

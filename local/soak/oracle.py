"""The soak's invariants: the model's messages against the ones SNS got, pending claims, secrets.

Per-license messages are compared by what their SNS attributes show (license, event type, severity). A
message the model expected in a run is matched in the same run; one expected while SNS was down (the
real code rolled its claim back, so the model was rolled back too) must arrive in the first run after the
outage; one claimed by a run that was killed must arrive within two runs (the next run leaves a claim younger
than 15 minutes to the run that made it). Run-level messages (license `*`) are the soak's own expectations:
one weekly digest, one `config_problem` while the bad list line is there and one `recovered` after it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from local.soak.driver import Record, Sent
from local.soak.fleet import DIGEST_TIME, DIGEST_WEEKDAY, RUN_EVERY, Schedule
from tests.model.alert_model import Expected

KILL_GRACE_RUNS = 2


@dataclass(frozen=True)
class Verdict:
    matched: int
    missed: list[tuple[int, Expected]]
    extra: list[Sent]
    late: int
    pending_lost: int
    pending_doubled: int
    duplicate_event_messages: int
    secrets_found: int
    run_level_missing: list[str]

    @property
    def failures(self) -> dict[str, int]:
        return {
            "missed notifications": len(self.missed),
            "extra notifications": len(self.extra),
            "lost pending messages": self.pending_lost,
            "doubled pending messages": self.pending_doubled,
            "messages from a redelivered event": self.duplicate_event_messages,
            "secrets in any output": self.secrets_found,
            "run-level messages missing": len(self.run_level_missing),
        }

    @property
    def ok(self) -> bool:
        return not any(self.failures.values())


def judge(record: Record, schedule: Schedule, secrets_found: int) -> Verdict:
    per_license = [s for s in record.sent if s.license_id != "*"]
    run_level = [s for s in record.sent if s.license_id == "*"]
    unmatched: dict[Expected, list[Sent]] = {}
    for sent in per_license:
        unmatched.setdefault(Expected(sent.license_id, sent.event_type, sent.severity), []).append(sent)
    missed: list[tuple[int, Expected]] = []
    matched = late = 0
    outage_end = _first_run_after(record.sns_down_runs)
    wanted = sorted(record.expected + record.deferred, key=lambda pair: pair[0])
    deferred_ids = {id(pair) for pair in record.deferred}
    for pair in wanted:
        run, expected = pair
        if id(pair) in deferred_ids:
            continue  # the model predicts it again after the outage (it was rolled back with the code)
        candidates = unmatched.get(expected, [])
        deadline = run + (KILL_GRACE_RUNS if run in record.killed_runs else 0)
        hit = next((s for s in candidates if run <= s.run <= deadline), None)
        if hit is None:
            missed.append(pair)
            continue
        candidates.remove(hit)
        matched += 1
        if hit.run > run:
            late += 1
    if outage_end is not None:  # told again in the first run after the outage: late by the outage
        after = Counter(e for run, e in record.expected if run == outage_end)
        late += sum((Counter(e for _, e in record.deferred) & after).values())
    extra = [s for sents in unmatched.values() for s in sents]
    lost, doubled = _pending(record)
    return Verdict(
        matched=matched,
        missed=missed,
        extra=extra,
        late=late,
        pending_lost=lost,
        pending_doubled=doubled,
        duplicate_event_messages=record.duplicate_sent,
        secrets_found=secrets_found,
        run_level_missing=_run_level(run_level, record, schedule),
    )


def _first_run_after(runs: list[int]) -> int | None:
    return max(runs) + 1 if runs else None


def _pending(record: Record) -> tuple[int, int]:
    """Each message a killed run left pending is published exactly once, within the grace runs."""
    lost = doubled = 0
    for run, license_id, subject in record.pending_claims:
        copies = sum(
            1
            for s in record.sent
            if s.license_id == license_id and s.subject == subject and run < s.run <= run + KILL_GRACE_RUNS
        )
        lost += copies == 0
        doubled += copies > 1
    return lost, doubled


def _run_level(sent: list[Sent], record: Record, schedule: Schedule) -> list[str]:
    counts = Counter(s.event_type for s in sent)
    missing = []
    mondays = sum(
        1
        for run in range(schedule.runs())
        if (moment := schedule.start + RUN_EVERY * run).weekday() == DIGEST_WEEKDAY
        and (moment.hour, moment.minute) == DIGEST_TIME
    )
    if counts["digest"] != mondays:
        missing.append(f"{mondays} weekly digests expected, {counts['digest']} sent")
    bad_line = schedule.bands()["bad line in the list"]
    if bad_line.start < schedule.end and counts["config_problem"] != 1:
        missing.append(f"one config_problem for the bad list line expected, {counts['config_problem']} sent")
    if bad_line.end < schedule.end and counts["recovered"] != 1:
        missing.append(f"one run-level recovered expected, {counts['recovered']} sent")
    others = {k: v for k, v in counts.items() if k not in ("digest", "config_problem", "recovered")}
    missing += [f"unexpected run-level {kind} x{n}" for kind, n in others.items()]
    return missing

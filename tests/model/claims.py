"""What a published message states, read back from its words, checked against the snapshot it was built from.

Every figure and claim is parsed out of the subject, the email body and the SMS (the forms a person reads)
and compared with the stored figures: `users: 48/50 (96.0%): reached the limit` is false, whatever the
attributes say. The model says which lines the message must have; this module says whether they are true.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from tests.model.alert_model import LIMIT, AlertModel, Change, Expected

RESOURCE_LINE = re.compile(
    r"^- (?P<name>\w+): (?P<current>\d+)/(?P<limit>\d+) \((?P<percent>[\d.]+)%\): "
    r"(?:(?P<verb>reached|still at or above) (?:the limit|the (?P<level>[\d.]+)% threshold) \((?P<severity>\w+)\)"
    r"|(?P<recovered>recovered, back below every threshold))"
)
# A reminder inside the hysteresis band: the level is held, today's figures are below its line (issue 18.7).
HELD_LINE = re.compile(
    r"^- (?P<name>\w+): raised at (?:the limit|the (?P<level>[\d.]+)% threshold) \((?P<severity>\w+), still held\); "
    r"now (?P<current>\d+)/(?P<limit>\d+) \((?P<percent>[\d.]+)%\), below (?:the limit|that threshold); "
    r"the alert clears below (?P<clears>[\d.]+)%"
)
VANISHED_LINE = re.compile(r"^- (?P<name>\w+): (no longer in the API's answer|no usable figures any more)")
# A forecast: `- users: 120/1000 (12.0%): below every threshold; at the current rate (about 240 a day) the limit is
# reached in about 4 days (around 28 Nov)`, or `within a day (around 25 Nov 18:00 UTC)`; the year when not this one.
FORECAST_LINE = re.compile(
    r"^- (?P<name>\w+): (?P<current>\d+)/(?P<limit>\d+) \((?P<percent>[\d.]+)%\): below every threshold; "
    r"at the current rate \(about (?P<rate>[\d.]+) a day\) the limit is reached "
    r"(?:in about (?P<days>\d+) days?|within a day) "
    r"\(around (?P<day>\d+) (?P<month>[A-Z][a-z]{2})(?: (?P<year>\d{4}))?(?: (?P<time>\d\d:\d\d) UTC)?\)$"
)
SMS_FORECAST = re.compile(r"(?P<name>\w+) \d+/\d+ \([\d.]+%\) limit in (?:~(?P<days>\d+) days?|under a day)")
SUBJECT_FORECAST = re.compile(r": (?P<name>\w+) may reach its limit in (?:~(?P<days>\d+) days?|under a day)")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FAILED_RUNS = re.compile(r"Failed (\d+) run\(s\) in a row")
SMS_PART = re.compile(r"(?P<name>\w+) (?P<current>\d+)/(?P<limit>\d+) \([\d.]+%\) (?P<mark>LIMIT|>=(?P<level>[\d.]+)%)")
SUBJECT_USAGE = re.compile(r": (?:Reminder: )?(?P<name>\w+) (?P<what>at limit|>= (?P<level>[\d.]+)%) (?P<current>\d+)/")


@dataclass(frozen=True)
class Message:
    subject: str
    email: str
    sms: str
    attributes: Mapping[str, str]

    @classmethod
    def from_sns(cls, subject: str, message_json: str, attributes: Mapping[str, str]) -> Message:
        forms = json.loads(message_json)
        return cls(subject, forms["email"], forms["sms"], attributes)


def checked_at(message: Message) -> str:
    """The run a message was built in (`Checked:` line): a redelivered message is about an earlier run."""
    found = re.search(r"^Checked:\s+(\S+) \(UTC\)", message.email, re.MULTILINE)
    assert found, f"no Checked line in {message.email!r}"
    return found[1]


def percent_text(current: int, limit: int) -> str:
    """current / limit, rounded down to one decimal, as every message shows it."""
    tenths = current * 1000 // limit
    return f"{tenths // 10}.{tenths % 10}"


def false_claims(
    message: Message, expected: Expected, snapshot: Mapping[str, Any], model: AlertModel, *, reminder_wording: bool
) -> list[str]:
    """Every statement of `message` that its snapshot or the model contradicts ([] when all are true).

    `reminder_wording`: a reminder inside the hysteresis band may still say "still at or above" the level it
    holds (issue 18 item 7, a known divergence) instead of describing today's figures.
    """
    problems: list[str] = []
    lid = expected.license_id
    told: dict[str, str] = {}
    forecasts = {c.resource: c for c in expected.changes if c.kind == "forecast"}
    day_counts: dict[str, int] = {}
    for line in message.email.splitlines():
        if outlook := FORECAST_LINE.match(line):
            problems += _forecast_claims(line, outlook, snapshot, model, message, forecasts.get(outlook["name"]))
            day_counts[outlook["name"]] = int(outlook["days"] or 0)
            told[outlook["name"]] = "forecast"
            continue
        if vanished := VANISHED_LINE.match(line):
            told[vanished["name"]] = "vanished"
            continue
        if held := HELD_LINE.match(line):
            problems += _held_claims(line, held, snapshot, model, lid)
            told[held["name"]] = "reminder"
            continue
        found = RESOURCE_LINE.match(line)
        if not found:
            continue
        name = found["name"]
        current, limit = int(found["current"]), int(found["limit"])
        problems += figure_problems(line, snapshot.get(name) or {}, current, limit, found["percent"])
        if found["recovered"]:
            told[name] = "recovered"
            if model.level(lid, name, current, limit) is not None:
                problems.append(f"{line!r}: not below every threshold")
            continue
        level = Decimal(found["level"]) if found["level"] else LIMIT
        told[name] = "crossed" if found["verb"] == "reached" else "reminder"
        now_at = current >= limit if level == LIMIT else current * 100 >= level * limit
        if not now_at and not (reminder_wording and found["verb"] != "reached"):
            problems.append(f"{line!r}: {current}/{limit} is not at {'the limit' if level == LIMIT else level}")
        severity = model.severity(lid, name, level)
        if found["severity"].lower() != severity:
            problems.append(f"{line!r}: the level's severity is {severity}")
    wanted = {c.resource: c.kind for c in expected.changes if c.resource is not None}
    if expected.event_type != "flapping" and told != wanted:
        problems.append(f"lines {told} but the model expects {wanted}")
    for change in expected.changes:
        if change.runs is not None and f"Failed {change.runs} run(s) in a row" not in message.email:
            problems.append(f"the message should say {change.runs} failed run(s): {FAILED_RUNS.findall(message.email)}")
    problems += _short_forms(message, snapshot, reminder_wording)
    problems += _short_forecasts(message, day_counts)
    return problems


def _forecast_claims(
    line: str,
    outlook: re.Match[str],
    snapshot: Mapping[str, Any],
    model: AlertModel,
    message: Message,
    change: Change | None,
) -> list[str]:
    """A forecast line: the snapshot's figures, below every threshold, and the day count, date and rate that
    the snapshots (as the model fits them) give; the count always agrees with the date beside it."""
    problems = []
    lid, name = message.attributes["license_id"], outlook["name"]
    current, limit = int(outlook["current"]), int(outlook["limit"])
    problems += figure_problems(line, snapshot.get(name) or {}, current, limit, outlook["percent"])
    if model.level(lid, name, current, limit) is not None:
        problems.append(f"{line!r}: not below every threshold")
    now = datetime.fromisoformat(checked_at(message).replace("Z", "+00:00"))
    year = int(outlook["year"]) if outlook["year"] else now.year
    if outlook["year"] and year == now.year:
        problems.append(f"{line!r}: names this year")
    named = date(year, MONTHS.index(outlook["month"]) + 1, int(outlook["day"]))
    days = int(outlook["days"] or 0)
    if days and days != max(1, (named - now.date()).days):
        problems.append(f"{line!r}: {named} is not {days} day(s) after {now.date()}")
    if change is None or change.limit_at is None or change.rate is None:
        return problems  # a forecast line the model has no change for is reported by the caller
    if named != change.limit_at.date():
        problems.append(f"{line!r}: the snapshots project {change.limit_at:%Y-%m-%d %H:%M}")
    if (change.limit_at - now < timedelta(days=1)) != (outlook["days"] is None):
        problems.append(f"{line!r}: the limit is {change.limit_at - now} away")
    if abs(Decimal(outlook["rate"]) - Decimal(change.rate.numerator) / change.rate.denominator) > Decimal("0.005"):
        problems.append(f"{line!r}: the snapshots give a rate of {float(change.rate):.3f} a day")
    return problems


def _short_forecasts(message: Message, day_counts: Mapping[str, int]) -> list[str]:
    """The SMS and subject give the email's day count (0: under a day); the subject names the soonest."""
    problems = []
    short = [(m["name"], int(m["days"] or 0), "SMS") for m in SMS_FORECAST.finditer(message.sms)]
    if subject := SUBJECT_FORECAST.search(message.subject):
        short.append((subject["name"], int(subject["days"] or 0), "subject"))
        if day_counts and int(subject["days"] or 0) != min(day_counts.values()):
            problems.append(f"the subject's {subject['name']} is not the soonest of {day_counts}")
    for name, days, form in short:
        if name in day_counts and days != day_counts[name]:
            problems.append(f"{form} says {name} reaches its limit in {days} day(s), the email {day_counts[name]}")
    return problems


def _held_claims(line: str, held: re.Match[str], snapshot: Mapping[str, Any], model: AlertModel, lid: str) -> list[str]:
    """A held level's line: today's figures are the snapshot's, below the level, and not yet below its clear line."""
    problems = []
    name, current, limit = held["name"], int(held["current"]), int(held["limit"])
    stored = snapshot.get(name) or {}
    if (stored.get("current"), stored.get("limit")) != (current, limit):
        problems.append(f"{line!r}: the snapshot has {stored.get('current')}/{stored.get('limit')}")
    if held["percent"] != percent_text(current, limit):
        problems.append(f"{line!r}: {current}/{limit} is {percent_text(current, limit)}%")
    level = Decimal(held["level"]) if held["level"] else LIMIT
    at_level = current >= limit if level == LIMIT else current * 100 >= level * limit
    if at_level:
        problems.append(f"{line!r}: says below {level} but {current}/{limit} is at it")
    if current * 100 < Decimal(held["clears"]) * limit:
        problems.append(f"{line!r}: {current}/{limit} is already below the clear line {held['clears']}%")
    if held["severity"].lower() != model.severity(lid, name, level):
        problems.append(f"{line!r}: the level's severity is {model.severity(lid, name, level)}")
    return problems


def _short_forms(message: Message, snapshot: Mapping[str, Any], reminder_wording: bool) -> list[str]:
    """The SMS and subject name a level with the usage they quote: the level must be true of it."""
    problems = []
    reminder = "(reminder)" in message.sms
    claims = [(m["name"], int(m["current"]), m["level"], "SMS") for m in SMS_PART.finditer(message.sms)]
    if subject := SUBJECT_USAGE.search(message.subject):
        claims.append((subject["name"], int(subject["current"]), subject["level"], "subject"))
    for name, current, level_text, form in claims:
        stored = snapshot.get(name) or {}
        limit = stored.get("limit")
        if stored.get("current") != current or not isinstance(limit, int) or limit <= 0:
            problems.append(f"{form} quotes {name} {current}, the snapshot has {stored}")
            continue
        level = Decimal(level_text) if level_text else LIMIT
        true = current >= limit if level == LIMIT else current * 100 >= level * limit
        if not true and not (reminder_wording and reminder):
            problems.append(f"{form} says {name} {current}/{limit} is at {level_text or 'the limit'}")
    return problems


def figure_problems(line: str, stored: Mapping[str, Any], current: int, limit: int, percent: str) -> list[str]:
    """A line's `current/limit (percent)` against the snapshot it was built from."""
    problems = []
    if (stored.get("current"), stored.get("limit")) != (current, limit):
        problems.append(f"{line!r}: the snapshot has {stored.get('current')}/{stored.get('limit')}")
    if percent != percent_text(current, limit):
        problems.append(f"{line!r}: {current}/{limit} is {percent_text(current, limit)}%")
    return problems

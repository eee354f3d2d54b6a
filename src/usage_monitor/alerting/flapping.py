"""Pure flap damping: when a license's notified state keeps changing, say so once and hold the rest.

Hysteresis catches a count moving by one around a line; this catches what it cannot (a check failing every
other run, a resource jumping across the whole band). Like Nagios flap detection: more than `max_changes`
notified changes within `window` start a hold; the hold ends once nothing has changed for a whole window.
Only notifications are damped: snapshots and the stored alert marks still follow every run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

MAX_STATES = 6  # labels kept for the message; a flapping license rarely visits more
MAX_SUBJECTS = 32  # names kept; past that, MANY_SUBJECTS stands for the rest (no mute covers it)
# What a change is about besides a resource: the license's check, and "more than we kept". Neither can be a
# resource name a mute targets (`*` never starts one), so a resource mute never covers them.
CHECK_SUBJECT = "*check"
MANY_SUBJECTS = "*more"


@dataclass(frozen=True)
class FlapState:
    """Recent notified changes of one license, and the hold while it flaps."""

    changes: tuple[datetime, ...] = ()
    held_since: datetime | None = None
    last_change: datetime | None = None
    # The states it moved between while flapping, in the order first seen (for the messages).
    states: tuple[str, ...] = ()
    # What the recent changes were about (resource names, CHECK_SUBJECT), sorted: a mute of all of them
    # holds the flapping and settled notices too.
    subjects: tuple[str, ...] = ()

    @property
    def holding(self) -> bool:
        return self.held_since is not None


class Damping(StrEnum):
    PASS = "pass"  # send what evaluation decided
    START = "start"  # send one `flapping` notice instead, and hold from now on
    HOLD = "hold"  # a change while holding: send nothing
    QUIET = "quiet"  # holding, nothing changed, not yet stable for a window: send nothing
    SETTLE = "settle"  # stable for a whole window: send one message saying where it settled


def damp(
    before: FlapState,
    *,
    changed: bool,
    previous_label: str,
    label: str,
    now: datetime,
    max_changes: int,
    window: timedelta,
    subjects: frozenset[str] = frozenset(),
) -> tuple[FlapState, Damping]:
    """The next flap state and what to do with this run's notification.

    Nothing is written when nothing changed and no hold is active, so a quiet license costs no state write.
    """
    if max_changes <= 0:
        return before, Damping.PASS
    if before.holding:
        if changed:
            states = before.states if label in before.states else (*before.states, label)[-MAX_STATES:]
            recent = _recent(before.changes, now, window, max_changes)
            about = _union(before.subjects, subjects)
            return replace(before, changes=recent, last_change=now, states=states, subjects=about), Damping.HOLD
        last = before.last_change or before.held_since
        if last is not None and now - last >= window:
            return FlapState(), Damping.SETTLE
        return before, Damping.QUIET
    if not changed:
        return before, Damping.PASS
    recent = _recent(before.changes, now, window, max_changes)
    # Subjects of changes that left the window may linger: over-inclusion only lets a notice through.
    about = _union(before.subjects if len(recent) > 1 else (), subjects)
    if len(recent) > max_changes:
        states = (previous_label, label) if previous_label != label else (label,)
        return FlapState(recent, now, now, states, about), Damping.START
    return FlapState(recent, subjects=about), Damping.PASS


def _union(kept: tuple[str, ...], new: frozenset[str]) -> tuple[str, ...]:
    names = sorted(set(kept) | new)
    if len(names) <= MAX_SUBJECTS:
        return tuple(names)
    return tuple(sorted({*names[: MAX_SUBJECTS - 1], MANY_SUBJECTS}))


def _recent(changes: tuple[datetime, ...], now: datetime, window: timedelta, max_changes: int) -> tuple[datetime, ...]:
    """The changes inside the window, plus this one; no more than needed to decide (bounded item size)."""
    kept = tuple(t for t in changes if now - t < window)
    return (*kept, now)[-(max_changes + 1) :]

"""The pure alert rules: levels and policy, hysteresis, evaluation, reminders, failure streaks,
flap damping, run-level problems and forecasts.

No AWS, no I/O, no wording. May import `core` and `settings` only.
"""

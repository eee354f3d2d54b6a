"""A year in a box (issue 20 part 2): `python -m local.soak`, `make soak`.

The real `lambda_handler`, warm across runs as in one Lambda container, invoked every 15 minutes of simulated
time against the Leegality simulator and moto, through a year of usage curves and scheduled faults; the alert
model (tests/model/alert_model.py) says what a user must be told, and the soak compares, counts what every run
cost and writes the year on one HTML page. Modules: fleet (curves, fault schedule), driver (the runs),
faults (AWS-side faults, output capture, secret scan, memory), oracle (invariants), costs, report, page.
"""

# A year of 8 licenses is about an hour of CPU here (8 s a simulated day, measured); four weeks fit in 15
# minutes on a 2-core machine shared with other work (see docs/performance.md, "A year unattended").
# `--days 365 --licenses 50` is the full size.
DEFAULT_DAYS = 28
DEFAULT_LICENSES = 8

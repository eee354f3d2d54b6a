"""A year in a box (issue 20 part 2): `python -m local.soak`, `make soak`.

The real `lambda_handler`, warm across runs as in one Lambda container, invoked every 15 minutes of simulated
time against the Leegality simulator and moto, through a year of usage curves and scheduled faults; the alert
model (tests/model/alert_model.py) says what a user must be told, and the soak compares, counts what every run
cost and writes the year on one HTML page. Modules: fleet (curves, fault schedule), driver (the runs),
faults (AWS-side faults, output capture, secret scan, memory), oracle (invariants), costs, report, page.
"""

# Four weeks of 8 licenses (a month end, four digests, every fault) take about 5 minutes here. A year fits in
# 15 minutes on this 2-core machine for one license (11 min 56 s measured), not for 8 (35 minutes of CPU, 21 of
# them the function's own) nor 50 (3 hours): docs/performance.md, "A year unattended", has the arithmetic.
DEFAULT_DAYS = 28
DEFAULT_LICENSES = 8

"""What the scheduled function loads before its first request: nothing it needs only now and then.

The alert wording (`messages.render` and its texts) loads with the first alert a run sends, the reports with
the first digest, fan-out with the first dispatch, batch processing with a worker's first batch, the X-Ray SDK
with the first traced invocation. Each would otherwise cost every cold start (docs/performance.md, "Cold start").
"""

from __future__ import annotations

import subprocess
import sys

from local.aws import ROOT
from local.bench_processes import function_env
from local.coldstart import CLOSED_PORT, probe_settings

LOADED_LATER = (
    "usage_monitor.messages.render",
    "usage_monitor.messages.problems",
    "usage_monitor.messages.sms",
    "usage_monitor.messages.chat",
    "usage_monitor.reports",
    "usage_monitor.fleet.fanout",
    "aws_lambda_powertools.utilities.batch",
    "aws_xray_sdk",
)
PROBE = (
    "import os, sys, usage_monitor.app\n"
    "from usage_monitor.settings import Settings\n"
    "from usage_monitor.wiring import wire\n"
    "wire(Settings.from_env(os.environ))\n"
    "print('\\n'.join(sorted(sys.modules)))\n"
)


def loaded_after_wiring() -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=function_env(probe_settings(), CLOSED_PORT),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(completed.stdout.split())


def test_wiring_loads_what_every_run_needs_and_nothing_it_needs_only_sometimes() -> None:
    loaded = loaded_after_wiring()
    # What every run uses is there (so the probe really imported and wired the handler) ...
    assert {"usage_monitor.app", "usage_monitor.fleet.monitor", "usage_monitor.messages.figures", "boto3"} <= loaded
    # ... and none of what only some runs use.
    assert sorted(m for m in loaded if m.startswith(LOADED_LATER)) == []

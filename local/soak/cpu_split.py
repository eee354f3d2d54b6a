"""Whose CPU a soak spends: `python -m local.soak.cpu_split SAMPLES` over py-spy's raw samples of a running soak.

The soak is one process (the function, moto, the simulator's server threads and the soak's own bookkeeping
share its GIL), so `py-spy record --gil -f raw -p PID` samples only the thread doing Python work, and each
sample belongs to the deepest frame from a known package: moto's (werkzeug included), the simulator's (its
HTTP server), the soak's (driver, model, ledger, scanner) or the function's (usage_monitor, Powertools,
botocore, urllib3). Standard-library frames (json, threading, email) belong to whoever called them, and the
soak's moto tweaks to whoever called them (moto, or the ledger sizing an item).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

OWNERS = (
    ("moto", ("(moto/", "(werkzeug/")),
    ("soak", ("(local/soak/", "(tests/model/")),
    ("simulator", ("(local/simulator.py", "(local/token_issuer.py", "socketserver.py", "http/server.py")),
    (
        "function",
        (
            "(usage_monitor/",
            "(aws_lambda_powertools/",
            "(botocore/",
            "(boto3/",
            "(urllib3/",
            "(jmespath/",
            "(aws_xray_sdk/",
            "(s3transfer/",
            "http/client.py",
        ),
    ),
)
TRANSPARENT = ("local/soak/mototweaks.py",)


def owner(frames: list[str]) -> str:
    for frame in reversed(frames):
        if any(part in frame for part in TRANSPARENT):
            continue
        for name, parts in OWNERS:
            if any(part in frame for part in parts):
                return name
    return "other"


def split(lines: Iterable[str]) -> Counter[str]:
    """Samples per owner, from py-spy's raw format (`frame;frame;... count` a line)."""
    counts: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if stack:
            counts[owner(stack.split(";"))] += int(count)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.soak.cpu_split", description=__doc__)
    parser.add_argument("samples", type=Path, help="py-spy record --gil -f raw output")
    args = parser.parse_args(argv)
    counts = split(args.samples.read_text().splitlines())
    total = sum(counts.values())
    for name, count in counts.most_common():
        print(f"{name:<10} {count:>8} samples {100 * count / total:6.1f} %")


if __name__ == "__main__":
    main()

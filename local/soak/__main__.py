"""`python -m local.soak [--days N] [--licenses N]`: run the soak, print invariants and costs, write the page.

Exit status 1 when any invariant fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from local.aws import ROOT
from local.soak import DEFAULT_DAYS, DEFAULT_LICENSES

PAGE = ROOT / "build" / "soak" / "year.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.soak", description=__doc__)
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help=f"simulated days (default {DEFAULT_DAYS})")
    parser.add_argument(
        "--licenses", type=int, default=DEFAULT_LICENSES, help=f"fleet size (default {DEFAULT_LICENSES})"
    )
    parser.add_argument("--html", type=Path, default=PAGE, help=f"the chart page (default {PAGE})")
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="skip the three tracemalloc windows (their runs are many times slower): for timing a span of days",
    )
    args = parser.parse_args(argv)
    if args.days < 1 or args.licenses < 1:
        parser.error("--days and --licenses must be at least 1")
    result = run_soak(args.days, args.licenses, args.html, progress=True, trace_memory=not args.no_tracemalloc)
    return 0 if result else 1


def run_soak(days: int, licenses: int, html: Path | None, *, progress: bool = False, trace_memory: bool = True) -> bool:
    """Run, print the report on the real stdout, write the page; True when every invariant holds."""
    import os

    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "leegality-usage-monitor")
    from local.soak.driver import Soak
    from local.soak.oracle import judge
    from local.soak.page import write_page
    from local.soak.report import render

    out = sys.__stdout__ or sys.stdout
    soak = Soak(days, licenses, measure_memory=trace_memory)
    last = [time.perf_counter(), time.process_time()]

    def tick(done: int, total: int) -> None:
        """Each simulated day's wall and CPU seconds and the RSS after it: where a slowdown or a leak starts."""
        if progress:
            wall, cpu = time.perf_counter(), time.process_time()
            rss = soak.vitals.rss[-1][1] / 1e6 if soak.vitals.rss else 0.0
            print(
                f"  day {done // 96}/{total // 96}: {wall - last[0]:.1f} s wall, {cpu - last[1]:.1f} s CPU, "
                f"RSS {rss:,.0f} MB",
                file=sys.__stderr__ or sys.stderr,
                flush=True,
            )
            last[:] = [wall, cpu]

    record = soak.run(tick)
    verdict = judge(record, soak.schedule, len(soak.scanner.leaks))
    print(render(soak, record, verdict), file=out, flush=True)
    if html is not None:
        write_page(html, soak, record)
        print(f"\nChart: {html}", file=out, flush=True)
    return verdict.ok


if __name__ == "__main__":
    sys.exit(main())

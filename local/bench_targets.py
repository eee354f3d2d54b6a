"""The benchmark's targets: one PASS / FAIL / SKIP line each, from the measured figures."""

from __future__ import annotations

from local.bench_report import mib, total_calls
from local.bench_scenarios import Options, SizeResult
from local.coldstart import ImportTimes, cold_start_targets

TARGET_STEADY_CALLS = 0.1  # AWS API calls per license, steady state
TARGET_RSS_MIB = 128.0  # peak RSS at N = 10,000
TARGET_RSS_AT = 10_000
TARGET_EFFICIENCY = 0.9  # N·L/C / wall, steady run at the largest N


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def target_lines(results: list[SizeResult], imports: ImportTimes, options: Options) -> tuple[list[str], bool]:
    lines = []
    outcomes = []
    steady = [
        (total_calls(r.scenarios[s].runs[1]) / r.n, r.n, s)
        for r in results
        for s in ("latency", "alerts")
        if s in r.scenarios
    ]
    worst_calls, worst_n, _ = max(steady)
    ok = worst_calls <= TARGET_STEADY_CALLS
    outcomes.append(ok)
    per_n = ", ".join(f"{total_calls(r.scenarios['latency'].runs[1]) / r.n:.4f} at N={r.n:,}" for r in results)
    lines.append(
        f"  {verdict(ok)}  steady-state AWS API calls ≤ {TARGET_STEADY_CALLS} per license: "
        f"worst {worst_calls:.4f} (N={worst_n:,}); {per_n}"
    )
    at_target = [r for r in results if r.n == TARGET_RSS_AT]
    if at_target:
        r = at_target[0]
        peak = max(mib(run["rss_hwm_kb"]) for s in r.scenarios.values() for run in s.runs)
        ok = peak <= TARGET_RSS_MIB
        outcomes.append(ok)
        lines.append(
            f"  {verdict(ok)}  peak RSS ≤ {TARGET_RSS_MIB:g} MiB at N={TARGET_RSS_AT:,}: {peak:.1f} MiB "
            "(highest of all its runs)"
        )
    else:
        lines.append(f"  SKIP  peak RSS ≤ {TARGET_RSS_MIB:g} MiB at N={TARGET_RSS_AT:,}: that size was not run")
    for ok, text in cold_start_targets(imports):
        outcomes.append(ok)
        lines.append(f"  {verdict(ok)}  {text}")
    largest = max(results, key=lambda r: r.n)
    bound = largest.n * options.latency / options.concurrency
    efficiency = bound / largest.scenarios["latency"].runs[1]["wall_s"]
    ok = efficiency >= TARGET_EFFICIENCY
    outcomes.append(ok)
    lines.append(
        f"  {verdict(ok)}  efficiency N·L/C ÷ wall ≥ {TARGET_EFFICIENCY} (steady run, N={largest.n:,}): "
        f"{efficiency:.3f}"
    )
    return lines, all(outcomes)

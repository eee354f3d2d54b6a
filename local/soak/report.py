"""The soak's printed result: invariants, the calls it made, what a month costs, memory and storage."""

from __future__ import annotations

from collections import Counter
from typing import Any

from local.soak.costs import LAMBDA_MEMORY_GB, MONTH_DAYS, PRICES, PRICES_DATE, PRICES_REGION, scaled_month
from local.soak.driver import Record, Soak
from local.soak.oracle import Verdict

FLEETS = (10, 100, 1000)
SMS_SEVERITIES = frozenset({"critical"})  # template.yaml's SMS filter policy with its defaults


def measured(soak: Soak, record: Record) -> tuple[dict[str, float], dict[str, float]]:
    """(per run, per license-month) figures from what the soak counted."""
    runs = len(record.run_seconds)
    license_months = soak.count * record.days / MONTH_DAYS
    calls = soak.ledger.calls
    sms = sum(1 for s in record.sent if s.severity in SMS_SEVERITIES and s.event_type != "digest")
    per_run = {
        "s3_gets": calls["s3 GetObject"] / runs,
        "secret_calls": calls["secretsmanager GetSecretValue"] / runs,
        "custom_metrics": float(len(soak.vitals.metric_names)),
    }
    per_license_month = {
        "write_units": soak.ledger.write_units / license_months,
        "read_units": soak.ledger.read_units / license_months,
        "gb_seconds": sum(record.run_seconds) * LAMBDA_MEMORY_GB / license_months,
        "publishes": len(record.sent) / license_months,
        "sms_segments": sms / license_months,
        "log_bytes": soak.vitals.log_bytes / license_months,
        # Storage after a year: the snapshots kept per license, scaled to 365 days when the soak was shorter.
        "stored_bytes_after_year": soak.vitals.stored_bytes / soak.count * min(365 / record.days, 400 / record.days),
    }
    return per_run, per_license_month


def render(soak: Soak, record: Record, verdict: Verdict) -> str:
    runs = len(record.run_seconds)
    lines = [
        f"A year in a box: {record.days} simulated days, {soak.count} licenses, {soak.schedule.runs()} scheduled "
        f"runs (every 15 minutes; {runs} invocations with the digests and a redelivery), "
        f"{record.wall_seconds:.0f} s on this machine",
        "",
        "Invariants (each must be 0)",
    ]
    lines += [f"  {name:<42} {value}" for name, value in verdict.failures.items()]
    lines += [
        f"  (matched {verdict.matched} notifications; {verdict.late} late, each while SNS was down or after a "
        f"killed run, delivered in the run after; {len(record.sent)} messages published)",
    ]
    for run, expected in verdict.missed[:10]:
        lines.append(f"  missed: run {run}: {expected.license_id} {expected.event_type} {expected.severity}")
    for sent in verdict.extra[:10]:
        lines.append(f"  extra: run {sent.run} ({sent.at:%Y-%m-%d %H:%M}): {sent.license_id} {sent.subject}")
    lines += [f"  run-level: {problem}" for problem in verdict.run_level_missing]
    lines += ["", "AWS calls the function made (botocore hook), per invocation and per license-month"]
    license_months = soak.count * record.days / MONTH_DAYS
    for name, count in sorted(soak.ledger.calls.items()):
        lines.append(f"  {name:<40} {count:>9}  {count / runs:8.3f} /run  {count / license_months:9.1f} /license-month")
    token_calls = soak.simulator.tokens.request_count
    lines.append(f"  {'token endpoint POSTs (simulator)':<40} {token_calls:>9}  {token_calls / runs:8.3f} /run")
    by_type = Counter(f"{s.event_type}/{s.severity}" for s in record.sent)
    lines.append("  SNS publishes by type: " + ", ".join(f"{k} {v}" for k, v in sorted(by_type.items())))
    lines.append(
        f"  DynamoDB units: {soak.ledger.write_units:,.0f} write, {soak.ledger.read_units:,.1f} read "
        f"({soak.ledger.read_units / license_months:,.1f} read / license-month); "
        f"throttled attempts retried: {soak.faults.throttled}"
    )
    seconds = sorted(record.run_seconds)
    lines.append(
        f"  Lambda: {runs} runs, median {seconds[len(seconds) // 2] * 1000:.0f} ms, p99 "
        f"{seconds[int(len(seconds) * 0.99)] * 1000:.0f} ms (in-process moto and simulator), "
        f"{sum(seconds) * LAMBDA_MEMORY_GB:,.1f} GB-s at 256 MB"
    )
    vitals = soak.vitals
    lines += [
        "",
        f"Storage at the end (TTL applied daily): {vitals.stored_items:,} items, {vitals.stored_bytes / 1e6:,.2f} MB "
        f"({vitals.stored_bytes / soak.count / 1e6:,.2f} MB per license; snapshots are kept 400 days)",
        f"Memory: RSS {vitals.rss[0][1] / 1e6:,.0f} MB after the first run, {vitals.rss[-1][1] / 1e6:,.0f} MB at the "
        f"end, slope over the second half {vitals.rss_slope():+,.0f} bytes/run (includes moto's growing table)",
    ]
    for start, kept in vitals.retained:
        lines.append(f"  tracemalloc from run {start}: {kept:+,.0f} bytes kept per run by the function's code")
    lines += ["", _cost_table(soak, record)]
    return "\n".join(lines)


def _cost_table(soak: Soak, record: Record) -> str:
    per_run, per_license_month = measured(soak, record)
    months = [scaled_month(per_run, per_license_month, n) for n in FLEETS]
    costs = [m.costs() for m in months]
    head = f"Monthly cost, USD, {PRICES_REGION} on-demand list prices of {PRICES_DATE}"
    lines = [
        head,
        f"(per-license figures measured on {soak.count} licenses over {record.days} days and extrapolated "
        "linearly per license-month; per-run figures times 2,922 runs a month)",
        f"  {'item':<34}" + "".join(f"{n:>12,} lic" for n in FLEETS),
    ]
    for item in costs[0]:
        lines.append(f"  {item:<34}" + "".join(f"{c[item]:>16.2f}" for c in costs))
    lines.append(f"  {'total':<34}" + "".join(f"{sum(c.values()):>16.2f}" for c in costs))
    lines.append("Prices: " + "; ".join(f"{k} {v[0]:.3g} {v[1]} ({v[2]})" for k, v in PRICES.items()))
    return "\n".join(lines)


def summary_numbers(soak: Soak, record: Record, verdict: Verdict) -> dict[str, Any]:
    return {"failures": verdict.failures, "matched": verdict.matched, "sent": len(record.sent)}

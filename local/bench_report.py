"""The benchmark's printed report: plain-text tables of wall time, CPU, AWS calls, the dispatcher, the
helper processes and the cold start, from the scenarios' results."""

from __future__ import annotations

import os
import sys
from typing import Any

from local.bench_scenarios import FANOUT_CHUNK_SIZE, Options, SizeResult
from local.coldstart import ImportTimes, cold_start_lines

SECRET_STRING_LIMIT = 65_536  # Secrets Manager's SecretString quota, which moto does not enforce


def calls_by_service(run: dict[str, Any]) -> dict[str, int]:
    return {service: int(sum(op[0] for op in ops.values())) for service, ops in run["calls"].items()}


def total_calls(run: dict[str, Any]) -> int:
    return sum(calls_by_service(run).values())


def aws_seconds(run: dict[str, Any]) -> float:
    return sum(float(op[1]) for ops in run["calls"].values() for op in ops.values())


def operations_text(run: dict[str, Any]) -> str:
    parts = []
    for ops in run["calls"].values():
        for operation, (count, _seconds, retries) in sorted(ops.items()):
            parts.append(f"{operation} {int(count)}" + (f" (+{int(retries)} retries)" if retries else ""))
    return " ".join(parts)


def cpu_ms_per_license(run: dict[str, Any], n: int) -> float:
    return (float(run["cpu_user_s"]) + float(run["cpu_sys_s"])) * 1000 / n


def mib(kb: int) -> float:
    return kb / 1024


def table(headers: list[str], rows: list[list[str]], align: str) -> list[str]:
    """`align`: one character per column, `<` or `>`."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        text = "  ".join(c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True))
        return text.rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def render(results: list[SizeResult], imports: ImportTimes, options: Options, partition_query: bool) -> list[str]:
    """Every section but the targets (`bench_targets`), which the caller appends."""
    latency_ms = options.latency * 1000
    c = options.concurrency
    out = [
        "Leegality usage monitor: handler benchmark",
        f"  real handler (usage_monitor.app.lambda_handler) in its own process; moto server and Leegality simulator "
        f"in two others; {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
        f"  L = {latency_ms:g} ms injected per Leegality request, C = MAX_CONCURRENCY = {c}; one secret maps all "
        "N licenses, LICENSE_IDS empty",
        "  logs at WARNING except the 'INFO logs' row (production logs at INFO; there stdout goes to a file)",
        "",
        f"Wall time: L = {latency_ms:g} ms, all licenses healthy; 'steady' = a second run 15 min later, "
        "usage unchanged",
    ]
    rows = []
    for r in results:
        scenario = r.scenarios["latency"]
        bound = r.n * options.latency / c
        for run in scenario.runs:
            checks = run["checks"]
            rows.append(
                [
                    f"{r.n:,}",
                    run["name"],
                    f"{bound:.2f} s",
                    f"{run['wall_s']:.2f} s",
                    f"{bound / run['wall_s']:.3f}",
                    f"{checks['setup_s']:.2f} s",
                    f"{checks['span_s']:.2f} s",
                    f"{checks['tail_s']:.2f} s",
                    f"{checks['mean_s'] * 1000:.1f} ms",
                    f"{checks['concurrency']:.1f}",
                    f"{aws_seconds(run):.2f} s",
                    f"{mib(run['rss_hwm_kb']):.1f} MiB",
                ]
            )
    out += table(
        [
            "N",
            "run",
            "bound N·L/C",
            "wall",
            "efficiency",
            "set-up",
            "checks",
            "tail",
            "mean check",
            "in flight",
            "AWS time",
            "peak RSS",
        ],
        rows,
        "><>>>>>>>>>>",
    )
    out += [
        "  set-up = handler start → first Leegality request; checks = first request → last response;",
        "  tail = last response → handler return; in flight = mean concurrent checks; AWS time = time inside",
        "  botocore calls (all on the handler's thread; moto's server closes every connection, so each call",
        "  here includes a TCP connect that production's keep-alive avoids); peak RSS = VmHWM of the function",
        "  process (MiB, the unit of Lambda's MemorySize), "
        + ", ".join(f"{mib(r.scenarios['latency'].rss_after_import_kb):.0f}" for r in results)
        + " MiB right after importing the handler.",
        "",
        "CPU: L = 0, user+sys CPU time of the function process (all threads) / N; 'first' includes the first",
        "invocation's wiring (boto3 import, clients), a fixed cost that dominates at small N",
    ]
    rows = []
    for r in results:
        labelled = [(run["name"], run) for run in r.scenarios["cpu"].runs]
        if "alerts" in r.scenarios:
            share = f"{r.busy / r.n:.0%}"
            alert_runs = r.scenarios["alerts"].runs
            labelled += [(f"first, {share} alerting", alert_runs[0]), ("steady after alerts", alert_runs[1])]
        for label, run in labelled:
            rows.append(
                [
                    f"{r.n:,}",
                    label,
                    f"{cpu_ms_per_license(run, r.n):.2f}",
                    f"{run['wall_s']:.2f} s",
                    f"{r.n / run['wall_s']:,.0f}",
                    f"{run['log_bytes'] / r.n:,.0f}",
                    f"{mib(run['rss_hwm_kb']):.1f} MiB",
                ]
            )
    out += table(["N", "run", "CPU ms/license", "wall", "licenses/s", "log bytes/license", "peak RSS"], rows, "><>>>>>")
    out += ["", "AWS API calls per license, by service (counted in the function process around botocore)"]
    rows = []
    services = ("dynamodb", "secretsmanager", "sns")
    for r in results:
        labelled = [
            ("first, healthy", r.scenarios["latency"].runs[0]),
            ("steady, healthy", r.scenarios["latency"].runs[1]),
        ]
        if "alerts" in r.scenarios:
            share = f"{r.busy / r.n:.0%}"
            labelled += [
                (f"first, {share} alerting", r.scenarios["alerts"].runs[0]),
                ("steady after alerts", r.scenarios["alerts"].runs[1]),
            ]
        for label, run in labelled:
            by_service = calls_by_service(run)
            rows.append(
                [
                    f"{r.n:,}",
                    label,
                    *(f"{by_service.get(s, 0) / r.n:.4f}" for s in services),
                    f"{total_calls(run) / r.n:.4f}",
                    operations_text(run),
                ]
            )
    out += table(["N", "run", *services, "total", "calls"], rows, "><>>>><")
    out += [
        "  moto: "
        + (
            "a Query reads only its partition (local.bench_moto), as in DynamoDB"
            if partition_query
            else "plain moto, whose Query sorts the WHOLE table: Query times grow with the table"
        ),
        "",
    ]
    out += dispatcher_lines(results)
    out += simulator_lines(results, options)
    out += secret_lines(results)
    out += ["", *cold_start_lines(imports, options.import_samples)]
    return out


def dispatcher_lines(results: list[SizeResult]) -> list[str]:
    dispatched = [(r, r.dispatcher) for r in results if r.dispatcher is not None]
    if not dispatched:
        return []
    lines = [
        f"Fan-out dispatcher (FANOUT_QUEUE_URL set, chunk {FANOUT_CHUNK_SIZE}): one scheduled run, no license "
        "checked, all queued; AWS calls per license"
    ]
    rows = []
    services = ("dynamodb", "secretsmanager", "sqs")
    for r, scenario in dispatched:
        run, queued = scenario.runs[0], scenario.queued
        assert queued is not None
        by_service = calls_by_service(run)
        rows.append(
            [
                f"{r.n:,}",
                f"{run['wall_s']:.3f} s",
                f"{cpu_ms_per_license(run, r.n):.3f}",
                *(f"{by_service.get(s, 0) / r.n:.4f}" for s in services),
                f"{total_calls(run) / r.n:.4f}",
                operations_text(run),
                f"{queued.approximate_messages:,}",
                f"{queued.license_ids:,}",
                f"{mib(run['rss_hwm_kb']):.1f} MiB",
            ]
        )
    lines += table(
        ["N", "wall", "CPU ms/license", *services, "total", "calls", "chunks sent", "licenses in them", "peak RSS"],
        rows,
        ">>>>>>><>>>",
    )
    lines += [
        "  the function process's first invocation, so wall and CPU include its wiring (boto3 import, clients);",
        "  chunks sent = the work queue's ApproximateNumberOfMessages, licenses in them = read back by",
        "  ReceiveMessage (each once); the Leegality simulator served no request",
        "",
    ]
    return lines


def simulator_lines(results: list[SizeResult], options: Options) -> list[str]:
    lines = ["Simulator and moto (separate processes), CPU busy during the function process's lifetime:"]
    for r in results:
        for scenario in r.scenarios.values():
            expected = r.n * len(scenario.runs)
            served = scenario.simulator_requests
            sim_util = scenario.simulator_cpu_s / scenario.wall_s
            moto_util = scenario.moto_cpu_s / scenario.wall_s
            verdict = ""
            if scenario.latency > 0:
                ok = served == expected and sim_util < 0.5
                verdict = "  → not the bottleneck" if ok else "  → CHECK: may limit the run"
            lines.append(
                f"  N={r.n:>6,}  {scenario.name:<8} L={scenario.latency * 1000:>3g} ms: simulator served "
                f"{served:,} requests (expected {expected:,}), {sim_util:5.1%} of a core; moto {moto_util:5.1%}"
                f"{verdict}"
            )
    return lines


def secret_lines(results: list[SizeResult]) -> list[str]:
    lines = []
    for r in results:
        if r.secret_bytes > SECRET_STRING_LIMIT:
            lines.append(
                f"  NOTE N={r.n:,}: the tokens secret is {r.secret_bytes:,} bytes; Secrets Manager caps a SecretString "
                f"at {SECRET_STRING_LIMIT:,} bytes (moto does not), so this fleet cannot be deployed as one secret"
            )
    return lines

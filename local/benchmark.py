"""`make bench`: the real Lambda handler against the local Leegality simulator, with injected latency.

Three processes, all on 127.0.0.1: a moto server (AWS; `local.bench_moto`), the Leegality simulator
(`local.bench_simulator`) and the function (`local.bench_function`), so the function's CPU time and peak
RSS are its own. For each fleet size N (every license in one tokens secret, LICENSE_IDS empty) it runs:

- latency: L = 100 ms per Leegality request, MAX_CONCURRENCY = C = 16, all licenses healthy; a first
  run and a steady-state run 15 minutes later (usage unchanged, so nothing to alert). Wall time against
  the bound N·L/C, peak RSS, AWS API calls.
- cpu: the same two runs with L = 0, plus a steady run at INFO (production's log level) with stdout to a
  file: user+sys CPU of the function process per license, log bytes per license.
- alerts: L = 0, a share of the licenses above 80% on the first run (alert states created, SNS publish),
  then a steady run: the alert path's AWS calls.
- oauth (local.bench_oauth, its own process): N = 1,000 licenses sharing one OAuth2 client; token
  requests per run (cold, warm, after the server dropped the token) must be one per client.
- dispatcher: FANOUT_QUEUE_URL set (chunks of FANOUT_CHUNK_SIZE = 500), one run: the scheduled handler
  only queues the licenses to SQS (SendMessageBatch); wall, CPU and AWS calls per license, and the
  chunks read back from the queue.

and, in the same run, the cold start (local.coldstart): `import usage_monitor.app` next to a bare
`import boto3`, and import + the first `wire()` next to `import boto3` + one client; and the weekly
digest at N = 1,000 (`local.bench_digest`: AWS calls per license, message size, CPU). It prints
plain-text tables and one PASS/FAIL line per target. Every wait is bounded; nothing leaves 127.0.0.1.

    .venv/bin/python -m local.benchmark [--quick | --sizes 100,1000,10000] [--latency-ms 100]
        [--alert-share 0.05] [--no-info] [--profile DIR] [--keep DIR] [--strict]

`--profile DIR` writes cProfile stats of the largest N's steady runs (the handler's thread only);
`--keep DIR` keeps each function process's raw JSON (per-operation AWS times, check timings, GC time).

This module holds the options and the orchestration; the jobs live beside it: `bench_processes` (moto and
simulator processes), `bench_scenarios` (the runs), `local.coldstart` (cold start), `bench_report` (tables)
and `bench_targets` (PASS/FAIL).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from local.aws import REGION, ROOT
from local.bench_processes import FAKE_AWS, MotoServer, clean_environ, function_env
from local.bench_report import render
from local.bench_scenarios import Options, measure_size, progress
from local.bench_targets import target_lines
from local.coldstart import CLOSED_PORT, measure_imports, probe_settings

DEFAULT_SIZES = (100, 1_000, 10_000)
QUICK_SIZES = (100, 1_000)


# --- what was measured --------------------------------------------------------------------------------


def source_fingerprint() -> str:
    """A hash of the handler's source files, to notice src/ changing while the benchmark runs."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _git(*args: str) -> str:
    # Fixed git subcommands from this file only, no outside input.
    return subprocess.run(  # noqa: S603
        ["git", *args],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout.strip()


def source_description() -> str:
    """`<commit>` or `<commit> + uncommitted changes in src/`, from git when it is there."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.SubprocessError):
        return "(not a git checkout)"
    return f"commit {head}" + (" + uncommitted changes in src/" if dirty else "")


def oauth_lines(n: int = 1000) -> list[str]:
    """The client-credentials scenario, in its own interpreter (it mocks AWS in-process)."""
    done = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "local.bench_oauth", "--n", str(n)],
        cwd=ROOT,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done.stdout.splitlines() or [f"  FAIL  local.bench_oauth exited {done.returncode}: {done.stderr[-300:]}"]


# --- main ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m local.benchmark", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 and 1,000 only")
    parser.add_argument("--sizes", help="comma-separated fleet sizes, e.g. 100,1000,10000")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="latency injected per request (100)")
    parser.add_argument("--concurrency", type=int, default=16, help="MAX_CONCURRENCY (16)")
    parser.add_argument("--alert-share", type=float, default=0.05, help="share alerting in the alert run (0.05)")
    parser.add_argument("--import-samples", type=int, default=5, help="fresh interpreters per import figure (5)")
    parser.add_argument("--no-info", action="store_true", help="skip the INFO-logging CPU run")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the largest N's steady runs here")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--keep", type=Path, help="keep raw results, function stdout and moto's log in this directory")
    args = parser.parse_args(argv)
    if args.sizes:
        sizes = tuple(int(s.replace("_", "").replace(",", "")) for s in args.sizes.split(",") if s.strip())
    else:
        sizes = QUICK_SIZES if args.quick else DEFAULT_SIZES
    if not sizes or min(sizes) < 1 or max(sizes) > 100_000:
        parser.error("sizes must be between 1 and 100,000")
    if not 0 <= args.alert_share <= 1 or not 1 <= args.concurrency <= 256 or not 0 <= args.latency_ms <= 5_000:
        parser.error("--alert-share in [0, 1], --concurrency in [1, 256], --latency-ms in [0, 5000]")
    for directory in (args.profile, args.keep):
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
    return Options(
        sizes=tuple(sorted(set(sizes))),
        latency=args.latency_ms / 1000,
        concurrency=args.concurrency,
        alert_share=args.alert_share,
        import_samples=max(1, args.import_samples),
        info=not args.no_info,
        profile_dir=args.profile.resolve() if args.profile else None,
        strict=args.strict,
        keep_dir=args.keep.resolve() if args.keep else None,
    )


def digest_lines(n: int = 1_000) -> list[str]:
    """The weekly digest's AWS calls per license, message size and CPU (`local.bench_digest`, own process)."""
    progress(f"weekly digest at N = {n:,}")
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "local.bench_digest", "--n", str(n)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_environ(),
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        return [f"Weekly digest: the measurement failed (exit {done.returncode}): {done.stderr.strip()[-500:]}"]
    return done.stdout.strip().splitlines()


def main(argv: list[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    load_before = os.getloadavg()
    source, fingerprint = source_description(), source_fingerprint()
    with tempfile.TemporaryDirectory(prefix="usage-monitor-bench-") as tmp:
        workdir = options.keep_dir or Path(tmp)
        moto = MotoServer(workdir / "moto.log")
        try:
            os.environ.update({**FAKE_AWS, "AWS_ENDPOINT_URL": moto.url})
            import boto3

            session = boto3.session.Session(region_name=REGION)
            results = [measure_size(n, moto, session, options, workdir) for n in options.sizes]
        finally:
            moto.stop()
        progress(f"cold imports ({options.import_samples} samples each)")
        import_env = function_env(probe_settings(), CLOSED_PORT)
        imports = measure_imports(options.import_samples, import_env)
    progress("client-credentials fleet (local.bench_oauth, N = 1,000)")
    oauth = oauth_lines()
    digest = digest_lines()
    load_after = os.getloadavg()
    lines = render(results, imports, options, moto.partition_query)
    targets, all_pass = target_lines(results, imports, options)
    lines += ["", "Targets", *targets]
    lines += ["", *digest]
    lines[4:4] = [
        f"  load average (1 min) at start {load_before[0]:.2f}, at end {load_after[0]:.2f} on {os.cpu_count()} CPUs: "
        "other work on this machine inflates wall times",
        f"  source measured: {source} (src fingerprint {fingerprint})",
    ]
    if source_fingerprint() != fingerprint:
        lines.insert(6, "  WARNING: src/ changed while the benchmark ran; runs may have measured different code")
    lines += ["", *oauth, "", f"Benchmark took {time.perf_counter() - started:.0f} s."]
    all_pass = all_pass and any(line.lstrip().startswith("PASS") for line in oauth)
    print("\n".join(lines))
    if options.profile_dir is not None:
        print(f"cProfile stats (handler thread only) in {options.profile_dir}")
    return 1 if options.strict and not all_pass else 0


if __name__ == "__main__":
    sys.exit(main())

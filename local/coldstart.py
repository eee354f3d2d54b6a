"""Cold start, measured as whole processes: the handler's import and its first wiring next to boto3's own.

Each probe runs in a fresh interpreter (perf_counter and process_time round the code), the probes taking
turns; the figure is the median. Our package is imported from a copy with its bytecode compiled first, as
the build ships it (src/Makefile) and as every dependency's is, so the figure does not depend on what ran
before; one more probe imports a copy without bytecode, which is what every cold start paid before the build
shipped it (Lambda cannot write `__pycache__` into the read-only `/var/task`). `--breakdown` adds what the
handler imports beyond the floor (`-X importtime`, modules the floor does not load) and how much of it is
dataclass creation.

Three targets: `import usage_monitor.app` ≤ 1.5 x `import boto3`, and import + the first `wire()` (boto3, the
clients, idempotency) ≤ 1.3 x `import boto3` + one client, and the same ≤ 1.1 x the floor: boto3, a DynamoDB
and a Secrets Manager client and a urllib3 pool with a TLS context built bare (what any monitor needs before
its first request, without our code or Powertools). `make bench` prints this section; alone (seconds, no
servers):

    .venv/bin/python -m local.coldstart [--samples 9] [--breakdown]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from local.aws import ACCOUNT_ID, REGION, ROOT, LocalStack

PACKAGE = ROOT / "src" / "usage_monitor"
TARGET_IMPORT_RATIO = 1.5  # import usage_monitor.app vs import boto3
TARGET_WIRE_RATIO = 1.3  # import usage_monitor.app + wire() vs import boto3 + one client
TARGET_FLOOR_RATIO = 1.1  # import usage_monitor.app + wire() vs the same clients and pool built bare

BOTO3 = "import boto3"
BOTO3_CLIENT = "import boto3 + one client"
APP = "import usage_monitor.app"
APP_WIRED = "import usage_monitor.app + wire()"
APP_WIRED_SOURCE = "the same, compiled from source (no .pyc)"
FLOOR = "floor: boto3 + 2 clients + urllib3 pool"
IMPORT_PROBES = {
    BOTO3: "import boto3",
    BOTO3_CLIENT: "import boto3; boto3.client('dynamodb')",
    # The least any monitor must do before its first request: what wire() builds, without our code.
    FLOOR: (
        "import boto3, urllib3; from urllib3.util.ssl_ import create_urllib3_context; "
        "s = boto3.session.Session(); s.client('dynamodb'); s.client('secretsmanager'); "
        "urllib3.PoolManager(ssl_context=create_urllib3_context())"
    ),
    APP: "import usage_monitor.app",
    # What the first invocation adds before its first request: boto3, the clients, the idempotency layer.
    APP_WIRED: (
        "import os, usage_monitor.app; from usage_monitor.settings import Settings; "
        "from usage_monitor.wiring import wire; wire(Settings.from_env(os.environ))"
    ),
}
IMPORT_PROBES[APP_WIRED_SOURCE] = IMPORT_PROBES[APP_WIRED]
# Which copy of our package each probe imports (the others import none of it).
SOURCE_PROBES = frozenset({APP_WIRED_SOURCE})
# Each figure and the one it is held against.
RATIOS = (
    (APP, BOTO3, TARGET_IMPORT_RATIO),
    (APP_WIRED, BOTO3_CLIENT, TARGET_WIRE_RATIO),
    (APP_WIRED, FLOOR, TARGET_FLOOR_RATIO),
)


@dataclass
class ImportTimes:
    """Per probe: perf_counter and process_time seconds of each sample, and the load meanwhile."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]
    load: float

    def median(self, label: str, *, cpu: bool = False) -> float:
        return statistics.median((self.cpu if cpu else self.wall)[label])

    def ratio(self, label: str = APP, base: str = BOTO3, *, cpu: bool = False) -> float:
        return self.median(label, cpu=cpu) / self.median(base, cpu=cpu)


CLOSED_PORT = "http://127.0.0.1:9"  # wiring makes no request; nothing listens here anyway


def probe_settings() -> dict[str, str]:
    """The function's settings, naming resources that need not exist: wiring only builds clients."""
    stack = LocalStack(
        table_name="usage-snapshots",
        topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:leegality-usage-alerts",
        queue_url="",
        secret_id="leegality-usage-monitor/tokens",
    )
    return stack.environment(f"{CLOSED_PORT}/api")


@dataclass(frozen=True)
class PackageCopies:
    """Two copies of src/usage_monitor on their own paths: one with bytecode compiled, one without."""

    compiled: Path
    source: Path

    @classmethod
    def make(cls, root: Path) -> PackageCopies:
        copies = cls(root / "compiled", root / "source")
        for path in (copies.compiled, copies.source):
            shutil.copytree(PACKAGE, path / PACKAGE.name, ignore=shutil.ignore_patterns("__pycache__"))
        # The same compile step a dependency gets from pip; quiet, and whatever PYTHONDONTWRITEBYTECODE says.
        compileall.compile_dir(copies.compiled, quiet=1)
        return copies

    def env(self, label: str, env: dict[str, str]) -> dict[str, str]:
        # PYTHONPATH comes before site-packages, so the copy shadows the editable install's src/.
        path = self.source if label in SOURCE_PROBES else self.compiled
        return {**env, "PYTHONPATH": str(path), "PYTHONDONTWRITEBYTECODE": "1"}


def import_seconds(code: str, env: dict[str, str]) -> tuple[float, float]:
    probe = (
        "import time\nt, c = time.perf_counter(), time.process_time()\n"
        f"{code}\nprint(time.perf_counter() - t, time.process_time() - c)"
    )
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    wall, cpu = completed.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def measure_imports(samples: int, env: dict[str, str]) -> ImportTimes:
    """Fresh interpreter per sample, the probes taking turns; one unrecorded warm-up each."""
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        copies = PackageCopies.make(Path(scratch))
        envs = {label: copies.env(label, env) for label in IMPORT_PROBES}
        for label, code in IMPORT_PROBES.items():
            import_seconds(code, envs[label])
        times = ImportTimes({label: [] for label in IMPORT_PROBES}, {label: [] for label in IMPORT_PROBES}, 0.0)
        loads = [os.getloadavg()[0]]
        for _ in range(samples):
            for label, code in IMPORT_PROBES.items():
                wall, cpu = import_seconds(code, envs[label])
                times.wall[label].append(wall)
                times.cpu[label].append(cpu)
            loads.append(os.getloadavg()[0])
    times.load = max(loads)
    return times


# Prints the milliseconds spent creating each dataclass while the handler is imported and wired.
CLASS_TIMER = """
import dataclasses, time
made = []
_process = dataclasses._process_class
def timed(cls, *args, **kwargs):
    started = time.perf_counter()
    try:
        return _process(cls, *args, **kwargs)
    finally:
        made.append((cls.__module__, time.perf_counter() - started))
dataclasses._process_class = timed
{code}
ours = [t for module, t in made if module.startswith("usage_monitor")]
print(sum(ours), len(ours))
"""


def import_self_ms(code: str, env: dict[str, str]) -> dict[str, float]:
    """`-X importtime` self time of each module the code imports, milliseconds."""
    completed = subprocess.run(  # noqa: S603
        [sys.executable, "-X", "importtime", "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    times = {}
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            own, _, name = line.removeprefix("import time:").split("|")
            times[name.strip()] = int(own) / 1000
    return times


def breakdown_lines(samples: int, env: dict[str, str]) -> list[str]:
    """What import + wire() loads beyond the floor, by package (mean of `samples`), and its dataclass creation."""
    groups: dict[str, float] = {}
    classes: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory(prefix="coldstart-") as scratch:
        copies = PackageCopies.make(Path(scratch))
        app_env, floor_env = copies.env(APP_WIRED, env), copies.env(FLOOR, env)
        for _ in range(samples):
            floor = import_self_ms(IMPORT_PROBES[FLOOR], floor_env)
            for name, ms in import_self_ms(IMPORT_PROBES[APP_WIRED], app_env).items():
                if name not in floor:
                    top = name.split(".")[0]
                    group = top if top in ("usage_monitor", "aws_lambda_powertools") else f"other ({top}, ...)"
                    group = "aws_lambda_powertools" if top == "typing_extensions" else group
                    groups[group] = groups.get(group, 0.0) + ms / samples
            timed = subprocess.run(  # noqa: S603
                [sys.executable, "-c", CLASS_TIMER.format(code=IMPORT_PROBES[APP_WIRED])],
                env=app_env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            classes.append((float(timed[0]) * 1000, int(timed[1])))
    made = statistics.mean(ms for ms, _ in classes)
    out = [
        "What import + wire() loads beyond the floor (-X importtime self time of the modules the floor does not"
        f" import, mean of {samples}):"
    ]
    out += [f"  {ms:6.1f} ms  {group}" for group, ms in sorted(groups.items(), key=lambda kv: -kv[1])]
    out.append(f"  {sum(groups.values()):6.1f} ms  in all")
    out.append(
        f"  of which creating usage_monitor's {classes[0][1]} dataclasses (timing dataclasses._process_class):"
        f" {made:.1f} ms"
    )
    return out


def cold_start_lines(imports: ImportTimes, samples: int) -> list[str]:
    """Each figure beside the one it is held against."""
    out = [
        f"Cold start: fresh interpreter per sample, perf_counter round the code, median of {samples}"
        " (CPU = process_time, less sensitive to other load)",
    ]
    for label, base, _ in RATIOS:
        for name in (base, label):
            wall, cpu = imports.median(name), imports.median(name, cpu=True)
            ratio = (
                ""
                if name == base
                else f"{imports.ratio(name, base):5.2f} x   CPU {imports.ratio(name, base, cpu=True):5.2f} x"
            )
            out.append(
                f"  {name:<42} {wall * 1000:6.1f} ms   CPU {cpu * 1000:6.1f} ms  {ratio:<24}"
                f"({', '.join(f'{t * 1000:.0f}' for t in imports.wall[name])} ms)"
            )
    wall, cpu = imports.median(APP_WIRED_SOURCE), imports.median(APP_WIRED_SOURCE, cpu=True)
    out.append(
        f"  {APP_WIRED_SOURCE:<42} {wall * 1000:6.1f} ms   CPU {cpu * 1000:6.1f} ms  "
        f"{imports.ratio(APP_WIRED_SOURCE, FLOOR):5.2f} x the floor "
        f"({', '.join(f'{t * 1000:.0f}' for t in imports.wall[APP_WIRED_SOURCE])} ms)"
    )
    out.append("  (the handler imports boto3 lazily, in wire(): the first invocation pays for it)")
    return out


def cold_start_targets(imports: ImportTimes) -> list[tuple[bool, str]]:
    busy = os.cpu_count() or 1
    results = []
    for label, base, target in RATIOS:
        ratio = imports.ratio(label, base)
        caveat = (
            f"; load average reached {imports.load:.1f} on {busy} CPUs, so wall samples are noisy: "
            f"the CPU-time ratio is {imports.ratio(label, base, cpu=True):.2f}"
            if imports.load > busy
            else ""
        )
        results.append(
            (
                ratio <= target,
                f"{label} ≤ {target} x {base}: {ratio:.2f} x "
                f"({imports.median(label) * 1000:.0f} ms vs {imports.median(base) * 1000:.0f} ms){caveat}",
            )
        )
    return results


def main(argv: list[str] | None = None) -> int:
    from local.bench_processes import function_env

    parser = argparse.ArgumentParser(prog="python -m local.coldstart", description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=9, help="fresh interpreters per figure (9)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--breakdown", action="store_true", help="also what the handler loads beyond the floor")
    args = parser.parse_args(argv)
    samples = max(1, args.samples)
    env = function_env(probe_settings(), CLOSED_PORT)
    imports = measure_imports(samples, env)
    targets = cold_start_targets(imports)
    print("\n".join(cold_start_lines(imports, samples)))
    print("\n".join(f"  {'PASS' if ok else 'FAIL'}  {text}" for ok, text in targets))
    if args.breakdown:
        print("\n".join(breakdown_lines(samples, env)))
    return 1 if args.strict and not all(ok for ok, _ in targets) else 0


if __name__ == "__main__":
    sys.exit(main())

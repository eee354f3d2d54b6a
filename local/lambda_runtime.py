"""The Lambda python3.13 runtime, reproduced without Docker: an interpreter and three directories.

`task` is the function as `make package` builds it, `layer` what the Powertools layer provides
(requirements-layer.txt), `runtime` the boto3/botocore the runtime ships (the version requirements-dev.txt
pins). Wheels are for this machine's platform: the deployed package is arm64, this machine may not be;
every dependency is pure Python or has wheels for both, so the trees hold the same files either way.
"""

from __future__ import annotations

import glob
import hashlib
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from local.aws import ROOT
from local.package import RUNTIME_PACKAGES, build_tree, functions, install

RUNTIME_VERSION = (3, 13)
HOW_TO_GET_ONE = (
    "no Python 3.13 interpreter found (looked for $PYTHON313, python3.13 on PATH and in pyenv); "
    "install one with `pyenv install 3.13` (or your OS's python3.13 package) to run the built artifact test"
)


@dataclass(frozen=True)
class RuntimeTrees:
    task: Path
    layer: Path
    runtime: Path


def candidates() -> list[str]:
    found = [os.environ.get("PYTHON313", ""), shutil.which("python3.13") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found += sorted(glob.glob(f"{pyenv_root}/versions/3.13*/bin/python3.13"), reverse=True)
    found += ["/usr/local/bin/python3.13", "/usr/bin/python3.13"]
    return [c for c in dict.fromkeys(found) if c]


def find_python313() -> str | None:
    """The first interpreter that really is CPython 3.13 (a pyenv shim may exist without the version)."""
    for candidate in candidates():
        try:
            completed = subprocess.run(  # noqa: S603 - a candidate interpreter, fixed arguments
                [candidate, "-I", "-S", "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        if completed.returncode == 0 and completed.stdout.split() == ["cpython", *map(str, RUNTIME_VERSION)]:
            return candidate
    return None


def machine_platform() -> str:
    return "manylinux2014_aarch64" if platform.machine() in ("aarch64", "arm64") else "manylinux2014_x86_64"


def runtime_requirement() -> str:
    """The boto3 pin of requirements-dev.txt: the SDK the tests use stands in for the runtime's."""
    text = (ROOT / "requirements-dev.txt").read_text()
    match = re.search(r"^boto3==\S+", text, re.MULTILINE)
    if match is None:
        raise RuntimeError("requirements-dev.txt pins no boto3==<version>")
    return match.group(0)


def _cached_install(requirements: str, target: Path, wheel_platform: str, *, without: tuple[str, ...] = ()) -> Path:
    """Install once per requirements text and platform; a later run reuses the directory."""
    stamp = hashlib.sha256(f"{wheel_platform}\n{requirements}".encode()).hexdigest()[:16]
    marker = target / ".installed"
    if marker.exists() and marker.read_text() == stamp:
        return target
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    requirements_file = target.parent / f"{target.name}-requirements.txt"
    requirements_file.write_text(requirements)
    install(requirements_file, target, wheel_platform)
    for name in without:
        for path in [target / name, *target.glob(f"{name}-*.dist-info")]:
            shutil.rmtree(path, ignore_errors=True)
    marker.write_text(stamp)
    return target


def build(out: Path, function_name: str = "UsageMonitorFunction") -> RuntimeTrees:
    wheel_platform = machine_platform()
    function = next(f for f in functions() if f.name == function_name)
    task = build_tree(function, out / "task", wheel_platform)
    # The official layer leaves out the SDK the X-Ray SDK depends on: the runtime provides it.
    layer_requirements = (ROOT / "requirements-layer.txt").read_text()
    layer = _cached_install(layer_requirements, out / "layer", wheel_platform, without=RUNTIME_PACKAGES)
    runtime = _cached_install(runtime_requirement() + "\n", out / "runtime", wheel_platform)
    return RuntimeTrees(task, layer, runtime)

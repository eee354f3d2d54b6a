"""`make package`: build each function's code as `sam build` deploys it, print its size, refuse a fat one.

`sam build` (python3.13, arm64) runs src/Makefile's target for each function (our package, its
`requirements.txt` as arm64 wheels for CPython 3.13, and the bytecode Lambda cannot write at a cold start);
this runs the same target, with the same Python 3.13 `sam build` needs, and no Docker. Each function must
stay at most `LIMIT_BYTES` unzipped and must not carry boto3/botocore (the Lambda runtime ships them;
Powertools comes from its official layer, see template.yaml).

    .venv/bin/python -m local.package [--out build/package] [--platform manylinux2014_aarch64]

The same builder makes the trees of the Python 3.13 artifact test (tests/runtime), for this machine's
platform: `build_tree` for the function, `install` for the layer's and the runtime's contents.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from local.aws import ROOT, template

ARM64 = "manylinux2014_aarch64"
PYTHON_VERSION = "3.13"
LIMIT_BYTES = 5_000_000  # 5 MB, unzipped
# The runtime's SDK and its own dependencies: a copy in the function would shadow the runtime's and add ~25 MB.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath")


@dataclass(frozen=True)
class Function:
    name: str
    code_uri: Path
    handler: str


@dataclass(frozen=True)
class Built:
    function: Function
    path: Path
    unzipped_bytes: int
    zipped_bytes: int
    runtime_copies: tuple[str, ...]  # top-level boto3/botocore/... directories found in the package

    @property
    def problems(self) -> list[str]:
        found = []
        if self.unzipped_bytes > LIMIT_BYTES:
            found.append(f"{self.unzipped_bytes:,} bytes unzipped, above the {LIMIT_BYTES:,} limit")
        if self.runtime_copies:
            found.append(f"carries its own {', '.join(self.runtime_copies)} (the Lambda runtime provides them)")
        return found


def functions() -> list[Function]:
    """Every AWS::Serverless::Function of template.yaml, with its CodeUri and handler."""
    resources = template()["Resources"]
    return [
        Function(name, ROOT / str(r["Properties"]["CodeUri"]), str(r["Properties"]["Handler"]))
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
    ]


def install(requirements: Path, target: Path, platform: str) -> None:
    """pip-install `requirements` into `target` as wheels for CPython 3.13 on `platform`, no sdist builds."""
    target.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--requirement",
        str(requirements),
        "--target",
        str(target),
        "--platform",
        platform,
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--upgrade",
    ]
    subprocess.run(command, check=True)  # noqa: S603 - our own interpreter, fixed arguments


def build_tree(function: Function, out: Path, platform: str = ARM64) -> Path:
    """The function's code as `sam build` lays it out: src/Makefile's target for it, run as sam runs it."""
    from local.lambda_runtime import HOW_TO_GET_ONE, find_python313

    python = find_python313()
    if python is None:
        # The Makefile compiles the bytecode Lambda loads, which only Python 3.13 can write; sam build needs it too.
        raise SystemExit(f"building the function needs Python 3.13: {HOW_TO_GET_ONE}")
    target = out / function.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    make = ["make", "--silent", "--no-print-directory", "-C", str(function.code_uri), f"build-{function.name}"]
    variables = [f"ARTIFACTS_DIR={target}", f"PYTHON={python}", f"PLATFORM={platform}"]
    subprocess.run([*make, *variables], check=True)  # noqa: S603 - our Makefile, fixed arguments
    return target


def measure(function: Function, path: Path) -> Built:
    files = sorted(p for p in path.rglob("*") if p.is_file())
    archive = path.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for file in files:
            bundle.write(file, file.relative_to(path))
    copies = tuple(name for name in RUNTIME_PACKAGES if (path / name).is_dir())
    return Built(function, path, sum(f.stat().st_size for f in files), archive.stat().st_size, copies)


def report(built: list[Built]) -> list[str]:
    lines = [f"{'function':<28} {'unzipped':>12} {'zipped':>12}  limit {LIMIT_BYTES / 1e6:g} MB unzipped, no boto3"]
    for b in built:
        verdict = "; ".join(b.problems) or "ok"
        lines.append(
            f"{b.function.name:<28} {b.unzipped_bytes / 1e6:9.2f} MB {b.zipped_bytes / 1e6:9.2f} MB  {verdict}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.package", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "package", help="build/package")
    parser.add_argument("--platform", default=ARM64, help=f"pip wheel platform ({ARM64}, as deployed)")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    built = [measure(f, build_tree(f, out, args.platform)) for f in functions()]
    print("\n".join(report(built)))
    failed = [b for b in built if b.problems]
    if failed:
        print(f"FAIL: {', '.join(b.function.name for b in failed)} over the package limits", file=sys.stderr)
        return 1
    print(f"Built in {out} (the .zip beside each directory is what the size above counts).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Every function is built by src/Makefile, the one recipe `sam build` and `make package` both run."""

from __future__ import annotations

import re

from local.aws import template
from tests.template.conftest import ROOT

MAKEFILE = ROOT / "src" / "Makefile"


def functions() -> dict[str, dict[str, object]]:
    resources = template()["Resources"]
    return {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def makefile_targets() -> set[str]:
    targets: set[str] = set()
    for line in MAKEFILE.read_text().splitlines():
        if match := re.match(r"^([\w .-]+):(?!=)", line):
            targets |= set(match.group(1).split())
    return targets


def test_every_function_is_built_by_its_own_makefile_target() -> None:
    built = functions()
    assert set(built) == {"UsageMonitorFunction", "UsageMonitorWorkerFunction"}
    for name, resource in built.items():
        assert resource["Metadata"]["BuildMethod"] == "makefile", name  # type: ignore[index]
        assert resource["Properties"]["CodeUri"] == "src/", name  # type: ignore[index]
    # sam build fails on a function with no `build-<LogicalId>` target; a stale one would build nothing.
    assert makefile_targets() == {f"build-{name}" for name in built}


def test_the_recipe_compiles_unchecked_bytecode_for_the_runtime_and_architecture_it_installs_wheels_for() -> None:
    recipe = MAKEFILE.read_text()
    function_globals = template()["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert not any("Runtime" in r["Properties"] or "Architectures" in r["Properties"] for r in functions().values())  # type: ignore[operator]
    assert "PYTHON ?= python3.13" in recipe
    assert "--python-version 3.13 --implementation cp" in recipe
    assert "PLATFORM ?= manylinux2014_aarch64" in recipe
    assert "compileall -q -j 0 --invalidation-mode unchecked-hash" in recipe

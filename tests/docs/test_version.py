"""One version number: src/usage_monitor/__init__.py, read by pyproject.toml, the template and the changelog."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

import usage_monitor
from tests.docs.conftest import ROOT
from tests.template.conftest import load_sam_template


def test_the_version_is_semantic():
    assert re.fullmatch(r"\d+\.\d+\.\d+", usage_monitor.__version__)


def test_pyproject_reads_the_version_from_the_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "usage_monitor.__version__"}
    # The installed distribution (pip install -e ., which `make` runs) carries the same number.
    assert metadata.version("leegality-usage-monitor") == usage_monitor.__version__


def test_the_template_publishes_the_same_version():
    application = load_sam_template()["Metadata"]["AWS::ServerlessRepo::Application"]
    assert application["SemanticVersion"] == usage_monitor.__version__


def test_the_newest_changelog_release_is_the_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, re.MULTILINE)
    assert headings[0] == "Unreleased"
    assert headings[1] == usage_monitor.__version__
    dated = rf"^## \[{re.escape(usage_monitor.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$"
    assert re.search(dated, changelog, re.MULTILINE)

"""Powertools comes from the official layer for the functions' runtime and architecture, or is bundled."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from local.package import RUNTIME_PACKAGES
from tests.template.conftest import ROOT

OFFICIAL_LAYER = (
    "arn:${AWS::Partition}:lambda:${AWS::Region}:017000801446:layer:"
    "AWSLambdaPowertoolsPythonV3-python313-arm64:${PowertoolsLayerVersion}"
)
FUNCTIONS = ("UsageMonitorFunction", "UsageMonitorWorkerFunction")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_gets_the_official_layer_a_given_one_or_none(transformed, function):
    properties = transformed["Resources"][function]["Properties"]
    assert properties["Layers"] == {
        "Fn::If": [
            "PowertoolsBundled",
            {"Ref": "AWS::NoValue"},
            [{"Fn::If": ["OfficialPowertoolsLayer", {"Fn::Sub": OFFICIAL_LAYER}, {"Ref": "PowertoolsLayerArn"}]}],
        ]
    }
    assert transformed["Conditions"]["PowertoolsBundled"] == {"Fn::Equals": [{"Ref": "PowertoolsLayerArn"}, "none"]}
    assert transformed["Conditions"]["OfficialPowertoolsLayer"] == {"Fn::Equals": [{"Ref": "PowertoolsLayerArn"}, ""]}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_layer_is_built_for_the_functions_runtime_and_architecture(transformed, function):
    properties = transformed["Resources"][function]["Properties"]
    runtime = properties["Runtime"].replace(".", "")  # python3.13 -> python313, as the layer is named
    (architecture,) = properties["Architectures"]
    assert f"-{runtime}-{architecture}:" in OFFICIAL_LAYER


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        ("none", True),
        ("arn:aws:lambda:me-central-1:123456789012:layer:powertools-python313-arm64:3", True),
        ("arn:aws-cn:lambda:cn-north-1:498634801083:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27", True),
        ("arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64", False),
        ("arn:aws:lambda:eu-west-1:017000801446:layer:*:1", False),
        ("None", False),
    ],
)
def test_layer_arn_parameter_pattern(sam_template, value, accepted):
    pattern = sam_template["Parameters"]["PowertoolsLayerArn"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted


def test_the_function_requirements_leave_powertools_to_the_layer_and_the_sdk_to_the_runtime():
    deployed = (ROOT / "src" / "requirements.txt").read_text().lower()
    for package in ("aws-lambda-powertools", "aws-xray-sdk", *RUNTIME_PACKAGES):
        assert not re.search(rf"^{package}\b", deployed, re.MULTILINE), package
    layer = (ROOT / "requirements-layer.txt").read_text()
    assert re.search(r"^aws-lambda-powertools\[tracer\]==\d+\.\d+\.\d+$", layer, re.MULTILINE)


def _layer_pair() -> dict[str, Any]:
    pair: dict[str, Any] = tomllib.loads((ROOT / "powertools-layer.toml").read_text(encoding="utf-8"))
    return pair


def test_the_default_layer_is_the_documented_pair(sam_template):
    # Given the documented (layer version, release) pair
    layer = _layer_pair()["layer"]
    # Then the template's default official layer is exactly that layer version
    assert sam_template["Parameters"]["PowertoolsLayerVersion"]["Default"] == layer["version"]
    assert OFFICIAL_LAYER.endswith(f":{layer['account']}:layer:{layer['name']}:${{PowertoolsLayerVersion}}")


def test_the_tested_release_is_the_release_the_default_layer_holds():
    # Given the release the documented layer version holds
    release = _layer_pair()["layer"]["release"]
    # Then tests and `make package` install that release, and nothing else pins Powertools
    layer_lines = [
        line.strip()
        for line in (ROOT / "requirements-layer.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert layer_lines == [f"aws-lambda-powertools[tracer]=={release}"]


def test_the_pair_names_where_it_was_read():
    # A Powertools commit whose version file and layer docs agree, or the layer's own description as read
    # with `aws lambda get-layer-version-by-arn` (docs/deployment.md, "Move to a newer layer").
    source = _layer_pair()["source"]
    if "commit" in source:
        assert source["repository"] == "aws-powertools/powertools-lambda-python"
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
        assert source["release_file"]
        assert source["layer_file"]
    else:
        assert "get-layer-version-by-arn" in source["checked_with"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", source["checked_on"])

"""template.yaml's Metadata: what the Serverless Application Repository lists and how the console groups parameters."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.template.conftest import ROOT

SAR = "AWS::ServerlessRepo::Application"
INTERFACE = "AWS::CloudFormation::Interface"
GROUPS = ("Leegality connection", "Delivery", "Alerts", "Schedule", "Scale", "Network", "Advanced")
# What a first deploy has to think about, in the first two groups the console shows.
FIRST_DEPLOY = ("TokensSecretName", "LicenseIds", "AlertEmail", "AlertSmsNumber")


@pytest.fixture(scope="module")
def sar(sam_template):
    return sam_template["Metadata"][SAR]


@pytest.fixture(scope="module")
def interface(sam_template):
    return sam_template["Metadata"][INTERFACE]


def test_sar_metadata_has_every_field_sam_publish_lists(sar):
    assert set(sar) == {
        "Name",
        "Description",
        "Author",
        "SpdxLicenseId",
        "LicenseUrl",
        "ReadmeUrl",
        "Labels",
        "HomePageUrl",
        "SemanticVersion",
        "SourceCodeUrl",
    }
    for value in sar.values():
        # SAR reads the values as written: no intrinsic functions.
        assert isinstance(value, str | list), value


def test_sar_metadata_fits_the_repository_s_rules(sar):
    # Limits from the SAM developer guide's "Metadata section properties" page.
    assert re.fullmatch(r"[a-zA-Z0-9-]{1,140}", sar["Name"])
    assert 1 <= len(sar["Description"]) <= 256
    assert re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", sar["Author"])
    assert len(sar["Author"]) <= 127
    assert 1 <= len(sar["Labels"]) <= 10
    for label in sar["Labels"]:
        assert re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label), label
    assert re.fullmatch(r"\d+\.\d+\.\d+", sar["SemanticVersion"])
    for url in (sar["HomePageUrl"], sar["SourceCodeUrl"]):
        assert url.startswith("https://"), url


def test_sar_license_and_readme_are_files_of_this_repository(sar):
    license_text = (ROOT / sar["LicenseUrl"]).read_text(encoding="utf-8")
    assert sar["SpdxLicenseId"] == "Apache-2.0"
    assert "Apache License" in license_text
    assert "Version 2.0" in license_text
    assert (ROOT / sar["ReadmeUrl"]).read_text(encoding="utf-8").startswith("# ")


def test_every_parameter_is_in_exactly_one_group(sam_template, interface):
    grouped = Counter(name for group in interface["ParameterGroups"] for name in group["Parameters"])
    assert [name for name, count in grouped.items() if count > 1] == []
    assert set(grouped) == set(sam_template["Parameters"])


def test_groups_are_the_agreed_few_with_first_deploy_essentials_first(interface):
    labels = [group["Label"]["default"] for group in interface["ParameterGroups"]]
    assert [label.split(" (")[0] for label in labels] == list(GROUPS)
    connection, delivery = (group["Parameters"] for group in interface["ParameterGroups"][:2])
    assert (*connection[:2], *delivery[:2]) == FIRST_DEPLOY


def test_every_parameter_has_a_short_label(sam_template, interface):
    labels = interface["ParameterLabels"]
    assert set(labels) == set(sam_template["Parameters"])
    for name, label in labels.items():
        assert set(label) == {"default"}, name
        assert 0 < len(label["default"]) <= 60, name

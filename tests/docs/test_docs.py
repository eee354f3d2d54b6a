"""The documentation: links that resolve, a settings table that names every setting, a README that stays short.

Files are read as text, so these tests hold however the package's modules are arranged.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.conftest import ROOT
from tests.template.conftest import load_sam_template

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
README_MAX_LINES = 260

FENCE = re.compile(r"^ *```.*?^ *```[^\n]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *#*$", re.MULTILINE)

# How the code reads a setting: env.get("X"), env("X"), os.environ["X"], os.getenv("X"), or a helper that is
# handed the environment first, as settings.py's _int(env, "X", ...) and _required(env, "X").
ENV_READ = re.compile(
    r"""(?:\b(?:env|environ)\s*(?:\.get\(|\[|\()|\bgetenv\(|\benv\s*,)\s*["']([A-Z][A-Z0-9_]{2,})["']"""
)


def _prose(markdown: str) -> str:
    """The text outside code: fenced blocks and inline code spans removed."""
    return INLINE_CODE.sub("", FENCE.sub("", markdown))


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation (backticks included) dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for _, title in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = github_slug(title)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def relative_links(path: Path) -> list[str]:
    targets = LINK.findall(_prose(path.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def settings_the_code_reads() -> set[str]:
    return {
        name for source in (ROOT / "src").rglob("*.py") for name in ENV_READ.findall(source.read_text(encoding="utf-8"))
    }


def settings_table() -> str:
    """The rows of docs/configuration.md's settings table (the first table after the marker comment)."""
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    after = text.split("<!-- The settings table.", 1)[1]
    rows = re.search(r"^\|.*?(?=\n\n)", after, re.MULTILINE | re.DOTALL)
    assert rows, "no table after the settings-table marker"
    return rows.group(0)


def test_the_readme_is_a_short_landing_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move depth into docs/"


def test_the_docs_pages_exist():
    names = {page.name for page in PAGES}
    expected = {"configuration.md", "alerts.md", "operations.md", "faults.md", "performance.md", "architecture.md"}
    assert expected <= names


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path):
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert broken == []


def test_every_docs_page_is_linked_from_the_readme_and_links_back():
    readme_links = {t.partition("#")[0] for t in relative_links(README)}
    for page in PAGES:
        assert f"docs/{page.name}" in readme_links, f"README.md does not link {page.name}"
        back = {t.partition("#")[0] for t in relative_links(page)}
        assert "../README.md" in back, f"{page.name} does not link the README"


def test_the_readme_shows_a_real_report_and_it_stays_small():
    image = DOCS / "img" / "report.png"
    assert "docs/img/report.png" in relative_links(README)
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.stat().st_size < 300_000


def test_the_scan_finds_the_settings_the_code_reads():
    # Guards the scan itself: if the code changes how it reads settings, this fails rather than passing empty.
    found = settings_the_code_reads()
    assert {"TOKENS_SECRET_ID", "SNAPSHOT_TABLE", "ALERT_TOPIC_ARN", "LEEGALITY_TOKEN"} <= found
    assert len(found) >= 30


def test_every_setting_the_code_reads_is_in_the_configuration_table():
    table = settings_table()
    missing = sorted(name for name in settings_the_code_reads() if f"`{name}`" not in table)
    assert missing == []


def test_every_template_parameter_is_in_the_configuration_table():
    table = settings_table()
    missing = sorted(name for name in load_sam_template()["Parameters"] if f"`{name}`" not in table)
    assert missing == []


def test_every_environment_variable_the_template_sets_is_in_the_configuration_table():
    template = load_sam_template()
    names = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        names |= set(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    table = settings_table()
    assert sorted(name for name in names if f"`{name}`" not in table) == []


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("The `usage-monitor` command", "the-usage-monitor-command"),
        ("Forecasts: when will it run out?", "forecasts-when-will-it-run-out"),
        (
            "What gets deployed: a 0.6 MB function and the Powertools layer",
            "what-gets-deployed-a-06-mb-function-and-the-powertools-layer",
        ),
        ("Large fleets: license list in S3 and fan-out on SQS", "large-fleets-license-list-in-s3-and-fan-out-on-sqs"),
    ],
)
def test_github_slugs(heading, slug):
    assert github_slug(heading) == slug

"""The curl examples of the README and docs/ work as written, the README's configuration table
lists every variable, and the README stays short and its links lead somewhere."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import fakeredis
import pytest

from app import create_app
from config import Config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# The README and the pages under docs/: their curl examples, in reading order.
PAGES = [README, *(path.read_text() for path in sorted((ROOT / "docs").glob("*.md")))]
ADMIN_TOKEN = "readme-token"


def curl_commands() -> list[str]:
    blocks = [b for page in PAGES for b in re.findall(r"```bash\n(.*?)```", page, flags=re.S)]
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip().startswith("curl ")]


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory, demo_artifacts):
    folder = tmp_path_factory.mktemp("readme")
    artifacts = folder / "artifacts"
    shutil.copytree(demo_artifacts, artifacts)  # the demo model, built once for the run
    config = Config(
        feedback_db=f"sqlite:///{folder / 'feedback.db'}",
        artifacts_dir=str(artifacts),
        admin_token=ADMIN_TOKEN,
    )
    return create_app(config, redis_client=fakeredis.FakeRedis())


def test_readme_has_curl_examples_for_every_route():
    paths = {urlsplit(next(a for a in shlex.split(c) if a.startswith("http"))).path for c in curl_commands()}
    for route in (
        "/health",
        "/recommend/content/",
        "/recommend/user/",
        "/recommend/hybrid",
        "/recommend/ab",
        "/feedback",
        "/openapi.json",
        "/metrics",
        "/products/",
    ):
        assert any(p.startswith(route) for p in paths), route


@pytest.mark.parametrize("command", curl_commands())
def test_curl_example_works_on_the_demo_store(demo_app, command):
    args = shlex.split(command.replace("$ADMIN_TOKEN", ADMIN_TOKEN))[1:]
    method, body, url, headers = "GET", None, None, {}
    while args:
        arg = args.pop(0)
        if arg == "-X":
            method = args.pop(0)
        elif arg == "-H":
            name, _, value = args.pop(0).partition(": ")
            headers[name] = value
        elif arg == "-d":
            body = args.pop(0)
        elif arg.startswith("http://localhost:5000"):
            url = arg.removeprefix("http://localhost:5000")
    response = demo_app.test_client().open(
        url, method=method, data=body, content_type="application/json", headers=headers
    )
    assert response.status_code in (200, 201, 202), response.get_data(as_text=True)
    demo_app.extensions["recommender"].reloader.wait(120)


def test_configuration_table_lists_every_variable():
    source = (ROOT / "config.py").read_text()
    variables = set(re.findall(r'"([A-Z][A-Z_]+)"', source.split("def from_env", 1)[1]))
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"\b[A-Z][A-Z_]{2,}\b", section))
    assert variables <= documented, variables - documented


def test_the_readme_is_short_and_its_links_lead_to_pages_that_exist():
    assert len(README) < 12_000
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}"

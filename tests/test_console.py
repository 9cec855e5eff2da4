"""The console in headless Chromium against a real server: what a person sees on each page.

Needs Debian's chromium (/usr/bin/chromium) and the playwright package; skips with the reason
elsewhere, and fails under REQUIRE_SERVICES=1. Screenshots go to test-artifacts/console/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers import service_missing, synthetic_store
from tests.test_integration import start_service, stop_service

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-artifacts" / "console"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
# As the machine's own check starts it: no sandbox as root, nothing reaching out to the network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "console-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("console")
    store = synthetic_store(folder, users=200, products=40)
    api, base = start_service(
        store, folder, f"sqlite:///{folder / 'feedback.db'}", ADMIN_TOKEN=TOKEN, RANKER="false"
    )
    yield base
    stop_service(api)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("playwright is not installed (pip install -r requirements-dev.txt)")
    if not Path(CHROMIUM).exists():
        service_missing(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.errors = errors
    yield opened
    SHOTS.mkdir(parents=True, exist_ok=True)
    opened.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], errors  # no error in the browser's console


def shown(page, path: str) -> None:
    page.wait_for_selector(f'body[data-ready="{path}"]')


def test_the_overview_shows_the_model_the_services_and_the_figures(page, server):
    for _ in range(2):  # a miss, then a hit: the figures have something to show
        page.request.get(f"{server}/recommend/content/S3?top_k=4")
    page.goto(server + "/console")
    shown(page, "/console")
    health = page.inner_text("#health")
    assert "Model version" in health and "Products" in health and "40" in health
    assert "Feedback store" in health and "Cache" in health
    page.errors.clear()  # the 401 of the figures before the token is given: expected here

    page.fill("input[name=token]", "wrong")
    page.click("text=Use token")
    page.wait_for_selector("input[name=token]")  # refused: asked again
    page.click("#rebuild")
    page.wait_for_selector("#reload-status:has-text('refused')")
    page.errors.clear()  # the browser reports the 401s of the wrong token

    page.fill("input[name=token]", TOKEN)
    page.click("text=Use token")
    page.wait_for_selector("#events-chart .recharts-bar-rectangle")
    assert page.inner_text("#default-strategy") == "collaborative"  # RANKER=false here
    assert "RANKER=false" in page.inner_text("#build")
    assert page.locator("#requests-chart .recharts-bar-rectangle").count() >= 3  # routes drawn
    assert page.locator("#latency-chart .recharts-bar-rectangle").count() >= 1
    assert "The cache is off" in page.inner_text("#hit-ratio")  # no Redis for this server


def test_a_product_is_found_by_its_title_and_shows_its_similar_products(page, server):
    page.goto(server + "/console/products")
    shown(page, "/console/products")
    page.fill("input[name=q]", "garden")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("#search-results li.item")
    titles = page.locator("#search-results li.item a").all_inner_texts()
    assert titles and all("garden" in t.lower() for t in titles)
    page.locator("#search-results li.item a").first.click()
    page.wait_for_selector("#similar li.item")
    assert "/console/products/" in page.url
    assert page.inner_text("#product h2") == titles[0]
    assert len(page.locator("#similar li.item").all()) == 10
    assert "Garden" in page.inner_text("#similar")  # like the product: its category's


def test_a_product_page_has_its_own_address(page, server):
    page.goto(server + "/console/products/S3")
    shown(page, "/console/products/S3")
    assert page.inner_text("#product h2").startswith("Books item 3")


def test_a_user_page_shows_history_each_strategy_and_a_live_weight_slider(page, server):
    page.goto(server + "/console/users")
    shown(page, "/console/users")
    page.fill("input[name=user]", "V5")
    page.press("input[name=user]", "Enter")
    shown(page, "/console/users/V5")
    page.errors.clear()  # the 401 before the token is given: a shopper's history is not public
    page.fill("input[name=token]", TOKEN)
    page.click("text=Use token")
    page.wait_for_selector("#history")
    assert len(page.locator("#history tr").all()) > 1
    strategies = page.locator("#strategies section").all()
    assert [s.get_attribute("data-strategy") for s in strategies] == [
        "content",
        "collaborative",
        "hybrid",
        "popularity",
        "ranked",
    ]
    assert all(len(s.locator("li.item").all()) == 10 for s in strategies)
    assert page.inner_text("#variant") in ("content", "hybrid")

    def blend() -> list[str]:
        return page.locator("#blend li.item").evaluate_all("items => items.map(i => i.dataset.product)")

    page.focus("#w-content")
    for key, label in (("Home", "w_content 0.0"), ("End", "w_content 1.0")):  # the slider's ends
        page.keyboard.press(key)
        page.wait_for_selector(f"#weights:has-text('{label}')")
        page.wait_for_timeout(300)
        if key == "Home":
            by_purchases = blend()
    assert blend() != by_purchases  # the slider changes the order


def test_an_unknown_user_is_said_so(page, server):
    page.goto(server + "/console")
    page.evaluate(f"sessionStorage.setItem('adminToken', '{TOKEN}')")
    page.goto(server + "/console/users/nobody-at-all")
    shown(page, "/console/users/nobody-at-all")
    assert "no user" in page.inner_text("main")
    page.errors.clear()  # the 404 of /users/<id> is the browser's console error here, as expected


def test_the_experiment_page_asks_for_the_token_then_shows_the_report(page, server):
    for user in range(12):
        page.request.get(f"{server}/recommend/ab?user_id=shopper{user}")
    page.goto(server + "/console/experiment")
    shown(page, "/console/experiment")
    page.errors.clear()  # the 401 before the token is given
    page.fill("input[name=token]", TOKEN)
    page.click("text=Use token")
    page.wait_for_selector("#report")
    report = page.inner_text("#report")
    assert "content (control)" in report and "hybrid" in report
    assert page.locator("#rate-chart .recharts-scatter-symbol").count() == 2  # a dot per variant
    assert page.locator("#rate-chart .recharts-errorBar").count() == 2  # and its interval

"""The explorer in a real browser (headless Chromium through Selenium) against a real node: every view, its content, screenshots.

Screenshots land in test-artifacts/screenshots (kept as CI artifacts). Skipped when
Chromium or its driver is not installed (``apt-get install chromium chromium-driver``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from protocol.events import ParticipantRegister

from .explorer_world import allocations, build_world
from .framework import REPO, TIMEOUT_FACTOR
from .helpers import Client

pytestmark = pytest.mark.slow

SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def _binary(*names: str) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


@pytest.fixture
def browser(tmp_path: Path):
    chromium, driver_path = _binary("chromium", "chromium-browser", "google-chrome"), _binary("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,1000"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


class Page:
    def __init__(self, driver, url: str) -> None:
        self.driver, self.url = driver, url

    def open(self, fragment: str, *, expect: str, name: str, phone: bool = False) -> str:
        """Load a view, wait until its text shows ``expect``, save a screenshot; the view's text."""
        from selenium.webdriver.support.ui import WebDriverWait

        if phone:
            self.driver.set_window_size(390, 844)
        self.driver.get(f"{self.url}/#{fragment}")
        try:
            WebDriverWait(self.driver, 20 * TIMEOUT_FACTOR).until(lambda d: expect in d.find_element("id", "view").text)
            if phone:  # readable on a phone: nothing wider than the screen but the tables' own scroll boxes
                overflow = self.driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{fragment} is {overflow}px wider than a phone's screen"
        finally:
            self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
            if phone:
                self.driver.set_window_size(1280, 1000)
        return self.text()

    def text(self) -> str:
        return self.driver.find_element("id", "view").text

    def svg_count(self) -> int:
        return len(self.driver.find_elements("css selector", "#view svg"))

    def wait_text(self, expect: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 20 * TIMEOUT_FACTOR).until(lambda d: expect in d.find_element("id", "view").text)

    def wait_badge(self, element_id: str, text: str) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 20 * TIMEOUT_FACTOR).until(lambda d: d.find_element("id", element_id).text == text)

    def errors(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_every_view_shows_the_chain_and_its_market(start_local_node, browser):
    node = start_local_node(allocations=allocations())
    world = build_world(node)
    page = Page(browser, node.url)

    overview = page.open("/", expect="Latest blocks", name="overview")
    assert "Head" in overview and "Finalized" in overview and "Mempool" in overview and "Authorities" in overview
    page.wait_badge("live", "live")  # the page's websocket to the node's feed is open
    newcomer = Client(node)
    registered = newcomer.send(ParticipantRegister("Newcomer Nia", ("consumer",)))
    page.wait_text(registered[:12])  # the live feed put the new event on the page
    assert "Newcomer Nia" in page.text()
    page.driver.save_screenshot(str(SCREENSHOTS / "overview-live.png"))

    blocks = page.open("/blocks", expect="Height", name="blocks")
    assert "Proposer" in blocks and ("older" in blocks) == (node.get("/v1/status")["head_height"] > 25)
    height = node.get(f"/v1/assets/{world.asset}")["asset"]["registered_at"]
    block = page.open(f"/block/{height}", expect=f"Block {height}", name="block")
    assert "Proposer" in block and "Events root" in block and "asset.register" in block and "First light" in block

    event = page.open(f"/event/{world.license}", expect="Inclusion proof", name="event")
    assert "license.purchase" in event and "final" in event
    page.wait_text("✓ leads to the block's events root")

    asset = page.open(f"/asset/{world.asset}", expect="Provenance history", name="asset")
    for text in ("First light", "Royalty split", "Ada Tone 70.0%", "Ben Bass 30.0%", "asset.register", "asset.terms", "in_force", "tune-gen 1.0", "Beat Buddy 2.1"):
        assert text in asset, text
    assert page.svg_count() >= 4, "split, accesses, income and lineage are drawn"
    page.open(f"/asset/{world.asset}", expect="Provenance history", name="asset-phone", phone=True)

    account = page.open(f"/account/{world.ada.did}", expect="Royalties", name="account")
    assert "Ada Tone" in account and "Income by asset" in account and "First light" in account
    assert page.svg_count() >= 2
    statement = node.get(f"/v1/royalties/{world.ada.did}")["totals"]["revenue"]
    points = [element.get_attribute("textContent") for element in page.driver.find_elements("css selector", "#view figure:nth-of-type(2) svg circle title")]
    assert sum(float(point.split(": ")[1].removesuffix(" cr")) for point in points) == statement, points
    buyer = page.open(f"/account/{world.mia.did}", expect="Licenses held", name="account-licenses")
    assert "license.purchase" in buyer and "in_force" in buyer

    app = page.open(f"/lineage/{world.app}", expect="Training data", name="lineage-app")
    assert "Beat Buddy 2.1" in app and "tune-gen" in app and "First light" in app and "Ada Tone" in app
    labels = [element.text for element in page.driver.find_elements("css selector", "#view svg .node text")]
    assert {"app", "model", "asset", "person"} <= set(labels), labels

    page.open(f"/lineage/{world.app}", expect="Training data", name="lineage-app-phone", phone=True)
    page.open(f"/event/{world.license}", expect="Inclusion proof", name="event-phone", phone=True)

    authorities = page.open("/authorities", expect="Blocks signed recently", name="authorities")
    assert "No authority has signed two blocks at one height." in authorities

    found = page.open("/search?q=light", expect="Catalog", name="search")
    assert "First light" in found
    assert "Nothing in the catalog matches." in page.open("/search?q=nomatch", expect="Catalog", name="search-empty")
    assert "Not found" in page.open("/asset/" + "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", expect="Not found", name="not-found")
    page.open("/", expect="Latest blocks", name="overview-phone", phone=True)
    assert not [error for error in page.errors() if "favicon" not in error and "404" not in error], page.errors()


def test_the_explorer_is_served_from_the_package_with_a_strict_policy(start_dev_node):
    import urllib.error
    import urllib.request

    node = start_dev_node()
    with urllib.request.urlopen(node.url + "/", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        page = response.read().decode()
    assert "https://" not in page and "http://" not in page, "nothing is fetched from outside"
    for name in ("app.js", "charts.js", "style.css"):
        with urllib.request.urlopen(f"{node.url}/explorer/{name}", timeout=10) as response:
            assert response.status == 200
    for path in ("/explorer/../config.py", "/explorer/app.py", "/explorer/%2e%2e%2fapp.py"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(node.url + path, timeout=10)
        assert refused.value.code == 404

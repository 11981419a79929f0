"""``scribe serve`` in a real browser (Debian's chromium, driven by Selenium): type, watch, download, write by hand."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver")

from helpers.cli import scribe  # noqa: E402
from helpers.serving import served, wait_for  # noqa: E402
from scribe.writing.document import Scribe  # noqa: E402

BROWSER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not all(BROWSER), reason="Debian's chromium and chromium-driver are not installed")
#: Where the screenshots go when a person wants to look at them (SCRIBE_SCREENSHOTS=folder); else the test's folder.
SHOTS = os.environ.get("SCRIBE_SCREENSHOTS")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium must never fetch a browser or driver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1300,1000"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(BROWSER[1]), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    try:
        yield driver
    finally:
        driver.quit()


def open_page(browser: Any, url: str) -> None:
    """The page, once every style's preview has been drawn (they load one after another)."""
    browser.get(url)
    wait_for(lambda: browser.execute_script(PREVIEWS_SHOWN))


def type_into(browser: Any, element_id: str, text: str) -> None:
    element = browser.find_element("id", element_id)
    element.clear()
    element.send_keys(text)


def shoot(driver: Any, tmp_path: Path, name: str) -> None:
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"{name}.png"))


def test_type_watch_it_being_written_and_download_it(browser: Any, tmp_path: Path) -> None:
    with served() as server:
        open_page(browser, server.url)
        type_into(browser, "text", "Hello from a real browser, on 7 December.")
        browser.find_element("id", "write").click()
        drafts = wait_for(lambda: browser.execute_script(
            "return document.querySelectorAll('svg.drafting polyline[points]').length"))
        assert drafts > 0, "strokes appear while the writing is sampled, before the page is final"
        wait_for(lambda: browser.execute_script("return document.querySelector('svg.final') !== null"))
        assert "Written in" in browser.find_element("id", "status").text
        shoot(browser, tmp_path, "serve-written")
        browser.find_element("css selector", "#downloads a.download-svg").click()
        saved = wait_for(lambda: [path for path in tmp_path.glob("handwriting*.svg")])
        assert saved[0].read_text().startswith("<?xml") and "<path" in saved[0].read_text()


def test_write_a_sample_on_the_pad_and_write_with_it(browser: Any, tmp_path: Path) -> None:
    hand = Scribe().write("the quick brown fox", seed=5, candidates=1).pages[0].lines[0].strokes  # mm, y down
    low = min(stroke[:, 0].min() for stroke in hand), min(stroke[:, 1].min() for stroke in hand)
    strokes = [((stroke - low) * 9 + 20).round(1).tolist() for stroke in hand]  # onto the pad, in its pixels
    with served() as server:
        open_page(browser, server.url)
        type_into(browser, "sample-text", "the quick brown fox")
        browser.execute_script(DRAW, strokes)
        browser.find_element("id", "use-sample").click()
        wait_for(lambda: "Written in" in browser.find_element("id", "status").text, 120)
        assert browser.execute_script("return document.getElementById('style-mine').checked")
        browser.find_element("id", "save-sample").click()  # the style file the page offers, used as a user would
        captured = wait_for(lambda: (tmp_path / "my-hand.json").exists() and (tmp_path / "my-hand.json").read_text())
        result = scribe("write", "Back on the command line.", "-o", str(tmp_path / "mine.svg"),
                        "--style-file", str(tmp_path / "my-hand.json"))
        assert result.returncode == 0 and (tmp_path / "mine.svg").exists(), result.stderr
        assert json.loads(captured)["times_ms"][0][0] == 0, "the pen's timestamps are kept, from its first touch"
        wait_for(lambda: browser.execute_script("return document.querySelector('svg.final path') !== null"))
        browser.execute_script("window.scrollTo(0, 0)")
        shoot(browser, tmp_path, "serve-own-hand")
        warnings = [item.text for item in browser.find_elements("css selector", "#warnings li")]
        assert not [warning for warning in warnings if "hard to read" in warning], warnings  # the hand writes it through


#: Every style's preview has been drawn (they load one after another).
PREVIEWS_SHOWN = ("const images = [...document.querySelectorAll('#style-list img')]; "
                  "return images.length === 12 && images.every(image => image.complete && image.naturalWidth > 0)")
#: Draws ``arguments[0]`` (strokes of [x, y] in the pad's pixels) with pointer events, as a pen would.
DRAW = """
const pad = document.getElementById('pad');
const box = pad.getBoundingClientRect();
const at = ([x, y]) => ({clientX: box.left + x * box.width / pad.width, clientY: box.top + y * box.height / pad.height,
                         pointerId: 1, pointerType: 'pen', bubbles: true});
for (const stroke of arguments[0]) {
  pad.dispatchEvent(new PointerEvent('pointerdown', at(stroke[0])));
  for (const point of stroke.slice(1)) pad.dispatchEvent(new PointerEvent('pointermove', at(point)));
  pad.dispatchEvent(new PointerEvent('pointerup', at(stroke[stroke.length - 1])));
}
"""

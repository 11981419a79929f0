"""Pages that write themselves: the pen's timing, the animated SVG (also in a real browser) and the GIF.

(scribe.writing.animation)
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.plotters import sample_page
from helpers.render import svg_to_png
from scribe.errors import ScribeError
from scribe.writing import animation
from scribe.writing.animation import FINAL_HOLD, GIF_FRAME_TIME, LINE_CHANGE_TIME, page_timing, writing_time
from scribe.writing.document import Document
from scribe.writing.formats import page_png, written_by_scribe
from scribe.writing.layout import PageSetup, fit_to_ink

SVG = "{http://www.w3.org/2000/svg}"
SETUP = PageSetup(size=(120.0, 80.0), margin=10.0)


def document(page=None) -> Document:
    return Document([page or sample_page()], SETUP, lines=[])


def test_the_pen_keeps_the_measured_pace_and_speed_divides_every_time() -> None:
    page = sample_page()
    strokes = page_timing(page, SETUP.x_height_mm)
    starts = [s.times[0] for s in strokes]
    assert starts == sorted(starts) and starts[0] == 0.0
    first = strokes[0]
    steps = np.hypot(*np.diff(first.points, axis=0).T) / SETUP.x_height_mm
    expected = np.cumsum(animation.SEGMENT_TIME + animation.SEGMENT_TIME_PER_X_HEIGHT * steps)
    assert np.allclose(first.times[1:], expected)
    line_two = len(page.lines[0].strokes)
    assert strokes[line_two].times[0] - strokes[line_two - 1].times[-1] == pytest.approx(LINE_CHANGE_TIME)
    jump = np.hypot(*(strokes[1].points[0] - strokes[0].points[-1])) / SETUP.x_height_mm
    lift = strokes[1].times[0] - strokes[0].times[-1]
    assert lift == pytest.approx(animation.LIFT_TIME + animation.LIFT_TIME_PER_X_HEIGHT * jump)
    faster = page_timing(page, SETUP.x_height_mm, speed=2.5)
    assert writing_time(faster) == pytest.approx(writing_time(strokes) / 2.5)


def animations(svg: str) -> list[tuple[ET.Element, ET.Element]]:
    root = ET.fromstring(svg)
    return [(path, path.find(f"{SVG}animate")) for path in root.iter(f"{SVG}path") if path.find(f"{SVG}animate") is not None]


@pytest.mark.parametrize("loop", [True, False])
def test_the_animated_svg_has_one_animation_per_stroke_in_writing_order(loop: bool) -> None:
    page = sample_page()
    svg = document(page).to_svg(animate=True, speed=1.5, loop=loop)
    strokes = page_timing(page, SETUP.x_height_mm, 1.5)
    animated = animations(svg)
    assert len(animated) == len(strokes)
    cycle = writing_time(strokes) + (FINAL_HOLD if loop else 0.0)
    begins = []
    for (_path, animate), stroke in zip(animated, strokes):
        assert float(animate.get("dur").rstrip("s")) == pytest.approx(cycle, abs=1e-3)
        assert (animate.get("repeatCount") == "indefinite") is loop and animate.get("fill") == "freeze"
        keys = [float(k) for k in animate.get("keyTimes").split(";")]
        assert keys[0] == 0.0 and keys[-1] == 1.0 and keys == sorted(keys)
        assert len(keys) == len(animate.get("values").split(";"))
        begins.append(keys[1] * cycle)
        assert keys[1] * cycle == pytest.approx(stroke.times[0], abs=cycle * 1e-5 + 1e-6)
    assert all(b < a for b, a in zip(begins, begins[1:]))  # each stroke starts after the one before


def test_an_animated_svg_shows_the_finished_page_where_nothing_moves() -> None:
    doc = document()
    still = np.array(Image.open(io.BytesIO(svg_to_png(doc.to_svg(), 100))).convert("L"), dtype=float)
    moving = np.array(Image.open(io.BytesIO(svg_to_png(doc.to_svg(animate=True), 100))).convert("L"), dtype=float)
    assert (still < 128).sum() > 500
    assert np.abs(still - moving).max() <= 8  # cairosvg ignores the animation and draws all the ink, solid (not dashed)


def test_the_gif_has_a_frame_per_tick_of_new_ink_and_holds_the_last(tmp_path: Path) -> None:
    page = sample_page()
    data = document(page).render("gif", dpi=100)[0]
    strokes = page_timing(page, SETUP.x_height_mm)
    ticks = animation.gif_frames(strokes)
    with_ink = sum(
        any(s.times[0] <= f * GIF_FRAME_TIME and (f == 0 or s.times[-1] > (f - 1) * GIF_FRAME_TIME) for s in strokes)
        for f in range(ticks)
    )
    image = Image.open(io.BytesIO(data))
    assert image.n_frames == with_ink + 1  # the paper, then every tick that drew something
    assert image.info.get("loop") == 0
    durations = []
    for frame in range(image.n_frames):
        image.seek(frame)
        durations.append(image.info["duration"])
    assert durations[-1] == FINAL_HOLD * 1000
    assert sum(durations[:-1]) == pytest.approx(writing_time(strokes) * 1000, abs=GIF_FRAME_TIME * 1000 * 2)
    image.seek(0)
    assert (np.array(image.convert("L")) == 255).all()  # the empty paper first, to its last (partial) row of pixels
    image.seek(image.n_frames - 1)
    last = np.array(image.convert("L")) < 128
    still = np.array(Image.open(io.BytesIO(svg_to_png(document(page).to_svg(), 100))).convert("L")) < 128
    assert (last & still).sum() > 0.9 * still.sum()  # the last frame is the finished page ...
    near_still = np.zeros_like(still)
    for dy, dx in itertools.product(range(-2, 3), repeat=2):
        near_still |= np.roll(still, (dy, dx), axis=(0, 1))
    assert not (last & ~near_still).any()  # ... and has no ink anywhere else (rows in their order, not interlaced)
    path = tmp_path / "note.gif"
    path.write_bytes(data)
    assert written_by_scribe(path)


def test_the_last_gif_frame_of_a_ruled_page_cropped_to_its_ink_is_its_png() -> None:
    """The paper keeps the cropped page's place on the sheet, so its rules lie where the PNG's do."""
    setup = PageSetup(size=(120.0, 80.0), margin=10.0, ruled=True)
    page = fit_to_ink(sample_page(), setup.margin)
    assert page.origin != (0.0, 0.0)
    image = Image.open(io.BytesIO(Document([page], setup, lines=[]).render("gif", dpi=100)[0]))
    image.seek(image.n_frames - 1)
    last = np.array(image.convert("RGB"), dtype=float)
    still = np.array(Image.open(io.BytesIO(page_png(page, setup, 100))).convert("RGB"), dtype=float)
    assert last.shape == still.shape

    def ruled(pixels: np.ndarray, axis: int) -> list[int]:
        """Rows (axis 1) or columns (axis 0) that are mostly the colour of a rule, bluish or reddish."""
        tinted = np.abs(pixels[..., 2] - pixels[..., 0]) > 30
        return np.flatnonzero(tinted.mean(axis=axis) > 0.5).tolist()

    assert ruled(still, 1) and ruled(still, 0)  # the page shows rules under its lines and the margin's
    assert ruled(last, 1) == ruled(still, 1) and ruled(last, 0) == ruled(still, 0)


def test_a_gif_frame_block_decodes_to_the_pixels_it_was_cut_from() -> None:
    pixels = np.full((50, 60, 4), 255, np.uint8)  # white BGRA
    for row in range(0, 40, 3):  # rows of ink of different lengths: any reordering of rows shows
        pixels[5 + row, 10:15 + row, :3] = 0
    paper = svg_to_png('<svg xmlns="http://www.w3.org/2000/svg" width="60" height="50"><rect width="60" height="50" '
                       'fill="white"/></svg>', 96)
    block = animation._frame(pixels, (8, 3, 58, 48), animation._palette(paper, (1, 1, 1), (0, 0, 0)))
    image = Image.open(io.BytesIO(animation._gif_file(60, 50, [block], [10], loop=False))).convert("L")
    drawn = pixels[..., 1]
    assert np.array_equal(np.array(image)[3:48, 8:58], drawn[3:48, 8:58])


def test_a_gif_that_plays_once_and_one_too_long_to_make(monkeypatch: pytest.MonkeyPatch) -> None:
    once = Image.open(io.BytesIO(document().render("gif", dpi=50, loop=False)[0]))
    assert "loop" not in once.info
    monkeypatch.setattr(animation, "MAX_GIF_FRAMES", 50)
    with pytest.raises(ScribeError, match=r"frames, over 50; write faster \(speed [\d.]+ or more\)"):
        document().render("gif", dpi=50)


def test_animation_options_are_refused_where_they_cannot_apply() -> None:
    with pytest.raises(ScribeError, match="PNG pages cannot move"):
        document().render("png", animate=True)
    with pytest.raises(ScribeError, match="`speed` must be a factor"):
        document().to_svg(animate=True, speed=0)
    with pytest.raises(ScribeError, match="unknown option 'animated'"):
        document().render("svg", animated=True)
    with pytest.raises(ScribeError, match="see-through"):
        Document([sample_page()], PageSetup(size=(120.0, 80.0), background=None), lines=[]).render("gif")


BROWSER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.mark.skipif(not all(BROWSER), reason="Debian's chromium and chromium-driver are not installed")
def test_a_browser_plays_the_animated_svg_from_an_img_tag(tmp_path: Path) -> None:
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium must never fetch a browser or driver
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    page = sample_page()
    (tmp_path / "note.svg").write_text(document(page).to_svg(animate=True, speed=2.0, loop=False))
    (tmp_path / "note.html").write_text('<!doctype html><body style="margin:0"><img id="ink" src="note.svg" width="960"></body>')
    duration = writing_time(page_timing(page, SETUP.x_height_mm, 2.0))
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER[0]
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,700", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(BROWSER[1]), options=options)
    try:
        driver.get((tmp_path / "note.html").as_uri())
        driver.execute_script("return new Promise(done => { const i = document.getElementById('ink'); "
                              "i.complete ? done() : i.onload = done; })")
        loaded = time.monotonic()
        time.sleep(duration / 2)
        mid = _ink(driver.get_screenshot_as_png())
        time.sleep(max(0.0, duration + 1.0 - (time.monotonic() - loaded)))
        end = _ink(driver.get_screenshot_as_png())
    finally:
        driver.quit()
    assert 0.1 * end < mid < 0.9 * end  # half-way: part of the writing
    still = _ink(svg_to_png(document(page).to_svg(), 960 / (120 / 25.4)))
    assert end == pytest.approx(still, rel=0.25)  # at the end: all of it


def _ink(png: bytes) -> int:
    return int((np.array(Image.open(io.BytesIO(png)).convert("L")) < 128).sum())

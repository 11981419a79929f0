"""The plotter, animation and page-fitting outputs of `scribe write`, as a user runs them.

The shipped model writes the plotter file and the GIF, so what is tested is what a user
gets; the rest use a tiny model.
"""

from __future__ import annotations

import io
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.basics import tiny_model_file
from helpers.cli import assert_one_line_error, scribe
from helpers.plotters import run_gcode, to_page
from scribe.writing.document import Scribe
from scribe.writing.layout import PAGE_SIZES
from scribe.writing.plotter import PLOT_PROFILES

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_file(tmp_path_factory.mktemp("model") / "tiny.npz", styles=2)


def png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_shipped_model_to_gcode_stays_on_the_paper_and_reports_travel(tmp_path: Path) -> None:
    target = tmp_path / "card.gcode"
    result = scribe("write", "Dear Ann, see you on 12 May.", "-o", str(target), "--pen-width", "0.8")
    assert result.returncode == 0, result.stderr
    assert "note: --pen-width ignored for gcode" in result.stderr
    assert re.search(r"page 1: \d+ strokes, pen-up travel [\d,]+ mm \([\d,]+ mm in writing order\)", result.stderr)
    settings = PLOT_PROFILES["grbl-servo"]
    drawn, _ = run_gcode(target.read_text(), settings)
    width, height = PAGE_SIZES["a4"]
    on_paper = np.concatenate([to_page(path, height, settings) for path in drawn])
    assert len(drawn) > 15 and (on_paper >= 0).all() and (on_paper[:, 0] <= width).all() and (on_paper[:, 1] <= height).all()


def test_shipped_model_to_gif_is_cropped_to_the_ink_and_writes_itself(tmp_path: Path) -> None:
    target = tmp_path / "note.gif"
    result = scribe("write", "See you soon!", "-o", str(target), "--speed", "3", "--dpi", "100")
    assert result.returncode == 0, result.stderr
    image = Image.open(target)
    assert image.n_frames > 10 and image.size[0] < 210 / 25.4 * 100 and image.size[1] < 300  # not an A4 sheet
    image.seek(image.n_frames // 2)
    half = (np.array(image.convert("L")) < 128).sum()
    image.seek(image.n_frames - 1)
    assert 0 < half < (np.array(image.convert("L")) < 128).sum()


def test_png_and_svg_fit_the_ink_unless_a_paper_is_named(tiny: Path, tmp_path: Path) -> None:
    fitted, sheet = tmp_path / "fitted.png", tmp_path / "sheet.png"
    assert scribe("write", "a short note", "-o", str(fitted), "-m", str(tiny)).returncode == 0
    assert scribe("write", "a short note", "-o", str(sheet), "-m", str(tiny), "--page", "a4").returncode == 0
    assert png_size(sheet) == (1240, 1754)
    assert png_size(fitted)[1] < 400  # one line and its margins, not a sheet
    pdf = tmp_path / "note.pdf"
    assert scribe("write", "a short note", "-o", str(pdf), "-m", str(tiny)).returncode == 0
    assert b"/MediaBox [ 0 0 595" in pdf.read_bytes() or b"/MediaBox [0 0 595" in pdf.read_bytes()  # PDF keeps A4


def test_an_animated_svg_from_the_command_line(tiny: Path, tmp_path: Path) -> None:
    target = tmp_path / "note.svg"
    result = scribe("write", "hello there", "-o", str(target), "-m", str(tiny), "--animate", "--no-loop", "--speed", "2")
    assert result.returncode == 0, result.stderr
    animations = ET.parse(target).getroot().findall(f".//{SVG}animate")
    assert animations and all(a.get("repeatCount") is None for a in animations)


def test_animation_and_plotter_mistakes_are_one_line_errors(tiny: Path, tmp_path: Path) -> None:
    assert_one_line_error(scribe("write", "hi", "-o", str(tmp_path / "a.png"), "-m", str(tiny), "--animate"),
                          "PNG pages cannot move")
    assert_one_line_error(scribe("write", "hi", "-o", str(tmp_path / "a.gcode"), "--plot-profile", "axidraw"),
                          "unknown plot profile 'axidraw'")
    assert_one_line_error(scribe("write", "hi", "-o", str(tmp_path / "a.gif"), "--speed", "1000"), "`speed` must be")
    assert not list(tmp_path.iterdir())


def test_speed_without_an_animation_is_noted_not_refused(tiny: Path, tmp_path: Path) -> None:
    result = scribe("write", "hi", "-o", str(tmp_path / "a.png"), "-m", str(tiny), "--speed", "2")
    assert result.returncode == 0 and "note: --speed ignored for png: only animations move" in result.stderr


def test_gcode_with_pauses_goes_to_standard_output(tiny: Path, tmp_path: Path) -> None:
    profile = tmp_path / "paused.toml"
    profile.write_text('pages = "pause"\n')
    result = scribe("write", "hi", "-o", "-", "-f", "gcode", "-m", str(tiny), "--plot-profile", str(profile))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("; written by scribe, plot profile grbl-servo with paused.toml")


def test_hard_wrapped_text_reflows_unless_lines_are_kept(tiny: Path) -> None:
    text = ("we walked along the river until the light faded and the first lamps of\n"
            "the town came on one by one across the water\n\nlove\nanna")  # the tiny model writes lowercase
    writer = Scribe(tiny)
    reflowed = [line.text for line in writer.write(text).lines]
    kept = [line.text for line in writer.write(text, reflow=False).lines]
    assert reflowed[-2:] == ["love", "anna"] and kept[-2:] == ["love", "anna"]
    assert any("of the town" in line for line in reflowed) and not any("of the town" in line for line in kept)


def test_the_api_saves_every_new_format(tiny: Path, tmp_path: Path) -> None:
    document = Scribe(tiny).write("hello")
    for name in ("x.gcode", "x.hpgl", "x.gif"):
        assert document.save(tmp_path / name) == [tmp_path / name]
    assert document.save(tmp_path / "p.svg", format="plotter-svg") == [tmp_path / "p.svg"]
    assert 'inkscape:groupmode="layer"' in (tmp_path / "p.svg").read_text()
    assert document.animation()._repr_svg_().count("<animate") >= 1
    assert Image.open(io.BytesIO((tmp_path / "x.gif").read_bytes())).n_frames > 1

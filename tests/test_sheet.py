"""`scribe styles`: one labelled row per style, so that a user can pick a hand."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.basics import tiny_model_file
from helpers.cli import assert_one_line_error, scribe
from scribe.errors import ScribeError
from scribe.writing.document import Document, Scribe
from scribe.writing.layout import Label, Page, PageSetup, PlacedLine, fit_to_ink
from scribe.writing.sheet import sheet_styles, style_sheet

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def styled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_file(tmp_path_factory.mktemp("model") / "styled.npz", styles=3)


def test_a_sheet_has_one_row_per_built_in_style_each_named_beside_its_ink(styled: Path) -> None:
    writer = Scribe(styled)
    choices = sheet_styles(writer)
    assert [choice.label for choice in choices] == ["style 0", "style 1", "style 2", "style 3"]
    sheet = style_sheet(writer, choices, "abc def", seed=1)
    (page,) = sheet.pages
    assert [label.text for label in page.labels] == [choice.label for choice in choices]
    tops = [min(stroke[:, 1].min() for stroke in line.strokes) for line in page.lines]
    assert len(page.lines) == 4 and tops == sorted(tops)  # one line per style, in order, one under the other
    ink_left = min(stroke[:, 0].min() for line in page.lines for stroke in line.strokes)
    assert all(label.box[1, 0] < ink_left for label in page.labels)  # every name fits left of the ink
    assert not np.array_equal(sheet.lines[0].offsets, sheet.lines[1].offsets)  # the styles differ


def test_a_vae_sheet_samples_count_styles(tmp_path: Path) -> None:
    writer = Scribe(tiny_model_file(tmp_path / "vae.npz", kind="vae"))
    choices = sheet_styles(writer, 3)
    assert [(c.label, c.style_seed) for c in choices] == [(f"style seed {n}", n) for n in (1, 2, 3)]
    with pytest.raises(ScribeError, match="1 to 64 drawn hands"):
        sheet_styles(writer, 0)


def test_labels_are_drawn_in_svg_png_and_pdf_and_kept_by_cropping() -> None:
    ink = PlacedLine([np.array([[40.0, 20.0], [60.0, 22.0]])])
    page = Page(100.0, 40.0, [ink], labels=[Label(5.0, 21.0, "style <1> & co", 4.0)])
    cropped = fit_to_ink(page, 2.0)
    (label,) = cropped.labels
    assert label.x == pytest.approx(2.0) and label.box[0, 1] >= 0  # the crop starts at the label, not the ink
    document = Document([cropped], PageSetup(), [])
    (text,) = ET.fromstring(document.to_svg()).iter(f"{SVG}text")
    assert text.text == "style <1> & co" and text.get("font-size") == "4"
    pixels = np.asarray(Image.open(io.BytesIO(document.render("png")[0])).convert("L"))
    box = (label.box * pixels.shape[1] / cropped.width).round().astype(int)
    assert (pixels[box[0, 1] : box[1, 1], box[0, 0] : box[1, 0]] < 200).sum() > 20  # printed where the label is
    assert b"/Font" in document.render("pdf")[0]


def test_scribe_styles_writes_a_sheet_and_refuses_what_it_cannot_draw(styled: Path, tmp_path: Path) -> None:
    target = tmp_path / "sheet.png"
    result = scribe("styles", "-o", str(target), "--model", str(styled), "--text", "hello", "--count", "3")
    assert result.returncode == 0, result.stderr
    assert f"wrote {target} (3 styles)" in result.stderr  # three hands drawn from its learned styles
    assert Image.open(target).size[0] > 100
    for wrong, message in ((["-o", str(tmp_path / "sheet.gif")], "SVG, PNG or PDF"), (["-o", "-"], "SVG, PNG or PDF"),
                           (["-o", str(tmp_path / "x.svg"), "--text", "  "], "--text is empty"),
                           (["-o", str(tmp_path / "x.svg"), "--count", "0"], "1 to 64 drawn hands")):
        assert_one_line_error(scribe("styles", *wrong, "--model", str(styled)), message)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sheet.png"]

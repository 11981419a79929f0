"""`scribe write` and the Python API, as a user meets them (with a tiny untrained model)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from helpers.basics import tiny_model_file
from scribe.errors import ScribeError
from scribe.writing.document import Scribe, calibrate_model_file, page_paths
from scribe.writing.layout import PageSetup
from scribe.writing.styles import StyleMix, conditioning_for

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"
LONG_TEXT = "\n".join(["the quick brown fox jumps over the lazy dog"] * 14)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_file(tmp_path_factory.mktemp("model") / "tiny.npz", styles=3)


@pytest.fixture(scope="module")
def scribe(model_path: Path) -> Scribe:
    return Scribe(model_path)


def run_write(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "scribe", "write", *args], input=stdin, capture_output=True, env=env, cwd=cwd, timeout=120
    )


def assert_one_line_error(result: subprocess.CompletedProcess[bytes], *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr.decode()
    for fragment in fragments:
        assert fragment in lines[0]


def pdf_page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", data))


def test_svg_structure_of_a_seeded_document(scribe: Scribe) -> None:
    document = scribe.write("hello world\n\nabc", seed=3)
    root = ET.fromstring(document.to_svg())
    assert root.tag == SVG + "svg"
    assert root.get("width") == "210mm" and root.get("height") == "297mm"
    assert root.get("viewBox").split() == ["0", "0", "210", "297"]
    ink = root.find(f"{SVG}g")
    assert ink.get("fill") == "none" and ink.get("stroke-linecap") == "round" and ink.get("stroke") == "#1b2a6b"
    paths = ink.findall(f"{SVG}path")
    assert len(paths) == 2  # one path per written line, one subpath per stroke
    strokes = sum(int(np.sum(line.offsets[:, 2])) for line in document.lines)
    assert sum(path.get("d").count("M") for path in paths) == strokes
    for path in paths:
        assert not re.search(r"\d\.\d{3}", path.get("d"))  # coordinates rounded
    assert [line.text for line in document.lines] == ["hello world", "abc"]
    assert document._repr_svg_() == document.to_svg()


def test_same_seed_same_bytes_and_another_seed_differs(scribe: Scribe) -> None:
    a = scribe.write("same seed", seed=11).to_svg()
    assert a == scribe.write("same seed", seed=11).to_svg()
    assert a != scribe.write("same seed", seed=12).to_svg()


def test_long_text_wraps_and_flows_onto_pages(scribe: Scribe) -> None:
    setup = PageSetup(size=(120.0, 90.0), margin=10.0, line_spacing=10.0)
    document = scribe.write(LONG_TEXT, setup=setup, seed=1)
    assert len(document.pages) >= 2
    assert len(document.lines) > 14  # every input line wrapped into two or more
    for line in document.lines:
        assert len(line.text) <= 45


def test_styles_are_model_parameters_and_bad_styles_are_refused(scribe: Scribe) -> None:
    assert scribe.styles == [0, 1, 2, 3]
    a = scribe.write("abc", style=1, seed=2).to_svg()
    assert a != scribe.write("abc", style=2, seed=2).to_svg()
    with pytest.raises(ScribeError, match="style 9 does not exist; this model has styles 0 to 3"):
        scribe.write("abc", style=9)


def test_a_style_mix_runs_from_one_hand_to_the_other(scribe: Scribe, tmp_path: Path) -> None:
    """t = 0 and t = 1 are the two styles themselves; in between is a hand of its own."""
    one, four = (scribe.write("abc def", style=style, seed=2).to_svg() for style in (1, 3))
    assert scribe.write("abc def", style_mix=StyleMix(1, 3, 0.0), seed=2).to_svg() == one
    assert scribe.write("abc def", style_mix=StyleMix(1, 3, 1.0), seed=2).to_svg() == four
    assert scribe.write("abc def", style_mix=StyleMix(1, 3, 0.5), seed=2).to_svg() not in (one, four)
    vae = Scribe(tiny_model_file(tmp_path / "vae.npz", kind="vae"))
    for t, seed in ((0.0, 5), (1.0, 9)):
        mixed = vae.write("abc", style_mix=StyleMix(5, 9, t)).to_svg()
        assert mixed == vae.write("abc", style_seed=seed).to_svg()
    for wrong, message in ((StyleMix(1, 3, 1.5), "from 0"), (StyleMix(1, 30, 0.5), "style 30 does not exist"),
                           ((1, 3, 0.5), "must be a StyleMix")):
        with pytest.raises(ScribeError, match=message):
            scribe.write("abc", style_mix=wrong)  # type: ignore[arg-type]
    with pytest.raises(ScribeError, match="choose the hand one way"):
        scribe.write("abc", style=1, style_mix=StyleMix(1, 3, 0.5))


def test_a_vae_style_temperature_moves_the_hand_toward_the_average_one(tmp_path: Path) -> None:
    vae = Scribe(tiny_model_file(tmp_path / "vae.npz", kind="vae"))
    sampled = conditioning_for(vae.model, style_seed=4).vector
    halfway = conditioning_for(vae.model, style_seed=4, temperature=0.5).vector
    assert sampled is not None and halfway is not None
    np.testing.assert_allclose(halfway, 0.5 * sampled, rtol=1e-6)
    average = [vae.write("abc", style_seed=seed, style_temperature=0.0).to_svg() for seed in (4, 9)]
    assert average[0] == average[1]  # at 0 every seed gives the same, average hand
    with pytest.raises(ScribeError, match="from 0 to 3"):
        vae.write("abc", style_temperature=-1.0)
    with pytest.raises(ScribeError, match="give a style seed too"):
        Scribe(tiny_model_file(tmp_path / "writer.npz", styles=3)).write("abc", style_temperature=0.5)


def test_a_style_seed_draws_a_new_hand_from_a_writers_learned_styles(scribe: Scribe, tmp_path: Path) -> None:
    drawn = [conditioning_for(scribe.model, style_seed=seed).vector for seed in (1, 1, 2)]
    assert drawn[0] is not None and drawn[2] is not None
    np.testing.assert_array_equal(drawn[0], drawn[1])
    assert not np.allclose(drawn[0], drawn[2])
    learned = scribe.model.styles
    assert learned is not None
    average = conditioning_for(scribe.model, style_seed=5, temperature=0.0).vector
    np.testing.assert_allclose(average, learned[1:].mean(axis=0), rtol=1e-5, atol=1e-6)  # 0: the mean of the styles
    assert scribe.write("abc", style_seed=1, seed=2).to_svg() != scribe.write("abc", style=0, seed=2).to_svg()
    with pytest.raises(ScribeError, match="no learned writer styles"):
        Scribe(tiny_model_file(tmp_path / "plain.npz")).write("abc", style_seed=1)


def test_characters_outside_the_alphabet_are_substituted_or_refused(scribe: Scribe) -> None:
    document = scribe.write("caf\u00e9 \u201cok\u201d", seed=1)
    assert document.lines[0].text == "cafe ok"  # the tiny alphabet has no quotes: dropped
    assert {s.original for s in document.substitutions} >= {"\u00e9", "\u201c"}
    with pytest.raises(ScribeError, match="U\\+00E9"):
        scribe.write("caf\u00e9", strict=True)


def test_png_pdf_and_svg_files_from_the_command_line(model_path: Path, tmp_path: Path) -> None:
    for name in ("note.svg", "note.png"):
        result = run_write("hello there", "-o", str(tmp_path / name), "--model", str(model_path))
        assert result.returncode == 0, result.stderr.decode()
        assert f"wrote {tmp_path / name}" in result.stderr.decode()
    assert (tmp_path / "note.png").read_bytes().startswith(PNG_SIGNATURE)
    ET.fromstring((tmp_path / "note.svg").read_text())
    text = tmp_path / "long.txt"
    text.write_text(LONG_TEXT)
    result = run_write("--input", str(text), "-o", str(tmp_path / "long.pdf"), "--model", str(model_path), "--page", "120x90")
    assert result.returncode == 0, result.stderr.decode()
    pdf = (tmp_path / "long.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf_page_count(pdf) >= 2
    result = run_write("--input", str(text), "-o", str(tmp_path / "long.png"), "--model", str(model_path), "--page", "120x90")
    pages = {p.name for p in tmp_path.glob("long-*.png")}
    assert result.returncode == 0 and {"long-1.png", "long-2.png"} <= pages and "long.png" not in pages
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_stdin_and_stdout(model_path: Path, tmp_path: Path) -> None:
    piped = run_write("-o", "-", "--format", "svg", "--model", str(model_path), "--seed", "5", stdin=b"from stdin\n")
    assert piped.returncode == 0, piped.stderr.decode()
    assert piped.stdout.startswith(b"<?xml") or piped.stdout.startswith(b"<svg")
    again = run_write("from stdin", "-o", "-", "--model", str(model_path), "--seed", "5")
    assert again.stdout == piped.stdout  # stdin text and argument text write the same bytes
    png = run_write("png to stdout", "-o", "-", "--format", "png", "--model", str(model_path))
    assert png.stdout.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("args", "stdin", "fragments"),
    [
        (["   "], None, ["no text"]),
        ([], b"\n \n", ["no text"]),
        ([], b"caf\xe9\n", ["UTF-8", "stdin"]),
        (["abc", "-o", "out.docx"], None, [".docx", ".svg"]),
        (["abc", "-o", "missing/out.svg"], None, ["missing", "does not exist"]),
        (["abc", "--model", "notes.txt"], None, ["notes.txt"]),
        (["abc", "--page", "b7x"], None, ["b7x"]),
        (["abc", "--bogus"], None, ["--bogus"]),
        (["abc", "--style-mix", "1,2"], None, ["--style-mix '1,2' is not A,B,T"]),
        (["abc", "--style-mix", "1,2,0.5", "--style", "1"], None, ["choose the hand one way"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    args: list[str], stdin: bytes | None, fragments: list[str], model_path: Path, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    full = [*args]
    if "--model" not in full:
        full += ["--model", str(model_path)]
    if "-o" not in full:
        full += ["-o", "out.svg"]
    result = run_write(*full, stdin=stdin if stdin is not None else b"", cwd=tmp_path)
    assert_one_line_error(result, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_page_paths_number_pages() -> None:
    assert page_paths(Path("a/note.png"), 1) == [Path("a/note.png")]
    assert page_paths(Path("a/note.png"), 2) == [Path("a/note-1.png"), Path("a/note-2.png")]


def test_the_package_exports_the_writing_api(model_path: Path, tmp_path: Path) -> None:
    import scribe as package

    document = package.write("abc", model=model_path, seed=1)
    assert isinstance(document, package.Document)
    assert document.save(tmp_path / "a.pdf") == [tmp_path / "a.pdf"]
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")


def test_interactive_prompt_writes_each_entry(model_path: Path, tmp_path: Path) -> None:
    """With no text on a terminal, scribe asks for texts and writes each to its own file."""
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "scribe", "write", "-o", "entry.svg", "--model", str(model_path)],
        stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    os.close(terminal)
    os.write(controller, b"first entry\nsecond entry\n\n")
    _, err = process.communicate(timeout=120)
    os.close(controller)
    assert process.returncode == 0, err.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry-1.svg", "entry-2.svg"]
    assert "text> " in err.decode() and "wrote entry-2.svg" in err.decode()


def test_a_model_file_measures_each_style_width_and_wrapping_uses_it(tmp_path: Path) -> None:
    path = tiny_model_file(tmp_path / "styled.npz", styles=2)
    advances = calibrate_model_file(path)
    styled = Scribe(path)
    assert len(advances) == len(styled.styles) == 3  # "any writer" and the two writers
    assert all(np.isfinite(a) and a > 0 for a in advances)
    assert styled.model.style_advances == pytest.approx(advances, rel=1e-6)
    styled.model.style_advances = [1.0, 4.0, 2.0]  # a narrow hand and a wide one
    text = " ".join(["word"] * 60)
    narrow = styled.write(text, style=0, attempts=1)
    wide = styled.write(text, style=1, attempts=1)
    assert len(wide.lines) > 2 * len(narrow.lines)

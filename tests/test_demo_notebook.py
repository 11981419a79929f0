"""docs/demo.ipynb runs top to bottom on the shipped model, as a user would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "demo.ipynb"


def test_demo_notebook_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shown: list[object] = []
    namespace: dict[str, object] = {"display": shown.append}
    cells = [cell for cell in json.loads(NOTEBOOK.read_text())["cells"] if cell["cell_type"] == "code"]
    for cell in cells:
        exec(compile("".join(cell["source"]), str(NOTEBOOK), "exec"), namespace)
    assert len(shown) == 3 and all(hasattr(doc, "_repr_svg_") for doc in shown)
    assert (tmp_path / "card.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "card.png").is_file() or (tmp_path / "card-1.png").is_file()

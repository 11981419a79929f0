"""The rooms' walls: writing, datasets, ink and the CLI never load PyTorch; the tables agree; the code stays small."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import scribe
from scribe.training.kinds import TRAINING
from scribe.writing.stored import KINDS

PACKAGE = Path(scribe.__file__).parent
#: The only modules that may import PyTorch: the training room (its options module excepted).
TORCH_MODULES = {name for name in (m.name for m in pkgutil.walk_packages([str(PACKAGE)], "scribe."))
                 if name.startswith("scribe.training.") and name != "scribe.training.options"}
MAX_FUNCTION_LINES = 60  # not counting the docstring
MAX_MODULE_LINES = 500


def _function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function from ``def`` to its end, without its docstring."""
    length = (node.end_lineno or node.lineno) - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        length -= (first.end_lineno or first.lineno) - first.lineno + 1
    return length


def test_everything_outside_the_training_room_works_without_torch() -> None:
    every = (m.name for m in pkgutil.walk_packages([str(PACKAGE)], "scribe."))
    modules = sorted(name for name in every if name not in TORCH_MODULES and name != "scribe.__main__")
    assert {"scribe.cli", "scribe.writing.document", "scribe.datasets.split", "scribe.ink.strokes"} <= set(modules)
    code = f"import importlib, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", "a module outside scribe.training imported torch"


def test_every_model_kind_has_its_training_row() -> None:
    assert TRAINING.keys() == KINDS.keys()


def test_test_modules_stay_small_too() -> None:
    tests = Path(__file__).parent
    too_long = [path.name for path in tests.rglob("*.py") if path.read_text(encoding="utf-8").count("\n") > MAX_MODULE_LINES]
    assert not too_long


def test_modules_and_functions_stay_small() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(PACKAGE)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = _function_lines(node)
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)

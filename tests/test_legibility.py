"""`scribe train --kind recognizer`, `scribe eval` of a recognizer, and `scribe legibility` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.basics import tiny_model_file, tiny_options
from scribe.training.checkpoint import load_model
from scribe.training.data import StrokeDataset
from scribe.training.trainer import train


def scribe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scribe", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture
def recognizer(tiny_dataset: Path, tmp_path: Path) -> Path:
    """A tiny recognizer trained for a few steps on the tiny dataset."""
    train(tiny_options(tiny_dataset, tmp_path / "recognizer", kind="recognizer", max_steps=3))
    return tmp_path / "recognizer" / "best.pth"


def test_recognizer_training_keeps_the_checkpoint_with_the_lowest_error_rate(recognizer: Path) -> None:
    log = [json.loads(line) for line in (recognizer.parent / "metrics.jsonl").read_text().splitlines()]
    evals = [record for record in log if record["event"] == "eval"]
    assert evals and all(0 <= record["cer"] and 0 <= record["wer"] for record in evals)
    assert all("ctc_per_char" in record for record in log if record["event"] == "train")
    stored, _ = load_model(recognizer)
    assert stored.kind.name == "recognizer" and stored.config.hidden == 16


def test_eval_of_a_recognizer_reports_its_error_rates(recognizer: Path, tiny_dataset: Path) -> None:
    result = scribe("eval", "--model", str(recognizer), "--data", str(tiny_dataset), "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["sequences"] == 2 and figures["cer"] >= 0 and figures["ctc_per_char"] > 0


def test_legibility_writes_reads_back_and_compares_with_real_ink(recognizer: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    generator = tiny_model_file(tmp_path / "generator.npz")
    common = ["legibility", "--model", str(generator), "--recognizer", str(recognizer), "--data", str(tiny_dataset)]
    as_json = scribe(*common, "--json", "-n", "5")
    assert as_json.returncode == 0, as_json.stderr
    figures = json.loads(as_json.stdout)
    assert figures["texts"] == 2  # the tiny validation split has two lines
    assert figures["generated_cer"] >= 0 and figures["generated_wer"] >= 0
    assert figures["real_cer"] is not None and figures["real_cer"] >= 0
    assert 0 <= figures["generated_folded_cer"] <= figures["generated_cer"]  # folding only forgives
    assert figures["real_folded_cer"] is not None and figures["real_folded_cer"] <= figures["real_cer"]
    assert 0 <= figures["completion_rate"] <= 100
    assert all(set(entry) == {"char", "misread", "occurrences"} for entry in figures["most_misread"])
    text = scribe(*common, "--per-line")
    assert text.returncode == 0, text.stderr
    assert "generated ink: CER" in text.stdout and "real ink:" in text.stdout and "completion:" in text.stdout
    assert "with look-alikes such as 0/o folded" in text.stdout
    assert "text:      dozen jugs" in text.stdout and "text:      liquor" in text.stdout


def test_legibility_of_texts_from_a_file_has_no_real_ink(recognizer: Path, tmp_path: Path) -> None:
    generator = tiny_model_file(tmp_path / "generator.npz")
    texts = tmp_path / "texts.txt"
    texts.write_text("abc\n\nhello there\nzebra\n")
    result = scribe("legibility", "--model", str(generator), "--recognizer", str(recognizer),
                    "--texts", str(texts), "-n", "2", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["texts"] == 2 and figures["real_cer"] is None


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        (("generator", "generator"), "reading ink needs a recognizer"),
        (("recognizer", "recognizer"), "writing needs a model that writes"),
    ],
)
def test_a_model_in_the_wrong_role_is_a_one_line_error(
    roles: tuple[str, str], message: str, recognizer: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    files = {"generator": str(tiny_model_file(tmp_path / "generator.npz")), "recognizer": str(recognizer)}
    result = scribe("legibility", "--model", files[roles[0]], "--recognizer", files[roles[1]],
                    "--data", str(tiny_dataset))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_eval_legibility_points_to_the_legibility_command(tiny_dataset: Path) -> None:
    result = scribe("eval", "--legibility", "--data", str(tiny_dataset))
    assert result.returncode == 1 and "scribe legibility" in result.stderr


def test_legibility_of_the_shipped_models_needs_no_torch(tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("meet me at the station\nthe river was quiet\n")
    no_torch = "import sys; sys.modules['torch'] = None; from scribe.cli import main; sys.argv[0] = 'scribe'; main()"
    result = subprocess.run([sys.executable, "-c", no_torch, "legibility", "--texts", str(texts), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["texts"] == 2 and figures["generated_cer"] < 20.0 and figures["completion_rate"] == 100.0


def test_characters_a_model_cannot_write_count_as_misread(tmp_path: Path) -> None:
    from scribe.writing.legibility import measure_legibility
    from scribe.writing.network import load_inference_model
    from scribe.writing.sampling import SamplingOptions

    class ReadsHello:
        def read(self, lines: list) -> list[str]:
            return ["hello"] * len(lines)

    generator = load_inference_model(tiny_model_file(tmp_path / "generator.npz"))  # writes a-z and space only
    texts = ["hello", "hello!", "#"]
    report = measure_legibility(generator, ReadsHello(), texts, SamplingOptions())  # type: ignore[arg-type]
    assert [line.generated for line in report.lines] == ["hello", "hello", ""], "'#' alone has nothing to write"
    assert report.by_class["punctuation"] == (1, 1) and report.by_class["symbols"] == (1, 1)
    assert report.by_class["lowercase"] == (0, 10)


def test_eval_reads_ink_as_thinly_as_a_recognizer_was_trained_on(recognizer: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    """`scribe eval` thins the lines first when the model records a tolerance, as writing's reader does."""
    dense = StrokeDataset(tiny_dataset, "val")
    thinned = StrokeDataset(tiny_dataset, "val", thin_to=3.0)
    for raw, thin in zip(dense.samples, thinned.samples):
        assert len(thin.offsets) < len(raw.offsets)
    stored, _ = load_model(recognizer)
    figures = {}
    for tolerance in (None, 3.0):
        path = tmp_path / f"reader-{tolerance}.npz"
        replace(stored, simplified_at=tolerance).save(path)
        result = scribe("eval", "--model", str(path), "--data", str(tiny_dataset), "--json")
        assert result.returncode == 0, result.stderr
        figures[tolerance] = json.loads(result.stdout)["ctc_per_char"]
    assert figures[None] != figures[3.0], "the recognizer read the thinned lines"

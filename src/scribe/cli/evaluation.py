"""``scribe eval`` (needs PyTorch) and ``scribe legibility`` (NumPy only): how good a model is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scribe.cli.core import app, bar_when, progress_bars, read_at_most
from scribe.datasets import split_dataset_dir
from scribe.errors import ScribeError
from scribe.training import require_torch
from scribe.training.options import option_default
from scribe.writing.legibility import TEXT_SETS, text_set_path
from scribe.writing.registry import DEFAULT_MODEL, DEFAULT_RECOGNIZER
from scribe.writing.sampling import DEFAULT_BIAS, DEFAULT_CANDIDATES, MAX_CANDIDATES

if TYPE_CHECKING:
    from scribe.training.evaluation import EvalResult
    from scribe.writing.legibility import LegibilityReport

_MODEL_HELP = "Registered model name, model file (.npz) or checkpoint (.pth)."
_DATA_HELP = "Split dataset: a name in the data dir (iam-ondb) or a split folder. [default: the one in the data dir]"


@app.command("eval")
def evaluate_command(
    model: Annotated[str, typer.Option("--model", metavar="NAME|PATH", help=_MODEL_HELP)] = DEFAULT_MODEL,
    data: Annotated[Path | None, typer.Option("--data", "--data-dir", metavar="DIR", help=_DATA_HELP)] = None,
    split_name: Annotated[str, typer.Option("--split", metavar="SPLIT", help="val or test.")] = "val",
    batch_size: Annotated[int, typer.Option("--batch-size", metavar="N", min=1, help="Lines per batch.")] = option_default("batch_size"),
    per_batch: Annotated[bool, typer.Option("--per-batch", help="Print the figures of every batch (handwriting models).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="auto, cpu or cuda.")] = option_default("device"),
    legibility: Annotated[bool, typer.Option("--legibility", hidden=True)] = False,
) -> None:
    """Teacher-forced figures of a model on a split dataset.

    A handwriting model: NLL per point and per sequence, pen-lift accuracy, attention
    alignment, KL (VAE). A recognizer: its character and word error rates on the real
    ink. Whether people could read what a model writes: `scribe legibility`.
    """
    if legibility:
        raise ScribeError("legibility is its own command now: run `scribe legibility` (see `scribe legibility --help`)")
    require_torch()
    from scribe.ink.alphabet import Alphabet
    from scribe.training.checkpoint import load_model
    from scribe.training.data import StrokeDataset
    from scribe.training.evaluation import RecognitionResult
    from scribe.training.kinds import evaluate_network
    from scribe.training.runtime import pick_device
    from scribe.writing.registry import resolve_model

    torch_device = pick_device(device)
    stored, network = load_model(resolve_model(model), torch_device)
    reading = Alphabet(stored.alphabet)
    thin_to = None if stored.kind.writes else stored.simplified_at  # read as writing's reader reads (InkReader)
    dataset = StrokeDataset(split_dataset_dir(data), split_name, alphabet=reading, stats=(stored.mean, stored.std),
                            thin_to=thin_to)

    def show_batch(number: int, batch_result: EvalResult) -> None:
        print(_format_result(batch_result, prefix=f"batch {number + 1}: "), flush=True)

    extra = {"on_batch": show_batch} if per_batch and stored.kind.writes else {}
    result = evaluate_network(stored.kind.name, network, dataset, batch_size=batch_size, device=torch_device, **extra)
    if as_json:
        print(json.dumps(result.to_dict()))
    elif isinstance(result, RecognitionResult):
        print(f"CER {result.cer:.2f}%, WER {result.wer:.2f}%, ctc {result.ctc_per_char:.3f} nats/char [{result.sequences} lines]")
    else:
        print(_format_result(result))


@app.command("legibility")
def legibility_command(
    model: Annotated[str, typer.Option("--model", metavar="NAME|PATH", help=_MODEL_HELP)] = DEFAULT_MODEL,
    recognizer: Annotated[str, typer.Option("--recognizer", metavar="NAME|PATH", help="The recognizer that reads the ink.")] = DEFAULT_RECOGNIZER,
    data: Annotated[Path | None, typer.Option("--data", "--data-dir", metavar="DIR", help=_DATA_HELP)] = None,
    split_name: Annotated[str, typer.Option("--split", metavar="SPLIT", help="Split whose texts (and real ink) are used: val or test.")] = "val",
    texts: Annotated[Path | None, typer.Option("--texts", metavar="FILE|SET", help=f"One text per line to write instead, or a built-in set: {', '.join(TEXT_SETS)}. [default: texts of the --split]")] = None,
    count: Annotated[int, typer.Option("-n", metavar="N", min=1, help="How many texts: drawn at random (with --seed) from the split, or the first N of --texts.")] = 100,
    bias: Annotated[float, typer.Option("--bias", metavar="B", help="Sampling bias.")] = DEFAULT_BIAS,
    style: Annotated[int | None, typer.Option("--style", metavar="N", help="Built-in style. [default: the model's default]")] = None,
    style_seed: Annotated[int | None, typer.Option("--style-seed", metavar="N", help="The hand drawn with this seed, as `scribe write --style-seed`.")] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", min=0, max=2**32 - 1, help="Seed of text choice and sampling.")] = 0,
    candidates: Annotated[int, typer.Option("--candidates", metavar="N", min=1, max=MAX_CANDIDATES, help="Verified writing, as `scribe write --candidates`.")] = DEFAULT_CANDIDATES,
    verifier: Annotated[str, typer.Option("--verifier", metavar="NAME|PATH", help="The recognizer verified writing chooses with, as `scribe write` does.")] = DEFAULT_RECOGNIZER,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    per_line: Annotated[bool, typer.Option("--per-line", help="Print every text and what was read.")] = False,
) -> None:
    """Write texts with a model, read them back with the recognizer, and count the errors.

    The real ink of the same texts, read by the same recognizer, is the yardstick
    (docs/legibility.md).
    """
    from scribe.datasets.meta import dataset_lines
    from scribe.writing.document import Scribe
    from scribe.writing.legibility import measure_legibility
    from scribe.writing.reader import InkReader
    from scribe.writing.registry import resolve_model
    from scribe.writing.sampling import SamplingOptions
    from scribe.writing.styles import conditioning_for

    if count < 1:
        raise ScribeError(f"-n {count}: give at least one text")
    if split_name not in ("val", "test"):
        raise ScribeError(f"--split {split_name}: legibility reads held-out ink, the recognizers trained on the rest; "
                          "use val or test")
    with progress_bars("bytes") as bars:
        writer = Scribe(model, bar_when(bars, f"downloading {model}", 0))
        reader = InkReader.load(resolve_model(recognizer, bar_when(bars, f"downloading {recognizer}", 0)))
        # The same recognizer judging as chose among candidates scores optimistically: the report says which did.
        checker = InkReader.load(resolve_model(verifier, bar_when(bars, f"downloading {verifier}", 0))) \
            if verifier != recognizer and candidates > 1 else None
    if texts is not None:
        chosen, real_lines = _texts_to_write(text_set_path(texts))[:count], None
    else:
        chosen, real_lines = dataset_lines(split_dataset_dir(data), count, seed, split_name)
    options = SamplingOptions(bias=bias, conditioning=conditioning_for(writer.model, style, style_seed))
    with progress_bars("items") as bars:
        report = measure_legibility(writer.model, reader, chosen, options, real_lines=real_lines, seed=seed,
                                    candidates=candidates, verifier=checker, progress=bars("writing", len(chosen)))
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    if per_line:
        for line in report.lines:
            print(f"text:      {line.text}\ngenerated: {line.generated}" + ("" if line.finished else "   [did not end]")
                  + (f"\nreal:      {line.real}" if line.real is not None else "") + "\n")
    _print_legibility(report, model, recognizer, verified_by=verifier if candidates > 1 else None)


def _texts_to_write(path: Path) -> list[str]:
    """The non-empty lines of ``path`` (fitted to the model's alphabet when they are written)."""
    from scribe.ink.text import decode_input

    try:
        with open(path, "rb") as handle:
            data = read_at_most(handle, str(path))
    except OSError as exc:
        raise ScribeError(f"cannot read --texts {path}: {exc.strerror}") from exc
    lines = [line.strip() for line in decode_input(data, str(path)).splitlines()]
    if not any(lines):
        raise ScribeError(f"--texts {path} has no text; give one text per line")
    return [line for line in lines if line]


def _print_legibility(report: LegibilityReport, model: str, recognizer: str, verified_by: str | None) -> None:
    print(f"legibility of {model}, read by {recognizer}, on {len(report.lines)} texts")
    if verified_by is not None:
        print(f"  written with verified writing, candidates chosen by {verified_by}"
              + (" (the same reader: optimistic; give --recognizer another)" if verified_by == recognizer else ""))
    print(f"  generated ink: CER {report.generated_cer:.1f}% ({report.generated_folded_cer:.1f}% with look-alikes "
          f"such as 0/o folded), WER {report.generated_wer:.1f}%")
    if report.real_cer is not None:
        ratio = report.generated_cer / report.real_cer if report.real_cer else float("inf")
        print(f"  real ink:      CER {report.real_cer:.1f}% ({report.real_folded_cer:.1f}% folded), "
              f"WER {report.real_wer:.1f}%  (generated/real CER {ratio:.2f})")
    print(f"  completion:    {report.completion_rate:.1f}% of generated lines ended where their text ends")
    classes = ", ".join(f"{name} {100 * n / total:.1f}% of {total}" for name, (n, total) in report.by_class.items() if total)
    print(f"  misread:       {classes}")
    if report.most_misread:
        shown = ", ".join(f"{char!r} {n}/{total}" for char, n, total in report.most_misread)
        print(f"  most misread:  {shown}")


def _format_result(result: EvalResult, prefix: str = "") -> str:
    text = (
        f"{prefix}pen-lift accuracy {result.pen_lift_accuracy:.2f}%, "
        f"nll {result.nll:.2f} nats per sequence ({result.nll_per_point:.4f} per point), "
        f"alignment error {result.alignment_error:.3f}"
    )
    if result.kl is not None:
        text += f", kl {result.kl:.2f} nats"
    return text + f" [{result.sequences} sequences, {result.points} points]"



"""``scribe train``, ``scribe eval`` and ``scribe export``: the commands that need PyTorch."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from scribe.cli.app import LOG_EVERY, app, bar_when, progress_bars, stderr
from scribe.cli.datasets import resolve_data_dir
from scribe.errors import ScribeError
from scribe.writing.registry import DEFAULT_MODEL, DEFAULT_RECOGNIZER
from scribe.writing.sampling import DEFAULT_BIAS

if TYPE_CHECKING:
    from scribe.training.evaluation import EvalResult
    from scribe.training.legibility import LegibilityReport
    from scribe.training.trainer import TrainEvent, TrainOptions


def _train_options(config: Optional[Path], given: dict) -> TrainOptions:
    """Defaults, then the TOML preset, then the flags given on the command line."""
    from scribe.training.trainer import TrainOptions, option_names, read_preset

    values = read_preset(config) if config is not None else {}
    values.update({k: v for k, v in given.items() if v is not None})
    unknown = set(values) - option_names()
    if unknown:
        raise ScribeError(f"unknown training option(s) {', '.join(sorted(unknown))} in {config}")
    from scribe.training.trainer import MODEL_KINDS

    if values.setdefault("model", "graves") not in MODEL_KINDS:
        raise ScribeError(f"unknown model {values['model']!r}; choose {', '.join(MODEL_KINDS)}")
    values["data_dir"] = resolve_data_dir(values.get("data_dir"))
    values.setdefault("out_dir", Path("runs") / values["model"])
    return TrainOptions(**values)


def _draw_training(progress: Progress) -> Callable[[TrainEvent], None]:
    """Turn training events into a progress bar with loss, speed and ETA, and eval lines."""
    task = progress.add_task("training", total=None, loss="")

    def on_event(event: TrainEvent) -> None:
        if event.kind == "start":
            progress.update(task, total=event.total_steps, completed=event.step)
        elif event.kind == "step":
            status = f"loss {event.loss:.3f}, {event.steps_per_second:.2f} steps/s"
            progress.update(task, completed=event.step, loss=status)
            if not stderr.is_terminal and event.step % LOG_EVERY == 0:  # a log file gets plain lines
                progress.console.print(f"step {event.step}/{event.total_steps}: {status}")
        elif event.kind == "eval" and "cer" in event.metrics:
            m = event.metrics
            progress.console.print(
                f"step {event.step}: val CER {m['cer']:.1f}%, WER {m['wer']:.1f}%, ctc {m['ctc_per_char']:.3f}/char"
            )
        elif event.kind == "eval":
            m = event.metrics
            progress.console.print(
                f"step {event.step}: val nll {m['nll']:.1f} nats/seq ({m['nll_per_point']:.3f}/point), "
                f"pen-lift {m['pen_lift_accuracy']:.1f}%, alignment error {m['alignment_error']:.3f}"
                + (f", kl {m['kl']:.2f}" if "kl" in m else "")
            )
        elif event.kind == "skip":
            progress.console.print(f"warning: {event.message}")

    return on_event


@app.command(name="train")
def train_command(
    model: Annotated[Optional[str], typer.Option("--model", metavar="KIND", help="graves, vae or recognizer. [default: graves]")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", metavar="DIR", help="Split dataset. [default: the one in the data dir]")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", metavar="DIR", help="Checkpoints and metrics. [default: runs/KIND]")] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", metavar="N", help="Passes over the training data. [default: 30]")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", metavar="N", help="Stop after N optimizer steps (instead of --epochs).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", metavar="N", help="Lines per batch. [default: 32]")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", metavar="RATE", help="Adam learning rate. [default: 0.001]")] = None,
    hidden: Annotated[Optional[int], typer.Option("--hidden", metavar="N", help="LSTM size. [default: 400; recognizer 192]")] = None,
    layers: Annotated[Optional[int], typer.Option("--layers", metavar="N", help="LSTM layers. [default: 3; recognizer 2]")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", metavar="FILE", help="TOML preset of training options.")] = None,
    device: Annotated[Optional[str], typer.Option("--device", metavar="DEVICE", help="auto, cpu or cuda. [default: auto]")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", metavar="N", help="Seed of initialization and data order. [default: 0]")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pth exactly where it stopped.")] = False,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", metavar="PATH", help="Start from the weights of this checkpoint (fine-tuning).")] = None,
) -> None:
    """Train the Graves MDN-LSTM, the VAE or the handwriting recognizer on a split dataset.

    Writes OUT/best.pth (lowest validation NLL; for the recognizer, lowest character
    error rate), OUT/last.pth (resumable) and
    OUT/metrics.jsonl. Under torchrun the same command trains with
    DistributedDataParallel (NCCL on GPUs, gloo on CPUs).
    """
    from scribe.training.trainer import train

    given = dict(
        model=model, epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr,
        hidden=hidden, layers=layers, device=device, seed=seed, resume=resume or None,
        data_dir=data, out_dir=out, init_from=init_from,
    )
    options = _train_options(config, given)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[loss]}"), TimeRemainingColumn()]
    is_main = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    with Progress(*columns, console=stderr, disable=not (is_main and stderr.is_terminal), transient=True) as progress:
        state = train(options, _draw_training(progress))
    if is_main:
        best = f"CER {state.best_val:.1f}%" if options.model == "recognizer" else f"nll {state.best_val:.1f} nats/seq"
        stderr.print(f"done at step {state.step}: best validation {best}; {options.out_dir / 'best.pth'}")


@app.command("eval")
def evaluate_command(
    model: Annotated[str, typer.Option("--model", metavar="NAME|PATH", help="Registered model name, model file (.npz) or checkpoint (.pth).")] = DEFAULT_MODEL,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", metavar="DIR", help="Split dataset. [default: the one in the data dir]")] = None,
    split_name: Annotated[str, typer.Option("--split", metavar="SPLIT", help="val or test.")] = "val",
    batch_size: Annotated[int, typer.Option("--batch-size", metavar="N")] = 32,
    per_batch: Annotated[bool, typer.Option("--per-batch", help="Print the figures of every batch.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="auto, cpu or cuda.")] = "auto",
    legibility: Annotated[bool, typer.Option("--legibility", help="Write texts with the model and read them back with the recognizer (CER, WER, completion).")] = False,
    recognizer: Annotated[str, typer.Option("--recognizer", metavar="NAME|PATH", help="With --legibility: the recognizer that reads the ink.")] = DEFAULT_RECOGNIZER,
    texts: Annotated[Optional[Path], typer.Option("--texts", metavar="FILE", help="With --legibility: one text per line to write. [default: texts of the --split]")] = None,
    count: Annotated[int, typer.Option("-n", metavar="N", help="With --legibility: how many texts (drawn at random with --seed).")] = 100,
    bias: Annotated[float, typer.Option("--bias", metavar="B", help="With --legibility: sampling bias.")] = DEFAULT_BIAS,
    style: Annotated[Optional[int], typer.Option("--style", metavar="N", help="With --legibility: built-in style. [default: the model's default]")] = None,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="With --legibility: seed of text choice and sampling.")] = 0,
    per_line: Annotated[bool, typer.Option("--per-line", help="With --legibility: print every text and what was read.")] = False,
) -> None:
    """Evaluate a model on a split dataset.

    A handwriting model: teacher-forced NLL per point and per sequence, pen-lift
    accuracy, attention alignment, KL (VAE). A recognizer: its character and word
    error rates. With --legibility: write texts with the model, read them back with
    the recognizer, and compare with the real ink of the same texts (docs/legibility.md).
    """
    if legibility:
        _evaluate_legibility(model, recognizer, data_dir, split_name, texts, count, bias, style, seed, as_json, per_line)
        return
    import json

    from scribe.training.checkpoint import load_model
    from scribe.training.data import StrokeDataset
    from scribe.training.evaluation import evaluate, evaluate_recognizer
    from scribe.training.trainer import pick_device
    from scribe.writing.registry import resolve_model

    torch_device = pick_device(device)
    loaded = load_model(resolve_model(model), torch_device)
    dataset = StrokeDataset(
        resolve_data_dir(data_dir), split_name, alphabet=loaded.alphabet, stats=(loaded.mean, loaded.std)
    )
    if loaded.checkpoint["kind"] == "recognizer":
        rates = evaluate_recognizer(loaded.model, dataset, batch_size=batch_size, device=torch_device)
        print(json.dumps(rates.to_dict()) if as_json else
              f"CER {rates.cer:.2f}%, WER {rates.wer:.2f}%, ctc {rates.ctc_per_char:.3f} nats/char [{rates.sequences} lines]")
        return

    def show_batch(number: int, result: EvalResult) -> None:
        print(_format_result(result, prefix=f"batch {number + 1}: "), flush=True)

    result = evaluate(loaded.model, dataset, batch_size=batch_size, device=torch_device,
                      on_batch=show_batch if per_batch else None)
    print(json.dumps(result.to_dict()) if as_json else _format_result(result))


def _evaluate_legibility(
    model: str, recognizer: str, data_dir: Optional[Path], split_name: str, texts_file: Optional[Path],
    count: int, bias: float, style: Optional[int], seed: int, as_json: bool, per_line: bool,
) -> None:
    import json

    from scribe.training.legibility import InkReader, dataset_lines, measure_legibility
    from scribe.writing.document import Scribe
    from scribe.writing.registry import resolve_model
    from scribe.writing.sampling import SamplingOptions

    if count < 1:
        raise ScribeError(f"-n {count}: give at least one text")
    with progress_bars("bytes") as bars:
        writer = Scribe(model, bar_when(bars, f"downloading {model}", 0))
        reader = InkReader(resolve_model(recognizer, bar_when(bars, f"downloading {recognizer}", 0)))
    if texts_file is not None:
        texts, real_lines = _texts_to_write(texts_file, writer.model.alphabet)[:count], None
    else:
        texts, real_lines = dataset_lines(resolve_data_dir(data_dir), count, seed, split_name)
    options = SamplingOptions(bias=bias, conditioning=writer.conditioning(style))
    with progress_bars("items") as bars:
        report = measure_legibility(writer.model, reader, texts, options, real_lines=real_lines, seed=seed,
                                    progress=bars("writing", len(texts)))
    if as_json:
        print(json.dumps(report.to_dict()))
        return
    if per_line:
        for line in report.lines:
            print(f"text:      {line.text}\ngenerated: {line.generated}" + ("" if line.finished else "   [did not end]")
                  + (f"\nreal:      {line.real}" if line.real is not None else "") + "\n")
    _print_legibility(report, model, recognizer)


def _texts_to_write(path: Path, alphabet: str) -> list[str]:
    """The non-empty lines of ``path``, fitted to the model's alphabet."""
    from scribe.ink.text import check_text, decode_input, fit_to_alphabet

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScribeError(f"cannot read --texts {path}: {exc.strerror}") from exc
    lines = [line.strip() for line in check_text(decode_input(data, str(path))).splitlines()]
    fitted = [fit_to_alphabet(line, alphabet)[0] for line in lines if line]
    if not fitted:
        raise ScribeError(f"--texts {path} has no text; give one text per line")
    return fitted


def _print_legibility(report: LegibilityReport, model: str, recognizer: str) -> None:
    print(f"legibility of {model}, read by {recognizer}, on {len(report.lines)} texts")
    print(f"  generated ink: CER {report.generated_cer:.1f}%, WER {report.generated_wer:.1f}%")
    if report.real_cer is not None:
        ratio = report.generated_cer / report.real_cer if report.real_cer else float("inf")
        print(f"  real ink:      CER {report.real_cer:.1f}%, WER {report.real_wer:.1f}%  (generated/real CER {ratio:.2f})")
    print(f"  completion:    {report.completion_rate:.1f}% of generated lines ended where their text ends")
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


@app.command("export")
def export_command(
    checkpoint: Annotated[Path, typer.Argument(metavar="CHECKPOINT", help="A training checkpoint (.pth).")],
    output: Annotated[Path, typer.Argument(metavar="OUT", help="The model file to write (.npz).")],
    styles: Annotated[Optional[str], typer.Option("--styles", metavar="IDS", help="Built-in styles, in order: comma-separated writer-style ids (0 = any writer).")] = None,
) -> None:
    """Turn a checkpoint into a portable float16 model file (.npz) that scribe loads fast."""
    from scribe.training.checkpoint import export_model_file, read_checkpoint

    if output.suffix != ".npz":
        raise ScribeError(f"model files end in .npz, not {output.suffix or '(none)'}; name the output like model.npz")
    loaded = read_checkpoint(checkpoint)
    chosen = _style_ids(styles, len(loaded.get("style_writers") or []))
    export_model_file({**loaded, "builtin_styles": chosen}, output)
    if loaded.get("kind") in ("graves", "vae"):
        from scribe.writing.document import calibrate_model_file

        advances = calibrate_model_file(output)
        stderr.print("style widths (x-heights per character): " + ", ".join(f"{a:.2f}" for a in advances), markup=False)
    stderr.print(f"wrote {output}", markup=False)


def _style_ids(text: Optional[str], count: int) -> Optional[list[int]]:
    if text is None:
        return None
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ScribeError(f"--styles {text!r}: give comma-separated style ids like 0,12,40") from None
    wrong = [i for i in ids if not 0 <= i <= count]
    if wrong or not ids:
        raise ScribeError(f"--styles: the model has styles 0 to {count}; {wrong or 'none given'} is not among them")
    return ids



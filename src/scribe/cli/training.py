"""``scribe train`` and ``scribe export``: training a model and turning it into a portable file (need PyTorch)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from scribe.cli.core import LOG_EVERY, app, rich_console, stderr
from scribe.datasets import split_dataset_dir
from scribe.errors import ScribeError
from scribe.training import require_torch
from scribe.training.options import architecture_default, option_default, resolve_options
from scribe.writing.stored import KINDS

if TYPE_CHECKING:
    from scribe.training.trainer import TrainEvent

#: Flags whose values go to the library under another name.
_OPTION_NAMES = {"data": "data_dir", "out": "out_dir"}


def _given(context: typer.Context) -> dict[str, Any]:
    """The options set on the command line (not left at their defaults), under the library's names."""
    given = {}
    for name, value in context.params.items():
        source = context.get_parameter_source(name)
        if name != "config" and source is not None and source.name != "DEFAULT":
            given[_OPTION_NAMES.get(name, name)] = value
    return given


def _draw_training(progress: Progress) -> Callable[[TrainEvent], None]:
    """Turn training events into a progress bar with loss, speed and ETA, and eval lines."""
    task = progress.add_task("training", total=None, loss="", visible=False)
    reading: dict[str, TaskID] = {}

    def on_event(event: TrainEvent) -> None:
        if event.kind == "read":
            _draw_reading(progress, reading, event)
        elif event.kind == "start":
            for done in reading.values():
                progress.remove_task(done)
            reading.clear()
            progress.update(task, total=event.total_steps, completed=event.step, visible=True)
        elif event.kind == "step":
            status = f"loss {event.loss:.3f}, {event.steps_per_second:.2f} steps/s"
            progress.update(task, completed=event.step, loss=status)
            if not stderr.is_terminal and event.step % LOG_EVERY == 0:  # a log file gets plain lines
                progress.console.print(f"step {event.step}/{event.total_steps}: {status}")
        elif event.kind == "eval" and "cer" in event.metrics:
            m = event.metrics
            progress.console.print(
                f"step {event.step}: val CER {m['cer']:.1f}%{_each(m, 'cer', '{:.1f}%')}, WER {m['wer']:.1f}%, "
                f"ctc {m['ctc_per_char']:.3f}/char", markup=False,
            )
        elif event.kind == "eval":
            m = event.metrics
            progress.console.print(
                f"step {event.step}: val nll {m['nll']:.1f} nats/seq{_each(m, 'nll', '{:.1f}')} ({m['nll_per_point']:.3f}/point), "
                f"pen-lift {m['pen_lift_accuracy']:.1f}%, alignment error {m['alignment_error']:.3f}"
                + _each(m, "alignment_error", "{:.3f}") + (f", kl {m['kl']:.2f}" if "kl" in m else ""), markup=False,
            )
        elif event.kind == "skip":
            progress.console.print(f"warning: {event.message}")
        elif event.kind == "note":
            progress.console.print(event.message, markup=False)

    return on_event


def _draw_reading(progress: Progress, reading: dict[str, TaskID], event: TrainEvent) -> None:
    """A bar per dataset and split while the data is read (transient: a refusal after it stays one line)."""
    if event.message not in reading:
        reading[event.message] = progress.add_task(f"reading {event.message}", total=event.total_steps, loss="")
    progress.update(reading[event.message], completed=event.step)


def _each(metrics: dict[str, Any], key: str, shown: str) -> str:
    """Each dataset's figure ``key`` after the combined one, `` (iam-ondb 0.038, unipen 0.052)``; nothing for one dataset."""
    datasets = metrics.get("datasets")
    if not datasets:
        return ""
    return " (" + ", ".join(f"{name} {shown.format(figures[key])}" for name, figures in datasets.items()) + ")"


@app.command(name="train")
def train_command(
    context: typer.Context,
    kind: Annotated[str, typer.Option("--kind", metavar="KIND", help="; ".join(f"{k.name}: {k.description}" for k in KINDS.values()) + ".")] = option_default("kind"),
    data: Annotated[list[Path] | None, typer.Option("--data", metavar="NAME|DIR", help="Split dataset: a name in the data dir (iam-ondb) or a split folder. Repeat to train on several; the first is the reference (its statistics for all, its validation score picks best.pth). [default: the one in the data dir]")] = None,
    mix: Annotated[str | None, typer.Option("--mix", metavar="NAME=W,...", help="Share of each --data dataset in an epoch's lines, e.g. iam-ondb=0.7,unipen=0.3 (normalized to sum 1). [default: proportional to their sizes]")] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR", help="Checkpoints and metrics. [default: runs/KIND]")] = None,
    epochs: Annotated[int, typer.Option("--epochs", metavar="N", help="Passes over the training data.")] = option_default("epochs"),
    max_steps: Annotated[int | None, typer.Option("--max-steps", metavar="N", help="Stop after N optimizer steps (instead of --epochs).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", metavar="N", help="Lines per batch.")] = option_default("batch_size"),
    lr: Annotated[float, typer.Option("--lr", metavar="RATE", help="Adam learning rate.")] = option_default("lr"),
    hidden: Annotated[int | None, typer.Option("--hidden", metavar="N", help=f"LSTM size. [default: {architecture_default('hidden')}]")] = None,
    layers: Annotated[int | None, typer.Option("--layers", metavar="N", help=f"LSTM layers. [default: {architecture_default('layers')}]")] = None,
    config: Annotated[Path | None, typer.Option("--config", metavar="FILE", help="TOML preset of training settings (flags win).")] = None,
    device: Annotated[str, typer.Option("--device", metavar="DEVICE", help="auto, cpu or cuda.")] = option_default("device"),
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Seed of initialization and data order.")] = option_default("seed"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/last.pth exactly where it stopped.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the run already in OUT (refused without it).")] = False,
    init_from: Annotated[Path | None, typer.Option("--init-from", metavar="PATH", help="Start from the weights of this checkpoint or model file (fine-tuning; characters and writers are matched, so the alphabet may grow).")] = None,
) -> None:
    """Train the Graves MDN-LSTM, the VAE or the handwriting recognizer on one or more split datasets.

    Writes OUT/best.pth (lowest validation NLL; for the recognizer, lowest character
    error rate), OUT/last.pth (resumable) and OUT/metrics.jsonl. Under torchrun the
    same command trains with DistributedDataParallel (NCCL on GPUs, gloo on CPUs).

    With several --data datasets, one alphabet covers all of them, every dataset is
    normalized with the first's statistics, writer styles are learned per (dataset,
    writer), and validation reports each dataset's figures beside the combined ones;
    best.pth follows the first dataset's score. In a --config preset:
    data = ["iam-ondb", "unipen"] and mix = {iam-ondb = 0.7, unipen = 0.3}.
    """
    require_torch()
    from scribe.training.kinds import TRAINING
    from scribe.training.trainer import train

    options = resolve_options(config, _given(context), lambda: split_dataset_dir())
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[loss]}"), TimeRemainingColumn()]
    is_main = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    with Progress(*columns, console=rich_console(), disable=not (is_main and stderr.is_terminal), transient=True) as progress:
        state = train(options, _draw_training(progress))
    best_path = options.out_dir / "best.pth"
    if is_main and best_path.is_file():
        best = TRAINING[options.kind].score.format(state.best_val)
        on = f" on {options.data_dir[0].resolve().name}" if len(options.data_dir) > 1 else ""
        stderr.print(f"done at step {state.step}: best validation {best}{on}; {best_path}")
    elif is_main:
        stderr.print(f"done at step {state.step}: validation never gave a finite figure, so there is no best.pth; "
                     f"the last weights are {options.out_dir / 'last.pth'}")


@app.command("export")
def export_command(
    checkpoint: Annotated[Path, typer.Argument(metavar="CHECKPOINT", help="A training checkpoint (.pth).")],
    output: Annotated[Path, typer.Argument(metavar="OUT", help="The model file to write (.npz).")],
    styles: Annotated[str | None, typer.Option("--styles", metavar="IDS", help="Built-in styles, in order: comma-separated writer-style ids (0 = any writer).")] = None,
) -> None:
    """Turn a checkpoint into a portable float16 model file (.npz) that scribe loads fast."""
    require_torch()
    from scribe.training.checkpoint import export_model_file

    model = export_model_file(checkpoint, output, _style_ids(styles))
    if model.style_advances:
        widths = ", ".join(f"{a:.2f}" for a in model.style_advances)
        stderr.print(f"style widths (x-heights per character): {widths}")
    stderr.print(f"wrote {output}")


def _style_ids(text: str | None) -> list[int] | None:
    """``--styles 0,12,40`` as a list of ids (None when not given)."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ScribeError(f"--styles {text!r}: give comma-separated style ids like 0,12,40") from None
